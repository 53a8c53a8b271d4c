import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;

import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.SignedJWT;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceLock;

/** User-restricted access with separate authentication: an ID token exchanged at the token endpoint. */
class TokenExchangeTest {

    /** Shaped like an ID token; the client sends it as it is, and only the mock judges it. */
    static final String ID_TOKEN = "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI5OTk5In0.c2lnbmF0dXJl";
    static final String REFRESH = "refresh-secret-42";

    @TempDir
    static Path dir;
    static Path pem;
    static Path idTokenFile;

    /** A mock of its own: it also trusts the ID tokens of {@link #IDP}, an identity provider's key, by its JWKS file. */
    static MockIdentityService mock;
    static final KeyPair IDP = TestFixture.otherKeyPair();
    static final String IDP_KID = "idp-1";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void keyAndToken() throws Exception {
        pem = TestFixture.key(dir, "exchange-1");
        idTokenFile = Files.writeString(dir.resolve("id-token.jwt"), ID_TOKEN + "\n");
        Path idpJwks = Files.writeString(dir.resolve("idp.json"), new JWKSet(new RSAKey.Builder((RSAPublicKey) IDP.getPublic())
                .keyID(IDP_KID).algorithm(JWSAlgorithm.RS512).build()).toString());
        mock = MockIdentityService.start("127.0.0.1", 0, List.of(new MockIdentityService.App("exchange-app",
                dir.resolve("exchange-1.json").toString(), true)), 3600, null, false, List.of(idpJwks.toString()));
    }

    @AfterAll
    static void stop() {
        mock.close();
    }

    /** The token endpoint's answer to an exchange, every value a string, as §9 shows it. */
    static FakeServer.Reply exchanged(String token) {
        return FakeServer.Reply.json(200, "{\"access_token\": \"" + token + "\", \"expires_in\": \"599\", "
                + "\"token_type\": \"Bearer\", \"issued_token_type\": \"urn:ietf:params:oauth:token-type:access_token\", "
                + "\"refresh_token\": \"" + REFRESH + "\", \"refresh_token_expires_in\": \"3599\", \"refresh_count\": \"0\"}");
    }

