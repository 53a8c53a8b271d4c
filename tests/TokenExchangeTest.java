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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.SignedJWT;

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

    @BeforeAll
    static void keyAndToken() throws Exception {
        pem = TestFixture.key(dir, "exchange-1");
        idTokenFile = Files.writeString(dir.resolve("id-token.jwt"), ID_TOKEN + "\n");
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
        }
    }
}
