import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * mock-server in-process: the token endpoint row by row, the sample API, JWKS sources, the CLI.
 * The timeout only catches a hang, and stays below the 300 s that each assertion here lives.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class MockServerTest {

    static final String KID = "test-1";
    static final String APP = "app-key-1";
    static final String FORM = "application/x-www-form-urlencoded";
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /** The reference's error table (shared/NHS-SIGNED-JWT.md, section 4), copied by hand: status, error, description. */
    static final Map<Integer, List<Object>> ROWS = Map.ofEntries(
            Map.entry(1, List.of(404, "invalid_request", "Not Found")),
            Map.entry(3, List.of(415, "invalid_request",
                    "Content-Type header must be application/x-www-form-urlencoded")),
            Map.entry(4, List.of(400, "invalid_request", "grant_type is missing")),
            Map.entry(5, List.of(400, "unsupported_grant_type", "grant_type is invalid")),
            Map.entry(6, List.of(400, "invalid_request", "Missing or invalid client_assertion_type - must be "
                    + "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'")),
            Map.entry(7, List.of(400, "invalid_request", "Missing client_assertion")),
            Map.entry(8, List.of(400, "invalid_request", "Malformed JWT in client_assertion")),
            Map.entry(9, List.of(400, "invalid_request",
                    "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'")),
            Map.entry(10, List.of(400, "invalid_request", "Invalid 'exp' claim in client_assertion JWT - JWT has expired")),
            Map.entry(11, List.of(400, "invalid_request", "Missing 'kid' header in client_assertion JWT")),
            Map.entry(12, List.of(400, "invalid_request", "Invalid 'typ' header in client_assertion JWT - must be 'JWT'")),
            Map.entry(13, List.of(400, "invalid_request", "Missing 'exp' claim in client_assertion JWT")),
            Map.entry(14, List.of(400, "invalid_request",
                    "Invalid 'exp' claim in client_assertion JWT - must be an integer")),
            Map.entry(15, List.of(400, "invalid_request",
                    "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT")),
            Map.entry(16, List.of(400, "invalid_request", "Missing 'jti' claim in client_assertion JWT")),
            Map.entry(17, List.of(400, "invalid_request",
                    "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID")),
            Map.entry(18, List.of(400, "invalid_request", "Non-unique 'jti' claim in client_assertion JWT")),
            Map.entry(19, List.of(400, "invalid_request",
                    "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future")),
            Map.entry(20, List.of(401, "invalid_request", "Invalid 'iss'/'sub' claims in client_assertion JWT")),
            Map.entry(21, List.of(403, "public_key error", "You need to register a public key to use this "
                    + "authentication method - please contact support to configure")),
            Map.entry(22, List.of(403, "public_key error", "The JWKS endpoint, for your client_assertion can't be reached")),
            Map.entry(23, List.of(401, "invalid_request",
                    "Invalid 'kid' header in client_assertion JWT - no matching public key")),
            Map.entry(24, List.of(401, "public_key error", "JWT signature verification failed")),
            Map.entry(25, List.of(401, "invalid_request", "Missing or invalid 'aud' claim in client_assertion JWT")),
            Map.entry(26, List.of(401, "unauthorized_client", "you have tried to request authorization but your "
                    + "application is not configured to use this authorization grant type")));

    static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    static final KeyPair keys = TestFixture.keyPair();
    static final KeyPair otherKeys = TestFixture.otherKeyPair();

    @TempDir
    Path dir;

    Path jwksFile;
    MockIdentityService server;
    final StringWriter log = new StringWriter();
    final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void startServer() throws IOException {
        jwksFile = writeJwks("app.json", keys.getPublic(), KID);
        server = start(List.of(
                new MockIdentityService.App(APP, jwksFile.toString(), true),
                new MockIdentityService.App("second-app", jwksFile.toString(), true),
                new MockIdentityService.App("keyless-app", null, true),
                new MockIdentityService.App("level-2-app", jwksFile.toString(), false)), 3600);
    }

    @AfterEach
    void closeEverything() throws Exception {
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            c.close();
        }
    }

    MockIdentityService start(List<MockIdentityService.App> apps, long cacheSeconds) throws IOException {
        MockIdentityService s = MockIdentityService.start("127.0.0.1", 0, apps, cacheSeconds, new PrintWriter(log, true));
        toClose.add(s);
        return s;
    }

    // ------------------------------------------------------------------ success and the sample API

    @Test
    void aHandAssembledAssertionGetsATokenThatOpensTheSampleApi() throws Exception {
        long exp = System.currentTimeMillis() / 1000 + 300;
        String header = "{\"alg\":\"RS512\",\"typ\":\"JWT\",\"kid\":\"" + KID + "\"}";
        String payload = "{\"iss\":\"" + APP + "\",\"sub\":\"" + APP + "\",\"aud\":\"" + server.tokenUrl()
                + "\",\"jti\":\"" + UUID.randomUUID() + "\",\"exp\":" + exp + "}";
        String signingInput = b64(header.getBytes(StandardCharsets.UTF_8)) + "."
                + b64(payload.getBytes(StandardCharsets.UTF_8));
        Signature signer = Signature.getInstance("SHA512withRSA");
        signer.initSign(keys.getPrivate());
        signer.update(signingInput.getBytes(StandardCharsets.US_ASCII));
        String jwt = signingInput + "." + b64(signer.sign());

        long before = System.currentTimeMillis();
        HttpResponse<String> r = requestToken(jwt);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals(Set.of("access_token", "expires_in", "token_type", "issued_at"), body.keySet());
        body.values().forEach(v -> assertTrue(v instanceof String, "every value a JSON string: " + r.body()));
        assertEquals("599", body.get("expires_in"));
        assertEquals("Bearer", body.get("token_type"));
        long issuedAt = Long.parseLong((String) body.get("issued_at"));
        assertTrue(issuedAt >= before && issuedAt <= System.currentTimeMillis(), "issued_at in epoch ms");
        String token = (String) body.get("access_token");
        assertTrue(token.matches("[A-Za-z0-9_-]{22,}"), "URL-safe, at least 128 bits: " + token);
        assertEquals(1, server.liveTokenCount());

        HttpResponse<String> hello = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
                + "/hello-world/hello/application")).header("Authorization", "Bearer " + token).build(), utf8());
        assertEquals(200, hello.statusCode(), hello.body());
        assertEquals(Map.of("message", "Hello Application!"), TestSupport.parseJson(hello.body()));

        HttpResponse<String> echo = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/echo/a/b?x=1&y=2"))
                .header("Authorization", "Bearer " + token)
                .header("X-Request-ID", "60E0B220-8136-4CA5-AE46-1D97EF59D068")
                .header("X-Correlation-ID", "my-trace-1")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"hello\": \"world\"}")).build(), utf8());
        assertEquals(200, echo.statusCode(), echo.body());
        assertEquals("60E0B220-8136-4CA5-AE46-1D97EF59D068", echo.headers().firstValue("X-Request-ID").orElse(null));
        assertEquals("my-trace-1", echo.headers().firstValue("X-Correlation-ID").orElse(null));
        Map<String, Object> echoed = TestSupport.parseJson(echo.body());
        assertEquals("PATCH", echoed.get("method"));
        assertEquals("/echo/a/b", echoed.get("path"));
        assertEquals("x=1&y=2", echoed.get("query"));
        assertEquals("{\"hello\": \"world\"}", echoed.get("body"));
        @SuppressWarnings("unchecked")
        Map<String, Object> headers = (Map<String, Object>) echoed.get("headers");
        assertEquals("Bearer ****", header(headers, "Authorization"));
        assertEquals("my-trace-1", header(headers, "X-Correlation-ID"));
        assertFalse(echo.body().contains(token), "the token is never echoed");
        assertFalse(log.toString().contains(token) || log.toString().contains(jwt), "never logged");
        assertTrue(log.toString().contains("POST /oauth2/token 200 "), log.toString());
    }

    @Test
    void missingBogusAndExpiredTokensGet401() throws Exception {
        HttpResponse<String> none = get("/hello-world/hello/application", null);
        assertUnauthorised(none);
        assertUnauthorised(get("/hello-world/hello/application", "Bearer not-a-token"));
        assertUnauthorised(get("/echo", "Basic dXNlcjpwYXNz"));

        // A token that lives one second opens the API, then no longer. Only a machine slower than
        // that second may find it expired at once; it then tries again with a new one.
        String token = null;
        while (token == null) {
            long requested = System.currentTimeMillis();
            HttpResponse<String> r = postForm(form(assertion(header(), claims())) + "&_access_token_expiry_ms=1000");
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("1", TestSupport.parseJson(r.body()).get("expires_in"));
            String issued = (String) TestSupport.parseJson(r.body()).get("access_token");
            HttpResponse<String> first = get("/echo", "Bearer " + issued);
            if (first.statusCode() == 200) {
                token = issued;
            } else {
                assertTrue(System.currentTimeMillis() - requested >= 1000, () -> "refused while live: " + first.body());
            }
        }
        Thread.sleep(1200);
        HttpResponse<String> expired = get("/hello-world/hello/application", "Bearer " + token);
        assertUnauthorised(expired);
        assertEquals(0, server.liveTokenCount(), "expired tokens forgotten");

        HttpResponse<String> longer = postForm(form(assertion(header(), claims())) + "&_access_token_expiry_ms=99999999");
        assertEquals("599", TestSupport.parseJson(longer.body()).get("expires_in"), "only ever shortens");
        HttpResponse<String> shorter = postForm(form(assertion(header(), claims())) + "&_access_token_expiry_ms=30000");
        assertEquals("29", TestSupport.parseJson(shorter.body()).get("expires_in"));
    }

    @Test
    void theSampleApiOnlyAnswersGetForHelloWorld() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
                + "/hello-world/hello/application")).POST(HttpRequest.BodyPublishers.ofString("x")).build(), utf8());
        assertEquals(405, r.statusCode());
        assertEquals("GET", r.headers().firstValue("Allow").orElse(null));
    }

    // ------------------------------------------------------------------ the error table, row by row

    @Test
    void row1UnknownRoutesAreNotFoundWithTheRequestIdMirrored() throws Exception {
        for (String path : List.of("/", "/nope", "/oauth2/token/", "/oauth2/tokens", "/echoes", "/hello-world")) {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                    .header("X-Request-ID", "req-1").build(), utf8());
            assertRow(r, 1);
            assertEquals("req-1", r.headers().firstValue("X-Request-ID").orElse(null), path);
        }
    }

    @Test
    void row2OnlyPostIsAllowedOnTheTokenEndpoint() throws Exception {
        for (String method : List.of("GET", "PUT", "DELETE", "PATCH")) {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.tokenUrl()))
                    .method(method, HttpRequest.BodyPublishers.noBody()).build(), utf8());
            assertEquals(405, r.statusCode(), method);
            assertEquals("POST", r.headers().firstValue("Allow").orElse(null));
            assertEquals("", r.body(), "empty body");
        }
    }

    @Test
    void row3TheContentTypeMustBeExactlyTheFormType() throws Exception {
        String good = form(assertion(header(), claims()));
        assertRow(post(null, good), 3);
        assertRow(post("application/json", good), 3);
        assertRow(post(FORM + "; charset=UTF-8", good), 3);
        assertRow(post("text/plain", "grant_type=client_credentials"), 3);
    }

    @Test
    void rows4To7TheFormFields() throws Exception {
        assertRow(postForm(""), 4);
        assertRow(postForm("grant_type="), 4);
        assertRow(postForm("client_assertion_type=" + enc(ASSERTION_TYPE)), 4);
        assertRow(postForm("grant_type=password"), 5);
        assertRow(postForm("grant_type=CLIENT_CREDENTIALS"), 5);
        assertRow(postForm("grant_type=client_credentials"), 6);
        assertRow(postForm("grant_type=client_credentials&client_assertion_type=jwt"), 6);
        assertRow(postForm("grant_type=client_credentials&client_assertion_type=" + enc(ASSERTION_TYPE)), 7);
        assertRow(postForm("grant_type=client_credentials&client_assertion_type=" + enc(ASSERTION_TYPE)
                + "&client_assertion="), 7);
    }

    @Test
    void duplicateFormFieldsTakeTheFirstValue() throws Exception {
        String jwt = assertion(header(), claims());
        assertEquals(200, postForm(form(jwt) + "&grant_type=password").statusCode());
        assertRow(postForm("grant_type=password&" + form(assertion(header(), claims()))), 5);
    }

    @Test
    void row8MalformedClientAssertionsNeverCauseA500() throws Exception {
        String header = b64(json(header()));
        String claims = b64(json(claims()));
        List<String> malformed = List.of(
                "abc",
                "a.b",
                header + "." + claims + ".sig.extra",
                "!!!." + claims + ".",
                header + "." + claims + ".not*base64",
                b64(new byte[] {(byte) 0xFF, (byte) 0xFE, '{', '}'}) + "." + claims + ".",
                b64("[1, 2]".getBytes(StandardCharsets.UTF_8)) + "." + claims + ".",
                b64("null".getBytes(StandardCharsets.UTF_8)) + "." + claims + ".",
                header + "." + b64("{\"exp\": ".getBytes(StandardCharsets.UTF_8)) + ".",
                header + "." + b64("{\"a\":1,\"a\":2}".getBytes(StandardCharsets.UTF_8)) + ".",
                b64(("{\"alg\":" + "[".repeat(60_000) + "]".repeat(60_000) + "}").getBytes(StandardCharsets.UTF_8))
                        + "." + claims + ".",
                "..");
        for (String jwt : malformed) {
            assertRow(requestToken(jwt), 8);
        }
        // Not even raw bytes that are not UTF-8, or percent-escapes that decode to nothing.
        HttpResponse<String> raw = HTTP.send(HttpRequest.newBuilder(URI.create(server.tokenUrl()))
                .header("Content-Type", FORM)
                .POST(HttpRequest.BodyPublishers.ofByteArray(concat(
                        ("grant_type=client_credentials&client_assertion_type=" + enc(ASSERTION_TYPE)
                                + "&client_assertion=").getBytes(StandardCharsets.US_ASCII),
                        new byte[] {(byte) 0xC3, (byte) 0x28, '%', 'z', 'z'}))).build(), utf8());
        assertRow(raw, 8);
        assertRow(postForm("grant_type=%zz"), 5);
    }

    @Test
    void row9OnlyRs512IsAcceptedAndAlgorithmConfusionNeverYieldsAToken() throws Exception {
        Map<String, Object> rs256 = header();
        rs256.put("alg", "RS256");
        assertRow(requestToken(sign("SHA256withRSA", keys.getPrivate(), rs256, claims())), 9);
        Map<String, Object> lower = header();
        lower.put("alg", "rs512");
        assertRow(requestToken(assertion(lower, claims())), 9);
        Map<String, Object> missing = header();
        missing.remove("alg");
        assertRow(requestToken(assertion(missing, claims())), 9);
        Map<String, Object> number = header();
        number.put("alg", 512);
        assertRow(requestToken(assertion(number, claims())), 9);

        Map<String, Object> none = header();
        none.put("alg", "none");
        assertRow(requestToken(b64(json(none)) + "." + b64(json(claims())) + "."), 9);

        // HS512 keyed with the public key, the classic confusion attack, in the forms a naive verifier might use.
        Map<String, Object> hs512 = header();
        hs512.put("alg", "HS512");
        byte[] der = keys.getPublic().getEncoded();
        String pem = "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END PUBLIC KEY-----\n";
        String jwks = Files.readString(jwksFile);
        for (byte[] secret : List.of(der, pem.getBytes(StandardCharsets.US_ASCII), jwks.getBytes(StandardCharsets.UTF_8))) {
            assertRow(requestToken(hmac(secret, hs512, claims())), 9);
            // Even claiming RS512 while HMAC-signing gets nowhere: the signature is checked as RSA.
            assertRow(requestToken(hmac(secret, header(), claims())), 24);
        }
        assertEquals(0, server.liveTokenCount(), "no token issued");
    }

    @Test
    void row10AnExpiredAssertionIsCheckedBeforeKidAndTyp() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("exp", nowSeconds() - 1);
        assertRow(requestToken(assertion(header(), claims)), 10);
        Map<String, Object> bare = header();
        bare.remove("kid");
        bare.remove("typ");
        assertRow(requestToken(assertion(bare, claims)), 10);
    }

    @Test
    void rows11To17TheHeaderAndClaims() throws Exception {
        Map<String, Object> noKid = header();
        noKid.remove("kid");
        noKid.remove("typ");
        assertRow(requestToken(assertion(noKid, claims())), 11);

        Map<String, Object> noTyp = header();
        noTyp.remove("typ");
        assertRow(requestToken(assertion(noTyp, claims())), 12);
        Map<String, Object> jws = header();
        jws.put("typ", "JWS");
        assertRow(requestToken(assertion(jws, claims())), 12);
        Map<String, Object> lowerTyp = header();
        lowerTyp.put("typ", "jwt");
        assertEquals(200, requestToken(assertion(lowerTyp, claims())).statusCode(), "typ is case-insensitive");

        Map<String, Object> noExp = claims();
        noExp.remove("exp");
        noExp.remove("iss");
        assertRow(requestToken(assertion(header(), noExp)), 13);
        Map<String, Object> stringExp = claims();
        stringExp.put("exp", String.valueOf(nowSeconds() + 60));
        assertRow(requestToken(assertion(header(), stringExp)), 14);

        Map<String, Object> noIss = claims();
        noIss.remove("iss");
        assertRow(requestToken(assertion(header(), noIss)), 15);
        Map<String, Object> noSub = claims();
        noSub.remove("sub");
        assertRow(requestToken(assertion(header(), noSub)), 15);
        Map<String, Object> otherSub = claims();
        otherSub.put("sub", "second-app");
        assertRow(requestToken(assertion(header(), otherSub)), 15);

        Map<String, Object> noJti = claims();
        noJti.remove("jti");
        assertRow(requestToken(assertion(header(), noJti)), 16);
        Map<String, Object> numericJti = claims();
        numericJti.put("jti", 12345);
        assertRow(requestToken(assertion(header(), numericJti)), 17);
    }

    @Test
    void rows18And19JtiReuseAndTooDistantExp() throws Exception {
        Map<String, Object> claims = claims();
        assertEquals(200, requestToken(assertion(header(), claims)).statusCode());
        assertRow(requestToken(assertion(header(), claims)), 18);

        // Row 18 is checked before row 19...
        Map<String, Object> reusedAndFar = new LinkedHashMap<>(claims);
        reusedAndFar.put("exp", nowSeconds() + 400);
        assertRow(requestToken(assertion(header(), reusedAndFar)), 18);

        // ...and a row-19 failure does not burn its jti. An hour ahead, so no wait brings it within 310 s.
        Map<String, Object> far = claims();
        far.put("exp", nowSeconds() + 3600);
        assertRow(requestToken(assertion(header(), far)), 19);
        far.put("exp", nowSeconds() + 300);
        assertEquals(200, requestToken(assertion(header(), far)).statusCode());
    }

    @Test
    void rows20To26AppsAndKeys() throws Exception {
        assertRow(requestToken(assertion(header(), claimsFor("no-such-app"))), 20);
        assertRow(requestToken(assertion(header(), claimsFor("keyless-app"))), 21);

        Map<String, Object> unknownKid = header();
        unknownKid.put("kid", "test-2");
        assertRow(requestToken(assertion(unknownKid, claims())), 23);
        Map<String, Object> traversal = header();
        traversal.put("kid", "../../etc/passwd");
        assertRow(requestToken(assertion(traversal, claims())), 23);
        Map<String, Object> jku = header();
        jku.put("kid", "attacker");
        jku.put("jku", "http://127.0.0.1:1/evil.json");
        jku.put("jwk", Map.of("kty", "RSA"));
        assertRow(requestToken(assertion(jku, claims())), 23);

        assertRow(requestToken(sign("SHA512withRSA", otherKeys.getPrivate(), header(), claims())), 24);

        Map<String, Object> wrongAud = claims();
        wrongAud.put("aud", "https://int.api.service.nhs.uk/oauth2/token");
        assertRow(requestToken(assertion(header(), wrongAud)), 25);
        Map<String, Object> httpsAud = claims();
        httpsAud.put("aud", server.tokenUrl().replace("http:", "https:"));
        assertRow(requestToken(assertion(header(), httpsAud)), 25);
        Map<String, Object> slashAud = claims();
        slashAud.put("aud", server.tokenUrl() + "/");
        assertRow(requestToken(assertion(header(), slashAud)), 25);
        Map<String, Object> noAud = claims();
        noAud.remove("aud");
        assertRow(requestToken(assertion(header(), noAud)), 25);

        assertRow(requestToken(assertion(header(), claimsFor("level-2-app"))), 26);
        assertEquals(0, server.liveTokenCount());
    }

    @Test
    void row27AnUnforeseenFaultIsAnUnknownErrorAndTheServerCarriesOn() throws Exception {
        // A 512-bit key parses as a JWK, but SHA512withRSA cannot use a key that short: nothing the
        // table foresees, so the reference's catch-all answers.
        Path shortKey = writeJwks("short.json", generate(512).getPublic(), "short-1");
        MockIdentityService s = start(List.of(new MockIdentityService.App(APP, shortKey.toString(), true)), 3600);
        Map<String, Object> header = header();
        header.put("kid", "short-1");
        HttpResponse<String> r = send(s, form(assertion(header, claims(s))));
        assertEquals(500, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(null));
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals("unknown_error", body.get("error"));
        assertEquals("An unknown error occurred processing this request. Contact us for assistance diagnosing "
                + "this issue: https://digital.nhs.uk/developer/help-and-support quoting Message ID",
                body.get("error_description"));
        assertTrue(String.valueOf(body.get("message_id")).matches("rrt-\\d+-\\d+"), r.body());
        assertRow(send(s, form("abc")), 8);
    }

    @Test
    void audMayBeAnArrayHoldingTheTokenUrl() throws Exception {
        Map<String, Object> claims = claims();
        claims.put("aud", List.of("https://elsewhere.example/", server.tokenUrl()));
        assertEquals(200, requestToken(assertion(header(), claims)).statusCode());
    }

    @Test
    void theJtiIsBurntBeforeTheKeyChecks() throws Exception {
        Map<String, Object> unknownKid = header();
        unknownKid.put("kid", "test-2");
        Map<String, Object> wrongAud = claims();
        wrongAud.put("aud", "http://example.org/oauth2/token");
        List<Map.Entry<Integer, String>> failures = new ArrayList<>();
        Map<String, Object> c23 = claims();
        failures.add(Map.entry(23, (String) c23.get("jti")));
        assertRow(requestToken(assertion(unknownKid, c23)), 23);
        Map<String, Object> c24 = claims();
        failures.add(Map.entry(24, (String) c24.get("jti")));
        assertRow(requestToken(sign("SHA512withRSA", otherKeys.getPrivate(), header(), c24)), 24);
        failures.add(Map.entry(25, (String) wrongAud.get("jti")));
        assertRow(requestToken(assertion(header(), wrongAud)), 25);

        for (Map.Entry<Integer, String> failed : failures) {
            Map<String, Object> perfect = claims();
            perfect.put("jti", failed.getValue());
            assertRow(requestToken(assertion(header(), perfect)), 18);
        }
        Map<String, Object> level2 = claimsFor("level-2-app");
        assertRow(requestToken(assertion(header(), level2)), 26);
        assertRow(requestToken(assertion(header(), level2)), 18);

        // A failure before row 19 burns nothing.
        Map<String, Object> noTyp = header();
        noTyp.remove("typ");
        Map<String, Object> c12 = claims();
        assertRow(requestToken(assertion(noTyp, c12)), 12);
        assertEquals(200, requestToken(assertion(header(), c12)).statusCode());
    }

    @Test
    void aJtiMayBeReusedByADifferentApp() throws Exception {
        String jti = UUID.randomUUID().toString();
        Map<String, Object> first = claims();
        first.put("jti", jti);
        Map<String, Object> second = claimsFor("second-app");
        second.put("jti", jti);
        assertEquals(200, requestToken(assertion(header(), first)).statusCode());
        assertEquals(200, requestToken(assertion(header(), second)).statusCode());
        assertRow(requestToken(assertion(header(), second)), 18);
    }

    @Test
    void iatAndNbfMoreThanTenSecondsAheadFailLikeABadSignature() throws Exception {
        for (String claim : List.of("iat", "nbf")) {
            Map<String, Object> ahead = claims();
            ahead.put(claim, nowSeconds() + 3600);
            assertRow(requestToken(assertion(header(), ahead)), 24);
            Map<String, Object> skewed = claims();
            skewed.put(claim, nowSeconds() + 5);
            assertEquals(200, requestToken(assertion(header(), skewed)).statusCode(), claim + " within 10 s");
            Map<String, Object> odd = claims();
            odd.put(claim, "yesterday");
            assertEquals(200, requestToken(assertion(header(), odd)).statusCode(), claim + " is optional");
        }
    }

    @Test
    void concurrentRequestsGetDistinctTokensAndAJtiWinsOnlyOnce() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            calls.add(HTTP.sendAsync(tokenRequest(form(assertion(header(), claims()))), utf8()));
        }
        Set<String> tokens = new HashSet<>();
        for (CompletableFuture<HttpResponse<String>> call : calls) {
            HttpResponse<String> r = call.get();
            assertEquals(200, r.statusCode(), r.body());
            tokens.add((String) TestSupport.parseJson(r.body()).get("access_token"));
        }
        assertEquals(40, tokens.size());

        String sameJwt = assertion(header(), claims());
        List<CompletableFuture<HttpResponse<String>>> replays = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            replays.add(HTTP.sendAsync(tokenRequest(form(sameJwt)), utf8()));
        }
        int granted = 0;
        for (CompletableFuture<HttpResponse<String>> call : replays) {
            HttpResponse<String> r = call.get();
            if (r.statusCode() == 200) {
                granted++;
            } else {
                assertRow(r, 18);
            }
        }
        assertEquals(1, granted);
    }

    // ------------------------------------------------------------------ size limits and memory

    @Test
    void anOversizedBodyIs413WithoutBeingRead() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(60_000);
            socket.getOutputStream().write(("POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: " + FORM + "\r\nContent-Length: 104857600\r\n\r\ngrant_type=")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            String response = readHttpResponse(socket.getInputStream());
            assertTrue(response.startsWith("HTTP/1.1 413 "), response);
            String body = response.substring(response.indexOf("\r\n\r\n") + 4);
            Map<String, Object> json = TestSupport.parseJson(body);
            assertEquals("invalid_request", json.get("error"));
            assertEquals("Request body too large", json.get("error_description"));
            assertTrue(((String) json.get("message_id")).startsWith("rrt-"));
        }
        HttpResponse<String> streamed = post(FORM, "grant_type=client_credentials&x=" + "a".repeat(300_000));
        assertEquals(413, streamed.statusCode());
        HttpResponse<String> echo = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/echo"))
                .header("Authorization", "Bearer " + token())
                .POST(HttpRequest.BodyPublishers.ofString("b".repeat(300_000))).build(), utf8());
        assertEquals(413, echo.statusCode());
        assertEquals(200, postForm(form(assertion(header(), claims()))).statusCode(), "still serving");
    }

    @Test
    void rememberedJtisAreForgottenOnceTheirExpHasPassed() throws Exception {
        MockIdentityService fresh = start(List.of(new MockIdentityService.App(APP, jwksFile.toString(), true)), 3600);
        for (int i = 0; i < 5; i++) {
            assertEquals(200, send(fresh, form(assertion(header(), claims(fresh)))).statusCode());
        }
        assertEquals(5, fresh.rememberedJtiCount(), "jtis outliving the test");
        // Five more that expire within two seconds. Only a machine slower than that may see one
        // refused as expired (row 10, which burns nothing); it then sends another.
        long lastExpMillis = 0;
        for (int burnt = 0; burnt < 5; ) {
            Map<String, Object> claims = claims(fresh);
            long expMillis = (nowSeconds() + 2) * 1000;
            claims.put("exp", expMillis / 1000);
            HttpResponse<String> r = send(fresh, form(assertion(header(), claims)));
            if (r.statusCode() == 200) {
                burnt++;
                lastExpMillis = expMillis;
            } else {
                assertRow(r, 10);
                assertTrue(System.currentTimeMillis() > expMillis, "row 10 before exp");
            }
        }
        // Waits for a moment, the last exp, not for a length of time.
        for (long left; (left = lastExpMillis - System.currentTimeMillis()) >= 0; ) {
            Thread.sleep(left + 1);
        }
        assertEquals(5, fresh.rememberedJtiCount(), "the expired five forgotten, the live five kept");
    }

    // ------------------------------------------------------------------ JWKS sources

    @Test
    void aJwksUrlIsFetchedAsApimAndCached() throws Exception {
        JwksHost host = jwksHost();
        MockIdentityService viaUrl = start(List.of(new MockIdentityService.App(APP, host.url("/jwks.json"), true)), 3600);
        assertEquals(0, host.hits.get(), "fetched on demand, not at start");
        assertEquals(200, send(viaUrl, form(assertion(header(), claims(viaUrl)))).statusCode());
        assertEquals(200, send(viaUrl, form(assertion(header(), claims(viaUrl)))).statusCode());
        Map<String, Object> unknownKid = header();
        unknownKid.put("kid", "rotated-2");
        assertRow(send(viaUrl, form(assertion(unknownKid, claims(viaUrl)))), 23);
        assertEquals(1, host.hits.get(), "one fetch, then the cache, even for an unknown kid");
        assertEquals(List.of("APIM"), host.userAgents);

        MockIdentityService uncached = start(List.of(new MockIdentityService.App(APP, host.url("/jwks.json"), true)), 0);
        assertEquals(200, send(uncached, form(assertion(header(), claims(uncached)))).statusCode());
        assertEquals(200, send(uncached, form(assertion(header(), claims(uncached)))).statusCode());
        assertEquals(3, host.hits.get(), "--jwks-cache-seconds 0 fetches every time");
    }

    @Test
    void row22AJwksUrlThatCannotBeFetched() throws Exception {
        JwksHost host = jwksHost();
        MockIdentityService s = start(List.of(
                new MockIdentityService.App("refused", "http://127.0.0.1:" + TestSupport.refusedPort() + "/jwks.json", true),
                new MockIdentityService.App("error", host.url("/broken"), true),
                new MockIdentityService.App("not-json", host.url("/not-json"), true),
                new MockIdentityService.App("huge", host.url("/huge"), true)), 3600);
        for (String app : List.of("refused", "error", "not-json", "huge")) {
            Map<String, Object> claims = claims(s);
            claims.put("iss", app);
            claims.put("sub", app);
            assertRow(send(s, form(assertion(header(), claims))), 22);
        }
    }

    @Test
    void aJwksFileIsReReadWhenItChanges() throws Exception {
        assertEquals(200, requestToken(assertion(header(), claims())).statusCode());
        Map<String, Object> newKid = header();
        newKid.put("kid", "test-2");
        assertRow(requestToken(sign("SHA512withRSA", otherKeys.getPrivate(), newKid, claims())), 23);

        Files.writeString(jwksFile, new JWKSet(List.of(jwk(keys.getPublic(), KID), jwk(otherKeys.getPublic(), "test-2")))
                .toString());
        Files.setLastModifiedTime(jwksFile, FileTime.fromMillis(System.currentTimeMillis() + 2000));
        assertEquals(200, requestToken(sign("SHA512withRSA", otherKeys.getPrivate(), newKid, claims())).statusCode());
        assertEquals(200, requestToken(assertion(header(), claims())).statusCode(), "both keys during rotation");

        Files.writeString(jwksFile, "{ not a JWKS");
        Files.setLastModifiedTime(jwksFile, FileTime.fromMillis(System.currentTimeMillis() + 4000));
        assertRow(requestToken(assertion(header(), claims())), 22);
        Files.delete(jwksFile);
        assertRow(requestToken(assertion(header(), claims())), 22);
    }

    @Test
    void aJwksWithoutAUsableRsaKeyMatchesNoKid() throws Exception {
        Path ecOnly = Files.writeString(dir.resolve("ec.json"), "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\""
                + KID + "\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
                + "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}]}");
        Path noKid = Files.writeString(dir.resolve("nokid.json"), new JWKSet(jwk(keys.getPublic(), null)).toString());
        MockIdentityService s = start(List.of(new MockIdentityService.App("ec", ecOnly.toString(), true),
                new MockIdentityService.App("nokid", noKid.toString(), true)), 3600);
        for (String app : List.of("ec", "nokid")) {
            Map<String, Object> claims = claims(s);
            claims.put("iss", app);
            claims.put("sub", app);
            assertRow(send(s, form(assertion(header(), claims))), 23);
        }
    }

    // ------------------------------------------------------------------ the command line

    @Test
    void badCommandLinesAreOneLineUsageErrors() throws Exception {
        Path missing = dir.resolve("missing.json");
        Path notJwks = Files.writeString(dir.resolve("bad.json"), "[1,2]");
        String jwks = jwksFile.toString();
        cli().assertOneLineError(2, "no app registered", "--app API_KEY=JWKS");
        cli("--app", "=" + jwks).assertOneLineError(2, "no usable API key");
        cli("--app", "has space=" + jwks).assertOneLineError(2, "has space", "API key");
        cli("--app", "k=").assertOneLineError(2, "'k='", "JWKS file or URL");
        cli("--app", "k=" + missing).assertOneLineError(2, missing.toString(), "does not exist");
        cli("--app", "k=" + notJwks).assertOneLineError(2, notJwks.toString(), "not a valid JWKS");
        cli("--app", "k=https://").assertOneLineError(2, "https://", "not a valid JWKS URL");
        cli("--app", "k=http://169.254.169.254/latest/meta-data").assertOneLineError(2, "169.254.169.254", "plain http",
                "https://");
        cli("--app", "@" + missing).assertOneLineError(2, "apps file", missing.toString(), "does not exist");
        Path badLine = Files.writeString(dir.resolve("apps.txt"), "# ok\nhas space=" + jwks + "\n");
        cli("--app-without-level-3", "@" + badLine).assertOneLineError(2, "has space", "API key");
        cli("--app", "k", "--app-without-level-3", "k=" + jwks).assertOneLineError(2, "'k'", "twice");
        cli("--app", "k", "--port", "70000").assertOneLineError(2, "--port '70000'", "0-65535");
        cli("--app", "k", "--port", "nine").assertOneLineError(2, "--port 'nine'");
        cli("--app", "k", "--jwks-cache-seconds", "-5").assertOneLineError(2, "--jwks-cache-seconds '-5'");
        cli("--app", "k", "--no-such-option").assertOneLineError(2, "--no-such-option");
    }

    @Test
    void aPortInUseIsAUsageErrorNamingThePort() throws Exception {
        String port = String.valueOf(server.port());
        cli("--app", "k=" + jwksFile, "--port", port).assertOneLineError(2, "port " + port, "already in use", "--port");
    }

    @Test
    void theCommandServesUntilStopped() throws Exception {
        MockServer command = new MockServer();
        CommandLine cl = NhsCli.commandLine(command);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        AtomicInteger exit = new AtomicInteger(-1);
        Thread serving = new Thread(() -> exit.set(cl.execute("--app", APP + "=" + jwksFile,
                "--app-without-level-3", "level-2-app=" + jwksFile, "--app", "keyless", "--port", "0", "--verbose")));
        serving.setDaemon(true);
        serving.start();
        try {
            waitUntil(() -> out.toString().contains("level-2-app"));
            MockIdentityService s = command.running;
            List<String> lines = out.toString().lines().toList();
            assertEquals("mock-server listening on " + s.baseUrl(), lines.get(0));
            assertTrue(s.baseUrl().matches("http://127\\.0\\.0\\.1:\\d+"), s.baseUrl());
            assertTrue(lines.get(1).contains(s.tokenUrl()), lines.get(1));
            assertEquals(5, lines.size(), out.toString());
            assertTrue(lines.get(2).contains(APP) && lines.get(2).contains(jwksFile.toString()));
            assertEquals(200, send(s, form(assertion(header(), claims(s)))).statusCode());
            HttpResponse<String> noToken = HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/echo")).build(),
                    utf8());
            assertEquals(401, noToken.statusCode());
            assertEquals(400, send(s, form("abc")).statusCode());
        } finally {
            command.stop();
            serving.join(10_000);
        }
        assertFalse(serving.isAlive());
        assertEquals(0, exit.get(), err.toString());
        assertTrue(err.toString().contains("POST /oauth2/token 200 "), err.toString());
        assertTrue(err.toString().contains("GET /echo 401 "), err.toString());
        assertTrue(err.toString().contains("POST /oauth2/token 400 ") && err.toString().contains(
                "(row 8: Malformed JWT in client_assertion"), "--verbose says why: " + err);
        assertTrue(err.toString().contains("mock-server stopped"), err.toString());
    }

    // ------------------------------------------------------------------ slow clients, the log, the echo

    /** Only a hung request meets this: a guard, never a measure of speed. */
    static final Duration HANG_GUARD = Duration.ofSeconds(60);

    @Test
    void slowClientsHoldNoOneElseUp() throws Exception {
        // More than the workers of any machine's old fixed pool: half stall in their headers, half in a token POST's body.
        for (int i = 0; i < 40; i++) {
            Socket slow = new Socket("127.0.0.1", server.port());
            toClose.add(slow);
            slow.getOutputStream().write((i % 2 == 0 ? "GET /hello-world/hello/world HTTP/1.1\r\nHost: x\r\n"
                    : "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM
                            + "\r\nContent-Length: 1000\r\n\r\ngrant_type=").getBytes(StandardCharsets.US_ASCII));
            slow.getOutputStream().flush();
        }
        HttpResponse<String> world = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
                + "/hello-world/hello/world")).timeout(HANG_GUARD).build(), utf8());
        assertEquals(200, world.statusCode(), world.body());
        assertEquals(200, HTTP.send(tokenRequest(form(assertion(header(), claims())), HANG_GUARD), utf8()).statusCode());
    }

    @Test
    void aClientTooSlowToSendItsRequestIsCutOffAndAppsComeFromAFileNamedByTheVariable() throws Exception {
        // A process of its own: the JDK server reads its timeout once per JVM, and this one may have started others.
        Path apps = Files.writeString(dir.resolve("apps.txt"), "# API key = JWKS, one app a line\n\n" + APP + "=" + jwksFile
                + "\n  local=http://localhost:1/jwks.json  \n");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "MockServer", "--port", "0");
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        pb.environment().put("NHS_MOCK_APP", "@" + apps);
        Process mock = pb.redirectError(ProcessBuilder.Redirect.DISCARD).start();
        toClose.add(() -> mock.destroyForcibly().waitFor());
        var stdout = new java.io.BufferedReader(new java.io.InputStreamReader(mock.getInputStream(), StandardCharsets.UTF_8));
        String baseUrl = stdout.readLine().replace("mock-server listening on ", "");
        assertTrue(baseUrl.matches("http://127\\.0\\.0\\.1:\\d+"), baseUrl);
        stdout.readLine();
        assertEquals("app " + APP + ": JWKS " + jwksFile, stdout.readLine(), "registered from the file");
        assertEquals("app local: JWKS http://localhost:1/jwks.json", stdout.readLine(), "plain http to this machine");

        URI uri = URI.create(baseUrl);
        try (Socket slow = new Socket(uri.getHost(), uri.getPort())) {
            slow.getOutputStream().write("GET /hello-world/hello/world HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
            slow.getOutputStream().flush();
            slow.setSoTimeout((int) Duration.ofMinutes(2).toMillis());
            assertEquals(-1, slow.getInputStream().read(), "the server closes a connection whose request never ends");
        }
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/oauth2/token")).timeout(HANG_GUARD)
                .header("Content-Type", FORM).POST(HttpRequest.BodyPublishers.ofString(form(assertion(header(),
                        claimsWithAud(baseUrl + "/oauth2/token"))))).build(), utf8());
        assertEquals(200, r.statusCode(), r.body());
    }

    @Test
    void aSlowJwksUrlHoldsOnlyItsOwnAppsRequestsAndTheyShareOneFetch() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        AtomicInteger fetches = new AtomicInteger();
        HttpServer jwksHost = HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        java.util.concurrent.ExecutorService jwksWorkers = java.util.concurrent.Executors.newCachedThreadPool();
        jwksHost.setExecutor(jwksWorkers);
        jwksHost.createContext("/slow.json", ex -> {
            fetches.incrementAndGet();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(500, -1);
            ex.close();
        });
        jwksHost.start();
        toClose.add(jwksWorkers::shutdownNow);
        toClose.add(() -> jwksHost.stop(0));
        toClose.add(release::countDown);
        MockIdentityService s = start(List.of(new MockIdentityService.App(APP, jwksFile.toString(), true),
                new MockIdentityService.App("slow", "http://127.0.0.1:" + jwksHost.getAddress().getPort() + "/slow.json", true)), 3600);

        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Map<String, Object> claims = claims(s);
            claims.put("iss", "slow");
            claims.put("sub", "slow");
            held.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(s.tokenUrl())).header("Content-Type", FORM)
                    .POST(HttpRequest.BodyPublishers.ofString(form(assertion(header(), claims)))).build(), utf8()));
        }
        waitUntil(() -> s.rememberedJtiCount() == 20); // each past its jti, so at the keys
        HttpResponse<String> world = HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl()
                + "/hello-world/hello/world")).timeout(HANG_GUARD).build(), utf8());
        assertEquals(200, world.statusCode(), "an unrelated request is answered meanwhile");
        HttpResponse<String> other = HTTP.send(HttpRequest.newBuilder(URI.create(s.tokenUrl())).timeout(HANG_GUARD)
                .header("Content-Type", FORM).POST(HttpRequest.BodyPublishers.ofString(form(assertion(header(), claims(s)))))
                .build(), utf8());
        assertEquals(200, other.statusCode(), "another app's token request is answered meanwhile");
        release.countDown();
        for (CompletableFuture<HttpResponse<String>> r : held) {
            assertRow(r.get(), 22);
        }
        assertEquals(1, fetches.get(), "the waiting requests shared one fetch, not one each in turn");
    }

    @Test
    void theLogEscapesAndCutsWhatTheClientSent() throws Exception {
        String method = "X\u001b[31mRED" + "M".repeat(100_000);
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.getOutputStream().write((method + " /echo/" + "p".repeat(5000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            socket.setSoTimeout((int) HANG_GUARD.toMillis());
            assertTrue(readHttpResponse(socket.getInputStream()).startsWith("HTTP/1.1 401 "));
        }
        waitUntil(() -> log.toString().contains("RED"));
        String line = log.toString().lines().filter(l -> l.contains("RED")).findFirst().orElseThrow();
        assertTrue(line.startsWith("X\\x1b[31mRED"), line.substring(0, Math.min(line.length(), 100)));
        assertFalse(line.contains("\u001b"), "no raw control character reaches the terminal");
        assertTrue(line.length() < 400, "each field cut short: " + line.length() + " characters");
    }

    @Test
    void theEchoMasksEveryCredentialHeaderAsTheClientsTracesDo() throws Exception {
        Map<String, String> secrets = Map.of("Cookie", "session=s3cret-cookie", "Proxy-Authorization", "Basic cHJveHk6czNjcmV0",
                "X-Api-Key", "s3cret-x-api-key", "X-Auth-Token", "s3cret-auth-token", "apikey", "s3cret-apikey");
        StringBuilder request = new StringBuilder("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                + "Authorization: Bearer " + token() + "\r\nX-Plain: shown\r\n");
        secrets.forEach((name, value) -> request.append(name).append(": ").append(value).append("\r\n"));
        String echo;
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            // Raw, as the JDK client would not send Proxy-Authorization to a server that is not a proxy.
            socket.getOutputStream().write((request + "\r\n").getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            socket.setSoTimeout((int) HANG_GUARD.toMillis());
            echo = readHttpResponse(socket.getInputStream());
        }
        assertTrue(echo.startsWith("HTTP/1.1 200 "), echo);
        String body = echo.substring(echo.indexOf("\r\n\r\n") + 4);
        @SuppressWarnings("unchecked")
        Map<String, Object> headers = (Map<String, Object>) TestSupport.parseJson(body).get("headers");
        secrets.forEach((name, value) -> {
            assertEquals(NhsCommands.redactedHeader(name, value), header(headers, name), name);
            assertFalse(body.contains(value), name + " is never echoed");
        });
        assertEquals("Basic ****", header(headers, "Proxy-Authorization"));
        assertEquals("shown", header(headers, "X-Plain"));
    }

    // ------------------------------------------------------------------ helpers

    static TestSupport.Result cli(String... args) {
        return TestSupport.runInProcess(new MockServer(), args);
    }

    static KeyPair generate(int bits) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(bits);
        return generator.generateKeyPair();
    }

    Path writeJwks(String name, PublicKey key, String kid) throws IOException {
        return Files.writeString(dir.resolve(name), new JWKSet(jwk(key, kid)).toString());
    }

    /** A public key as the portal publishes it, made with nimbus alone: the mock is not judged by the client's code. */
    static JWK jwk(PublicKey key, String kid) {
        return new RSAKey.Builder((RSAPublicKey) key).keyID(kid).algorithm(JWSAlgorithm.RS512).keyUse(KeyUse.SIGNATURE)
                .build();
    }

    static Map<String, Object> header() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("alg", "RS512");
        h.put("typ", "JWT");
        h.put("kid", KID);
        return h;
    }

    Map<String, Object> claims() {
        return claims(server);
    }

    Map<String, Object> claimsFor(String apiKey) {
        Map<String, Object> c = claims();
        c.put("iss", apiKey);
        c.put("sub", apiKey);
        return c;
    }

    static Map<String, Object> claims(MockIdentityService s) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("iss", APP);
        c.put("sub", APP);
        c.put("aud", s.tokenUrl());
        c.put("jti", UUID.randomUUID().toString());
        c.put("exp", nowSeconds() + 300);
        return c;
    }

    static long nowSeconds() {
        return System.currentTimeMillis() / 1000;
    }

    static String assertion(Map<String, Object> header, Map<String, Object> claims) throws Exception {
        return sign("SHA512withRSA", keys.getPrivate(), header, claims);
    }

    static String sign(String algorithm, PrivateKey key, Map<String, Object> header, Map<String, Object> claims)
            throws Exception {
        String input = b64(json(header)) + "." + b64(json(claims));
        Signature signer = Signature.getInstance(algorithm);
        signer.initSign(key);
        signer.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + b64(signer.sign());
    }

    static String hmac(byte[] secret, Map<String, Object> header, Map<String, Object> claims) throws Exception {
        String input = b64(json(header)) + "." + b64(json(claims));
        Mac mac = Mac.getInstance("HmacSHA512");
        mac.init(new SecretKeySpec(secret, "HmacSHA512"));
        return input + "." + b64(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
    }

    static byte[] json(Map<String, Object> members) {
        return com.nimbusds.jose.util.JSONObjectUtils.toJSONString(members).getBytes(StandardCharsets.UTF_8);
    }

    static String b64(byte[] bytes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    static String form(String jwt) {
        return "grant_type=client_credentials&client_assertion_type=" + enc(ASSERTION_TYPE)
                + "&client_assertion=" + enc(jwt);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    static HttpResponse.BodyHandler<String> utf8() {
        return HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8);
    }

    HttpResponse<String> requestToken(String jwt) throws Exception {
        return postForm(form(jwt));
    }

    HttpResponse<String> postForm(String body) throws Exception {
        return post(FORM, body);
    }

    HttpResponse<String> post(String contentType, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.tokenUrl()))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return HTTP.send(b.build(), utf8());
    }

    HttpRequest tokenRequest(String form) {
        return HttpRequest.newBuilder(URI.create(server.tokenUrl())).header("Content-Type", FORM)
                .POST(HttpRequest.BodyPublishers.ofString(form)).build();
    }

    HttpRequest tokenRequest(String form, Duration timeout) {
        return HttpRequest.newBuilder(tokenRequest(form), (name, value) -> true).timeout(timeout).build();
    }

    Map<String, Object> claimsWithAud(String tokenUrl) {
        Map<String, Object> c = claims();
        c.put("aud", tokenUrl);
        return c;
    }

    static HttpResponse<String> send(MockIdentityService s, String form) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.tokenUrl())).header("Content-Type", FORM)
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), utf8());
    }

    String token() throws Exception {
        HttpResponse<String> r = requestToken(assertion(header(), claims()));
        assertEquals(200, r.statusCode(), r.body());
        return (String) TestSupport.parseJson(r.body()).get("access_token");
    }

    HttpResponse<String> get(String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return HTTP.send(b.build(), utf8());
    }

    static void assertRow(HttpResponse<String> r, int row) {
        List<Object> expected = ROWS.get(row);
        assertNotNull(expected, "no such row " + row);
        assertEquals(expected.get(0), r.statusCode(), () -> "row " + row + " status; body " + r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(null), "row " + row);
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals(Set.of("error", "error_description", "message_id"), body.keySet(), r.body());
        assertEquals(expected.get(1), body.get("error"), () -> "row " + row + ": " + r.body());
        assertEquals(expected.get(2), body.get("error_description"), () -> "row " + row + ": " + r.body());
        assertTrue(String.valueOf(body.get("message_id")).matches("rrt-\\d+-\\d+"), r.body());
    }

    static void assertUnauthorised(HttpResponse<String> r) {
        assertEquals(401, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(null));
        Map<String, Object> body = TestSupport.parseJson(r.body());
        assertEquals("invalid_token", body.get("error"));
        assertFalse(String.valueOf(body.get("error_description")).isBlank());
        assertTrue(String.valueOf(body.get("message_id")).startsWith("rrt-"));
    }

    static Object header(Map<String, Object> headers, String name) {
        return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue)
                .findFirst().orElse(null);
    }

    /** Polls until the condition holds; the class's timeout ends a wait that never does. */
    static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        while (!condition.getAsBoolean()) {
            Thread.sleep(50);
        }
    }

    /** Reads one HTTP/1.1 response with a Content-Length body. */
    static String readHttpResponse(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            head.write(b);
        }
        String headers = head.toString(StandardCharsets.ISO_8859_1);
        int length = headers.lines().filter(l -> l.toLowerCase().startsWith("content-length:"))
                .map(l -> Integer.parseInt(l.substring(15).trim())).findFirst().orElse(0);
        return headers + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** A second loopback server that hosts JWKS documents and notes how it was asked. */
    static final class JwksHost implements AutoCloseable {
        final HttpServer http;
        final AtomicInteger hits = new AtomicInteger();
        final List<String> userAgents = new CopyOnWriteArrayList<>();

        JwksHost(String jwks) throws IOException {
            http = HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
            http.createContext("/jwks.json", ex -> {
                hits.incrementAndGet();
                userAgents.add(ex.getRequestHeaders().getFirst("User-Agent"));
                reply(ex, 200, jwks.getBytes(StandardCharsets.UTF_8));
            });
            http.createContext("/broken", ex -> reply(ex, 500, "oops".getBytes(StandardCharsets.UTF_8)));
            http.createContext("/not-json", ex -> reply(ex, 200, "<html>hello</html>".getBytes(StandardCharsets.UTF_8)));
            http.createContext("/huge", ex -> reply(ex, 200, new byte[2 * 1024 * 1024]));
            http.start();
        }

        String url(String path) {
            return "http://127.0.0.1:" + http.getAddress().getPort() + path;
        }

        private static void reply(com.sun.net.httpserver.HttpExchange ex, int status, byte[] body) throws IOException {
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, body.length);
            try (var out = ex.getResponseBody()) {
                out.write(body);
            } catch (IOException clientGaveUp) {
                // the /huge reader stops early on purpose
            }
            ex.close();
        }

        @Override
        public void close() {
            http.stop(0);
        }
    }

    JwksHost jwksHost() throws IOException {
        JwksHost host = new JwksHost(Files.readString(jwksFile));
        toClose.add(host);
        return host;
    }
}