    static TestSupport.Result run(Object command, FakeServer server, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "my-api-key", "--private-key", pem.toString(),
                "--token-url", server.url("/oauth2/token")));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(command, args.toArray(String[]::new));
    }

    /** Neither the subject token nor the refresh token appears in anything printed. */
    static void assertSecretsKept(String printed) {
        assertFalse(printed.contains(ID_TOKEN) || printed.contains(ID_TOKEN.substring(ID_TOKEN.lastIndexOf('.'))),
                () -> "the subject token was printed:\n" + printed);
        assertFalse(printed.contains(REFRESH), () -> "the refresh token was printed:\n" + printed);
    }

    // ------------------------------------------------------------------ the client side

    @Test
    void theExchangeSendsExactlyTheFiveFieldsAndJsonAddsTheRefreshFields() throws Exception {
        try (FakeServer server = new FakeServer(r -> exchanged("user-token-1"))) {
            TestSupport.Result r = run(new GetToken(), server, "--subject-token", idTokenFile.toString(),
                    "--format", "json", "--verbose").assertOk();
            Map<String, String> form = server.requests.get(0).form();
            assertEquals(List.of("grant_type", "subject_token_type", "subject_token", "client_assertion_type",
                    "client_assertion"), List.copyOf(form.keySet()));
            assertEquals("urn:ietf:params:oauth:grant-type:token-exchange", form.get("grant_type"));
            assertEquals("urn:ietf:params:oauth:token-type:id_token", form.get("subject_token_type"));
            assertEquals(ID_TOKEN, form.get("subject_token"), "the file's token, its newline dropped");
            assertEquals("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", form.get("client_assertion_type"));
            SignedJWT assertion = SignedJWT.parse(form.get("client_assertion"));
            assertTrue(assertion.verify(new RSASSAVerifier(NhsKeys.publicKeyOf(NhsKeys.readPrivateKey(pem, null)))));
            assertEquals("my-api-key", assertion.getJWTClaimsSet().getIssuer());

            Map<String, Object> json = TestSupport.parseJson(r.out());
            assertEquals("user-token-1", json.get("access_token"));
            assertEquals(REFRESH, json.get("refresh_token"), "json prints what was asked for");
            assertEquals(3599L, ((Number) json.get("refresh_token_expires_in")).longValue());
            assertEquals("urn:ietf:params:oauth:token-type:access_token", json.get("issued_token_type"));
            assertSecretsKept(r.err());
        }
    }

    @Test
    void textSaysARefreshTokenCameBackWithoutShowingIt() throws Exception {
        try (FakeServer server = new FakeServer(r -> exchanged("user-token-2"))) {
            TestSupport.Result r = run(new GetToken(), server, "--subject-token", idTokenFile.toString()).assertOk();
            assertTrue(r.out().contains("Access token: user-token-2"), r.out());
            assertTrue(r.out().contains("Refresh token: received (not shown"), r.out());
            assertSecretsKept(r.out() + r.err());
            assertEquals("user-token-2\n", run(new GetToken(), server, "--subject-token", idTokenFile.toString(),
                    "--format", "token").assertOk().out());
        }
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("app-token"))) {
            TestSupport.Result app = run(new GetToken(), server).assertOk();
            assertFalse(app.out().contains("Refresh"), "no exchange, no refresh line: " + app.out());
            assertFalse(TestSupport.parseJson(run(new GetToken(), server, "--format", "json").assertOk().out())
                    .containsKey("refresh_token"));
        }
    }

    @Test
    @ResourceLock("java.lang.System.in")
    void aDashReadsTheTokenFromStdin() throws Exception {
        InputStream stdin = System.in;
        try (FakeServer server = new FakeServer(r -> exchanged("from-stdin"))) {
            System.setIn(new ByteArrayInputStream((ID_TOKEN + "\r\n").getBytes(StandardCharsets.UTF_8)));
            run(new GetToken(), server, "--subject-token", "-", "--format", "token").assertOk();
            assertEquals(ID_TOKEN, server.requests.get(0).form().get("subject_token"));
            System.setIn(new ByteArrayInputStream(new byte[0]));
            run(new GetToken(), server, "--subject-token", "-").assertOneLineError(2, "--subject-token '-' is empty");
        } finally {
            System.setIn(stdin);
        }
    }

    @Test
    void theVariableHoldsTheTokenItselfForCommandsAndLibraryAlike() throws Exception {
        try (FakeServer server = new FakeServer(r -> exchanged("from-variable"))) {
            Object command = ProxyTest.withVariables(new GetToken(), Map.of("NHS_SUBJECT_TOKEN", ID_TOKEN));
            run(command, server, "--format", "token").assertOk();
            assertEquals(ID_TOKEN, server.requests.get(0).form().get("subject_token"));
            // A typed option wins over the variable.
            Path other = Files.writeString(dir.resolve("other.jwt"), "a.b.c");
            run(ProxyTest.withVariables(new GetToken(), Map.of("NHS_SUBJECT_TOKEN", ID_TOKEN)), server,
                    "--subject-token", other.toString()).assertOk();
            assertEquals("a.b.c", server.requests.get(1).form().get("subject_token"));

            AccessToken token = NhsClient.builder().fromEnvironment(Map.of("NHS_API_KEY", "k", "NHS_PRIVATE_KEY",
                    pem.toString(), "NHS_TOKEN_URL", server.url("/oauth2/token"), "NHS_SUBJECT_TOKEN", ID_TOKEN))
                    .notices(null).build().requestToken();
            assertEquals(ID_TOKEN, server.requests.get(2).form().get("subject_token"));
            assertEquals(REFRESH, token.refreshToken());
            assertFalse(token.toString().contains(REFRESH), token.toString());
            assertEquals("NHS_SUBJECT_TOKEN", NhsCommands.variableFor("--subject-token"));
            assertNull(NhsCommands.optionDefault("--subject-token", Map.of("NHS_SUBJECT_TOKEN", ID_TOKEN)),
                    "the variable is the token, never taken for the option's file name");
        }
    }

    @Test
    void badSubjectTokensAreOneLineExit2AndNeverQuoted() throws Exception {
        try (FakeServer server = new FakeServer(r -> exchanged("never"))) {
            Path empty = Files.writeString(dir.resolve("empty.jwt"), " \n");
            run(new GetToken(), server, "--subject-token", empty.toString()).assertOneLineError(2, "is empty");
            run(new GetToken(), server, "--subject-token", dir.resolve("missing.jwt").toString())
                    .assertOneLineError(2, "--subject-token", "does not exist");
            String wrapped = "{\"id_token\": \"" + ID_TOKEN + "\"}";
            Path json = Files.writeString(dir.resolve("wrapped.json"), wrapped);
            TestSupport.Result r = run(new GetToken(), server, "--subject-token", json.toString())
                    .assertOneLineError(2, "not a JWT", "--subject-token / NHS_SUBJECT_TOKEN");
            assertSecretsKept(r.err());
            run(ProxyTest.withVariables(new GetToken(), Map.of("NHS_SUBJECT_TOKEN", "not a token")), server)
                    .assertOneLineError(2, "not a JWT");
            // The token itself where its file goes (ps would show it), and a file far too big for an ID token.
            assertSecretsKept(run(new GetToken(), server, "--subject-token", ID_TOKEN)
                    .assertOneLineError(2, "--subject-token takes a file, or - for stdin, not the token itself").err());
            assertSecretsKept(run(new GetToken(), server, "--subject-token", ID_TOKEN + ".x")
                    .assertOneLineError(2, "not the token itself").err());
            Path huge = Files.write(dir.resolve("huge.jwt"), new byte[70_000]);
            run(new GetToken(), server, "--subject-token", huge.toString()).assertOneLineError(2, "over 65536 bytes");
            assertTrue(server.requests.isEmpty(), "nothing is sent");
            UsageException e = assertThrows(UsageException.class, () -> NhsClient.builder().subjectToken("x.y"));
            assertTrue(e.getMessage().contains("NHS_SUBJECT_TOKEN / subjectToken"), e.getMessage());
        }
    }

    @Test
    void aRefusedSubjectTokenGetsAHintAboutTheIdTokenAndIsNotQuoted() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.nhsError(400, "invalid_request",
                "Invalid 'exp' claim in subject_token JWT - JWT has expired"))) {
            TestSupport.Result r = run(new GetToken(), server, "--subject-token", idTokenFile.toString())
                    .assertOneLineErrorWithHint(3, "subject_token JWT - JWT has expired");
            assertTrue(r.err().contains("hint: the ID token given with --subject-token / NHS_SUBJECT_TOKEN was refused"),
                    r.err());
            assertSecretsKept(r.err());
        }
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.nhsError(401, "public_key error",
                "JWT signature verification failed"))) {
            TestSupport.Result r = run(new GetToken(), server, "--subject-token", idTokenFile.toString())
                    .assertOneLineErrorWithHint(3, "JWT signature verification failed");
            assertTrue(r.err().contains("; or the ID token's signature is not its identity provider's"), r.err());
            assertFalse(run(new GetToken(), server).err().contains("ID token"), "no exchange, no word of one");
        }
    }

    @Test
    void theCacheKeysAnExchangedTokenOnTheSubjectTokenNeverStoredInClear() throws Exception {
        Path cache = dir.resolve("cache");
        Path otherFile = Files.writeString(dir.resolve("other-user.jwt"), "b.c.d");
        int[] issued = {0};
        try (FakeServer server = new FakeServer(r -> exchanged("cached-" + ++issued[0]))) {
            String[] cached = {"--token-cache", "--token-cache-dir", cache.toString(), "--format", "json"};
            String[] user1 = Stream.concat(Stream.of("--subject-token", idTokenFile.toString()), Stream.of(cached))
                    .toArray(String[]::new);
            Map<String, Object> first = TestSupport.parseJson(run(new GetToken(), server, user1).assertOk().out());
            Map<String, Object> again = TestSupport.parseJson(run(new GetToken(), server, user1).assertOk().out());
            assertEquals(1, server.requests.size(), "the same subject token reuses the cached token");
            assertEquals(first, again, "the refresh fields come back from the cache too");
            String[] user2 = Stream.concat(Stream.of("--subject-token", otherFile.toString()), Stream.of(cached))
                    .toArray(String[]::new);
            assertEquals("cached-2", TestSupport.parseJson(run(new GetToken(), server, user2).assertOk().out())
                    .get("access_token"), "another subject token is another token");
            assertEquals("cached-3", TestSupport.parseJson(run(new GetToken(), server, cached).assertOk().out())
                    .get("access_token"), "no subject token is the app's own token");
            assertEquals(3, server.requests.size());
            try (Stream<Path> files = Files.list(cache)) {
                for (Path f : files.toList()) {
                    String stored = Files.readString(f);
                    assertFalse(stored.contains(ID_TOKEN) || stored.contains("b.c.d"), "subject token in clear: " + stored);
                }
            }
        }
    }

    @Test
    void callApiAndDoctorTakeTheSameOption() throws Exception {
        try (FakeServer server = new FakeServer(r -> r.uri().startsWith("/oauth2/token") ? exchanged("for-the-api")
                : FakeServer.Reply.json(200, "{\"ok\": true}"))) {
            run(new CallApi(), server, "--subject-token", idTokenFile.toString(), "--url", server.url("/api")).assertOk();
            assertEquals(ID_TOKEN, server.requests.get(0).form().get("subject_token"));
            assertEquals("Bearer for-the-api", server.requests.get(1).header("Authorization"));

            TestSupport.Result doctor = run(new Doctor(), server, "--subject-token", idTokenFile.toString());
            assertTrue(doctor.out().contains("for the ID token (not shown)"), doctor.out());
            List<FakeServer.Request> posts = server.requests.stream().filter(q -> q.method().equals("POST")).toList();
            assertEquals(ID_TOKEN, posts.get(posts.size() - 1).form().get("subject_token"), "doctor exchanged the ID token");
            assertSecretsKept(doctor.out() + doctor.err());

            // Calling as the app when the user meant to call as the signed-in user would mislead the API's audit trail.
            int sent = server.requests.size();
            run(new CallApi(), server, "--auth", "api-key", "--subject-token", idTokenFile.toString(), "--url",
                    server.url("/api")).assertOneLineError(2, "only with the signed-jwt pattern, not api-key");
            assertEquals(sent, server.requests.size(), "nothing is sent");
        }
    }

    // ------------------------------------------------------------------ the mock's side

    static String b64(Object json) {
        String text = json instanceof Map<?, ?> m ? JSONObjectUtils.toJSONString(castMap(m)) : String.valueOf(json);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> castMap(Map<?, ?> m) {
        return (Map<String, Object>) m;
    }

    /** A JWT with exactly this header and these claims, RS512-signed by {@code key}: for tokens no library would make. */
    static String jwt(Map<String, Object> header, Map<String, Object> claims, KeyPair key) throws Exception {
        String input = b64(header) + "." + b64(claims);
        Signature rs512 = Signature.getInstance("SHA512withRSA");
        rs512.initSign(key.getPrivate());
        rs512.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(rs512.sign());
    }

    /** An ID token as NHS login would sign it: every check passes when {@link #IDP} signs it. */
    static Map<String, Object> idpHeader() {
        return new LinkedHashMap<>(Map.of("alg", "RS512", "typ", "JWT", "kid", IDP_KID));
    }

    static Map<String, Object> idpClaims() {
        return new LinkedHashMap<>(Map.of("iss", "https://auth.sandpit.signin.nhs.uk", "sub", "user-1",
                "aud", "the-app", "exp", System.currentTimeMillis() / 1000 + 300));
    }

    static String assertion() {
        return NhsClient.builder().apiKey("exchange-app").privateKey(pem, null).tokenUrl(mock.tokenUrl()).notices(null)
                .build().clientAssertion();
    }

    /** The exchange form with these fields replaced (null: left out), in the order the client sends it. */
    static Map<String, String> exchangeForm(String... changes) {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange");
        form.put("subject_token_type", "urn:ietf:params:oauth:token-type:id_token");
        form.put("subject_token", null);
        form.put("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        form.put("client_assertion", null);
        for (int i = 0; i < changes.length; i += 2) {
            form.put(changes[i], changes[i + 1]);
        }
        return form;
    }

    static HttpResponse<String> post(Map<String, String> form) throws Exception {
        StringBuilder body = new StringBuilder();
        form.forEach((k, v) -> {
            if (v != null) {
                body.append(body.length() == 0 ? "" : "&").append(k).append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8));
            }
        });
        return HTTP.send(HttpRequest.newBuilder(URI.create(mock.tokenUrl()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A good exchange form for this subject token, with a fresh client assertion. */
    static HttpResponse<String> exchange(String subjectToken, String... changes) throws Exception {
        List<String> all = new ArrayList<>(List.of("subject_token", subjectToken, "client_assertion", assertion()));
        all.addAll(java.util.Arrays.asList(changes));
        return post(exchangeForm(all.toArray(String[]::new)));
    }

    static void assertRefused(HttpResponse<String> r, int status, String error, String description) {
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals(List.of(status, error, description), List.of(r.statusCode(), body.get("error"), body.get("error_description")),
                r.body());
        assertEquals(Set.of("error", "error_description", "message_id"), body.keySet());
    }

    @Test
    void theMockExchangesATrustedIdTokenWithExactlyTheServicesAnswer() throws Exception {
        HttpResponse<String> r = exchange(jwt(idpHeader(), idpClaims(), IDP));
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals(Set.of("access_token", "expires_in", "token_type", "issued_token_type", "refresh_token",
                "refresh_token_expires_in", "refresh_count"), body.keySet(), "these keys only, no issued_at");
        body.values().forEach(v -> assertTrue(v instanceof String, "every value a string: " + r.body()));
        assertEquals(List.of("599", "Bearer", "urn:ietf:params:oauth:token-type:access_token", "3599", "0"),
                List.of(body.get("expires_in"), body.get("token_type"), body.get("issued_token_type"),
                        body.get("refresh_token_expires_in"), body.get("refresh_count")));
        HttpResponse<String> hello = HTTP.send(HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/hello-world/hello/application"))
                .header("Authorization", "Bearer " + body.get("access_token")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, hello.statusCode(), "the exchanged token opens the API");
    }

    @Test
    void theExchangeFormsChecksEachWithTheServicesOwnStrings() throws Exception {
        String good = jwt(idpHeader(), idpClaims(), IDP);
        String type = "Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        String subjectType = "missing or invalid subject_token_type - must be 'urn:ietf:params:oauth:token-type:id_token'";
        assertRefused(exchange(good, "grant_type", null), 400, "invalid_request", "grant_type is invalid");
        assertRefused(exchange(good, "grant_type", "password"), 400, "invalid_request", "grant_type is invalid");
        HttpResponse<String> credentials = exchange(good, "grant_type", "client_credentials");
        assertFalse(TestSupport.parseJson(credentials.body()).containsKey("refresh_token"),
                "client credentials, the subject token ignored: " + credentials.body());
        assertRefused(exchange(good, "subject_token_type", null), 400, "invalid_request", subjectType);
        assertRefused(exchange(good, "subject_token_type", "urn:ietf:params:oauth:token-type:access_token"), 400,
                "invalid_request", subjectType);
        assertRefused(exchange(good, "client_assertion_type", null), 400, "invalid_request", type);
        assertRefused(exchange(good, "client_assertion_type", "jwt"), 400, "invalid_request", type);
        assertRefused(exchange(good, "subject_token", null), 400, "invalid_request", "Missing client_assertion");
        assertRefused(exchange("not-a-jwt"), 400, "invalid_request", "Malformed JWT in client_assertion");
        assertRefused(exchange(good, "client_assertion", null), 400, "invalid_request", "Missing client_assertion");
        assertRefused(exchange(good, "client_assertion", "a.b"), 400, "invalid_request", "Malformed JWT in client_assertion");
        // A form without any exchange field is still client credentials, with its own strings (rows 4 and 5).
        assertRefused(post(Map.of("client_assertion_type", "x")), 400, "invalid_request", "grant_type is missing");
    }

    @Test
    void theClientAssertionIsJudgedFirstAsForClientCredentialsJtiIncluded() throws Exception {
        Map<String, Object> noKid = idpHeader();
        noKid.remove("kid");
        String badSubject = jwt(noKid, idpClaims(), IDP);
        String otherAud = NhsClient.builder().apiKey("exchange-app").privateKey(pem, null).tokenUrl(mock.baseUrl() + "/elsewhere")
                .notices(null).build().clientAssertion();
        assertRefused(exchange(badSubject, "client_assertion", otherAud), 401, "invalid_request",
                "Missing or invalid 'aud' claim in client_assertion JWT");
        String once = assertion();
        assertEquals(200, exchange(jwt(idpHeader(), idpClaims(), IDP), "client_assertion", once).statusCode());
        assertRefused(exchange(jwt(idpHeader(), idpClaims(), IDP), "client_assertion", once), 400, "invalid_request",
                "Non-unique 'jti' claim in client_assertion JWT");
    }

    /** Every subject-token check in the reference's order: with all broken, each fix reveals the next. */
    @Test
    void theSubjectTokensChecksComeInTheReferencesOrder() throws Exception {
        Map<String, Object> header = new LinkedHashMap<>(Map.of("typ", "JOSE"));
        Map<String, Object> claims = new LinkedHashMap<>(Map.of("sub", "user-1"));
        String[][] expected = {
                {"400", "Missing 'kid' header in subject_token JWT"},
                {"400", "Invalid 'typ' header in subject_token JWT - must be 'JWT'"},
                {"400", "Missing 'alg' header in subject_token JWT"},
                {"400", "Missing 'exp' claim in subject_token JWT"},
                {"400", "Invalid 'exp' claim in subject_token JWT - must be an integer"},
                {"400", "Invalid 'exp' claim in subject_token JWT - JWT has expired"},
                {"400", "Missing 'iss' claim in subject_token JWT"},
                {"401", "Missing 'aud' claim in subject_token JWT"}};
        List<Runnable> fixes = List.of(() -> header.put("kid", IDP_KID), () -> header.put("typ", "jwt"),
                () -> header.put("alg", "RS512"), () -> claims.put("exp", "soon"),
                () -> claims.put("exp", System.currentTimeMillis() / 1000 - 60),
                () -> claims.put("exp", System.currentTimeMillis() / 1000 + 300),
                () -> claims.put("iss", "https://am.nhsint.auth-ptl.cis2.spineservices.nhs.uk:443/openam/oauth2/realms/root"
                        + "/realms/NHSIdentity/realms/Healthcare"), () -> claims.put("aud", "the-app"));
        for (int i = 0; i < expected.length; i++) {
            assertRefused(exchange(jwt(header, claims, IDP)), Integer.parseInt(expected[i][0]), "invalid_request", expected[i][1]);
            fixes.get(i).run();
        }
        assertEquals(200, exchange(jwt(header, claims, IDP)).statusCode(), "every check passed: a CIS2-shaped token");
    }

    @Test
    void aSubjectTokenFromAnUntrustedKeyOrIssuerIsRefused() throws Exception {
        String refused = "JWT signature verification failed";
        assertRefused(exchange(jwt(idpHeader(), idpClaims(), TestFixture.keyPair())), 401, "public_key error", refused);
        Map<String, Object> unknownKid = idpHeader();
        unknownKid.put("kid", "someone-else-1");
        assertRefused(exchange(jwt(unknownKid, idpClaims(), TestFixture.keyPair())), 401, "public_key error", refused);
        Map<String, Object> otherIssuer = idpClaims();
        otherIssuer.put("iss", "https://idp.example.org");
        assertRefused(exchange(jwt(idpHeader(), otherIssuer, IDP)), 401, "public_key error", refused);
        Map<String, Object> rs256 = idpHeader();
        rs256.put("alg", "RS256");
        assertRefused(exchange(jwt(rs256, idpClaims(), IDP)), 401, "public_key error", refused);
        for (String alg : List.of("none", "HS256")) {
            Map<String, Object> unsigned = idpHeader();
            unsigned.put("alg", alg);
            assertRefused(exchange(jwt(unsigned, idpClaims(), IDP)), 401, "public_key error", refused);
        }
        Map<String, Object> numberKid = idpHeader();
        numberKid.put("kid", 5);
        assertRefused(exchange(jwt(numberKid, idpClaims(), IDP)), 401, "public_key error", refused);
        // The shared mock was given no ID-token JWKS: it trusts only its own test issuer.
        HttpResponse<String> shared = HTTP.send(HttpRequest.newBuilder(URI.create(TestFixture.mock().tokenUrl()))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(
                        "grant_type=" + URLEncoder.encode("urn:ietf:params:oauth:grant-type:token-exchange", StandardCharsets.UTF_8)
                        + "&subject_token_type=" + URLEncoder.encode("urn:ietf:params:oauth:token-type:id_token", StandardCharsets.UTF_8)
                        + "&subject_token=" + jwt(idpHeader(), idpClaims(), IDP)
                        + "&client_assertion_type=" + URLEncoder.encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                StandardCharsets.UTF_8)
                        + "&client_assertion=" + TestFixture.client().build().clientAssertion())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertRefused(shared, 401, "public_key error", refused);
    }

    static Map<String, Object> idTokenFromMock(String provider, String subject) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/mock/id-token?subject="
                + subject + "&provider=" + provider)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals(Set.of("id_token"), body.keySet());
        return body;
    }

    @Test
    void theMocksTestIssuerSignsIdTokensShapedLikeEachProvidersThatItsExchangeTakes() throws Exception {
        for (String provider : List.of("cis2", "nhs-login")) {
            String idToken = (String) idTokenFromMock(provider, "555254242106").get("id_token");
            SignedJWT jwt = SignedJWT.parse(idToken);
            assertEquals(Set.of("alg", "typ", "kid"), jwt.getHeader().toJSONObject().keySet());
            assertEquals(JWSAlgorithm.RS512, jwt.getHeader().getAlgorithm());
            Map<String, Object> claims = jwt.getJWTClaimsSet().toJSONObject();
            assertEquals("555254242106", claims.get("sub"));
            assertTrue(claims.get("aud") != null && claims.get("exp") instanceof Number, claims.toString());
            if (provider.equals("cis2")) {
                assertTrue(((String) claims.get("iss")).contains("NHSIdentity"), claims.toString());
                assertEquals(List.of("AAL3_ANY", List.of("N3_SMARTCARD"), "id_token"),
                        List.of(claims.get("acr"), claims.get("amr"), claims.get("tokenName")));
            } else {
                assertEquals("https://auth.sandpit.signin.nhs.uk", claims.get("iss"));
                assertEquals(List.of("P9", "id"), List.of(claims.get("identity_proofing_level"), claims.get("token_use")));
                assertTrue(claims.containsKey("vot"), claims.toString());
            }
            Path file = Files.writeString(dir.resolve(provider + ".jwt"), idToken);
            Map<String, Object> json = TestSupport.parseJson(TestSupport.runInProcess(new GetToken(), "--api-key", "exchange-app",
                    "--private-key", pem.toString(), "--token-url", mock.tokenUrl(), "--subject-token", file.toString(),
                    "--format", "json").assertOk().out());
            assertTrue(json.get("refresh_token") instanceof String, json.toString());
        }
        HttpResponse<String> bad = HTTP.send(HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/mock/id-token?subject=x"
                + "&provider=google")).build(), HttpResponse.BodyHandlers.ofString());
        assertRefused(bad, 400, "invalid_request", "give subject=ID and provider=cis2 or provider=nhs-login");
        HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create(mock.baseUrl() + "/mock/id-token?subject=x"
                + "&provider=cis2")).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        // Checked before it listens (a host that cannot be resolved would be the next error, never a server left running).
        TestSupport.runInProcess(new MockServer(), "--app", "k", "--host", "no-such-host.invalid", "--id-token-jwks",
                dir.resolve("missing.json").toString()).assertOneLineError(2, "missing.json");
        TestSupport.runInProcess(new MockServer(), "--app", "k", "--host", "no-such-host.invalid", "--id-token-jwks",
                "ftp://idp.example.org/jwks").assertOneLineError(2, "--id-token-jwks", "must start with https://");
    }
}
