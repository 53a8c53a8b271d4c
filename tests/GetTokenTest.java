import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.SignedJWT;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** get-token in-process against scripted loopback token endpoints. */
class GetTokenTest {

    @TempDir
    static Path keys;
    static Path pem;
    static RSAPublicKey publicKey;

    @BeforeAll
    static void makeKey() throws Exception {
        pem = TestFixture.key(keys, "test-kid");
        publicKey = NhsKeys.publicKeyOf(NhsKeys.readPrivateKey(pem, null));
    }

    static TestSupport.Result getToken(FakeServer server, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "my-api-key", "--private-key", pem.toString(),
                "--token-url", server.url("/oauth2/token")));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new GetToken(), args.toArray(String[]::new));
    }

    @Test
    void theEndpointReceivesExactlyTheNhsClientAssertionAndForm() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("tok-123"))) {
            long before = System.currentTimeMillis() / 1000;
            TestSupport.Result r = getToken(server).assertOk();
            long after = System.currentTimeMillis() / 1000;
            assertTrue(r.out().contains("tok-123"), r.out());
            FakeServer.Request req = server.requests.get(0);
            assertEquals("POST", req.method());
            assertEquals("/oauth2/token", req.uri());
            assertEquals("application/x-www-form-urlencoded", req.header("Content-Type"), "nothing appended");
            Map<String, String> form = req.form();
            assertEquals(List.of("grant_type", "client_assertion_type", "client_assertion"), List.copyOf(form.keySet()));
            assertEquals("client_credentials", form.get("grant_type"));
            assertEquals("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", form.get("client_assertion_type"));

            SignedJWT jwt = SignedJWT.parse(form.get("client_assertion"));
            assertTrue(jwt.verify(new RSASSAVerifier(publicKey)), "signature verifies with the JWKS key");
            Map<String, Object> header = jwt.getHeader().toJSONObject();
            assertEquals(Map.of("alg", "RS512", "typ", "JWT", "kid", "test-kid"), header);
            Map<String, Object> claims = TestSupport.parseJson(jwt.getPayload().toString());
            assertEquals(Set.of("iss", "sub", "aud", "jti", "exp"), claims.keySet());
            assertEquals("my-api-key", claims.get("iss"));
            assertEquals("my-api-key", claims.get("sub"));
            assertEquals(server.url("/oauth2/token"), claims.get("aud"), "aud is a string equal to the URL posted to");
            assertTrue(claims.get("exp") instanceof Number, "exp is a JSON integer");
            long exp = ((Number) claims.get("exp")).longValue();
            assertTrue(exp >= before + 240 && exp <= after + 240, "exp = now + 240: " + (exp - before));
            assertTrue(((String) claims.get("jti")).matches("[0-9a-f-]{36}"));
            assertTrue(r.err().contains("using kid 'test-kid' (from the private key's file name"), r.err());
        }
    }

    @Test
    void formatTokenPrintsOnlyTheTokenAndJsonHasNumbers() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("only-the-token"))) {
            TestSupport.Result r = getToken(server, "--format", "token").assertOk();
            assertEquals("only-the-token\n", r.out());
            assertFalse(r.err().contains("only-the-token"), "the token stays off stderr");

            Map<String, Object> json = TestSupport.parseJson(getToken(server, "--format", "json").assertOk().out());
            assertEquals("only-the-token", json.get("access_token"));
            assertEquals("Bearer", json.get("token_type"));
            assertEquals(599L, ((Number) json.get("expires_in")).longValue());
            assertTrue(json.get("issued_at") instanceof Number);
            assertTrue(((String) json.get("expires_at")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"), json.toString());
        }
        try (FakeServer numeric = new FakeServer(r -> FakeServer.Reply.json(200,
                "{\"access_token\": \"n\", \"expires_in\": 300, \"token_type\": \"Bearer\", \"issued_at\": 1700000000000}"))) {
            // Expiry runs on this machine's clock from receipt, whatever the server's issued_at says.
            java.time.Instant before = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            Map<String, Object> json = TestSupport.parseJson(getToken(numeric, "--format", "json").assertOk().out());
            java.time.Instant after = java.time.Instant.now();
            assertEquals(300L, ((Number) json.get("expires_in")).longValue());
            java.time.Instant expiresAt = java.time.Instant.parse((String) json.get("expires_at"));
            assertFalse(expiresAt.isBefore(before.plusSeconds(300)) || expiresAt.isAfter(after.plusSeconds(300)),
                    "expires_at " + expiresAt + " is receipt + 300 s");
        }
    }

    @Test
    void assertionOnlyPrintsASignedAssertionWithoutCallingTheEndpoint() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("never"))) {
            TestSupport.Result r = getToken(server, "--assertion-only", "--kid", "other").assertOk();
            SignedJWT jwt = SignedJWT.parse(r.out().trim());
            assertEquals(JWSAlgorithm.RS512, jwt.getHeader().getAlgorithm());
            assertEquals("other", jwt.getHeader().getKeyID());
            assertTrue(server.requests.isEmpty());
        }
    }

    @Test
    void transientFailuresAreRetriedEachWithAFreshJti() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (FakeServer server = new FakeServer(r -> calls.incrementAndGet() <= 2
                ? new FakeServer.Reply(calls.get() == 1 ? 503 : 429, Map.of("Retry-After", "0"), "busy")
                : FakeServer.Reply.token("third-time"))) {
            assertEquals("third-time\n", getToken(server, "--format", "token").assertOk().out());
            assertEquals(3, server.requests.size());
            Set<String> jtis = new HashSet<>();
            for (FakeServer.Request req : server.requests) {
                jtis.add((String) SignedJWT.parse(req.form().get("client_assertion")).getJWTClaimsSet().getJWTID());
            }
            assertEquals(3, jtis.size(), "every retry signs a new assertion");
        }
        try (FakeServer alwaysBusy = new FakeServer(r -> new FakeServer.Reply(503, Map.of("Retry-After", "0"), "busy"))) {
            getToken(alwaysBusy).assertNoStackTrace();
            TestSupport.Result r = getToken(alwaysBusy);
            assertEquals(3, r.exit());
            assertEquals(6, alwaysBusy.requests.size(), "two runs of 1 try + 2 retries");
            assertTrue(r.err().contains("HTTP 503"), r.err());
        }
    }

    /** Every row of the NHS error table a client can meet, with the hint it must get. */
    static Stream<Arguments> errorRows() {
        String ij = "invalid_request";
        return Stream.of(
                Arguments.of(404, ij, "Not Found", "<base>/oauth2/token"),
                Arguments.of(415, ij, "Content-Type header must be application/x-www-form-urlencoded", "proxy"),
                Arguments.of(400, ij, "grant_type is missing", "proxy"),
                Arguments.of(400, "unsupported_grant_type", "grant_type is invalid", "proxy"),
                Arguments.of(400, ij, "Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'", "proxy"),
                Arguments.of(400, ij, "Missing client_assertion", "proxy"),
                Arguments.of(400, ij, "Malformed JWT in client_assertion", "report this"),
                Arguments.of(400, ij, "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'", "report this"),
                Arguments.of(400, ij, "Invalid 'exp' claim in client_assertion JWT - JWT has expired", "your clock is"),
                Arguments.of(400, ij, "Missing 'kid' header in client_assertion JWT", "report this"),
                Arguments.of(400, ij, "Invalid 'typ' header in client_assertion JWT - must be 'JWT'", "report this"),
                Arguments.of(400, ij, "Missing 'exp' claim in client_assertion JWT", "report this"),
                Arguments.of(400, ij, "Invalid 'exp' claim in client_assertion JWT - must be an integer", "report this"),
                Arguments.of(400, ij, "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT", "report this"),
                Arguments.of(400, ij, "Missing 'jti' claim in client_assertion JWT", "report this"),
                Arguments.of(400, ij, "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID", "report this"),
                Arguments.of(400, ij, "Non-unique 'jti' claim in client_assertion JWT", "fresh client assertion"),
                Arguments.of(400, ij, "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future", "your clock is"),
                Arguments.of(401, ij, "Invalid 'iss'/'sub' claims in client_assertion JWT", "API keys are per environment"),
                Arguments.of(403, "public_key error", "You need to register a public key to use this authentication method - please contact support to configure", "Manage public key"),
                Arguments.of(403, "public_key error", "The JWKS endpoint, for your client_assertion can't be reached", "public HTTPS"),
                Arguments.of(401, ij, "Invalid 'kid' header in client_assertion JWT - no matching public key", "no key with kid 'test-kid'"),
                Arguments.of(401, "public_key error", "JWT signature verification failed", "is not this private key (thumbprint"),
                Arguments.of(401, ij, "Missing or invalid 'aud' claim in client_assertion JWT", "exact URL posted to"),
                Arguments.of(401, "unauthorized_client", "you have tried to request authorization but your application is not configured to use this authorization grant type", "application-restricted"),
                Arguments.of(500, "unknown_error", "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support quoting Message ID", "message_id"));
    }

    @ParameterizedTest
    @MethodSource("errorRows")
    void everyTokenEndpointErrorIsExit3WithItsHint(int status, String error, String description, String hint) throws Exception {
        String date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
                java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).minusSeconds(120));
        try (FakeServer server = new FakeServer(r -> {
            FakeServer.Reply reply = FakeServer.Reply.nhsError(status, error, description);
            Map<String, String> headers = new java.util.HashMap<>(reply.headers());
            headers.put("Date", date);
            return new FakeServer.Reply(status, headers, reply.body());
        })) {
            TestSupport.Result r = getToken(server, "--format", "token");
            assertEquals(3, r.exit(), r.err());
            assertEquals("", r.out());
            r.assertNoStackTrace();
            List<String> lines = r.err().lines().filter(l -> !l.startsWith("using kid") && !l.startsWith("warning")).toList();
            assertEquals(2, lines.size(), r.err());
            assertEquals("get-token: token endpoint refused: HTTP " + status + " " + error + ": " + description
                    + " (message_id rrt-test-1)", lines.get(0));
            assertTrue(lines.get(1).startsWith("hint: ") && lines.get(1).contains(hint), lines.get(1));
            // The key's own thumbprint, made only for these hints.
            boolean showsKey = description.startsWith("Invalid 'kid' header") || description.startsWith("JWT signature");
            assertEquals(showsKey, lines.get(1).contains("thumbprint: " + NhsKeys.thumbprint(publicKey) + ")")
                    || lines.get(1).contains("thumbprint " + NhsKeys.thumbprint(publicKey) + ")"), lines.get(1));
            if (description.contains("'exp'") && hint.equals("your clock is")) {
                assertTrue(lines.get(1).matches(".*your clock is \\d+ s (ahead of|behind) the token endpoint's \\(its Date: .*"),
                        lines.get(1));
            }
        }
    }

    @Test
    void aMethodNotAllowedWithEmptyBodyAndAProxyHtmlPageAreReportedAsSuch() throws Exception {
        try (FakeServer server = new FakeServer(r -> new FakeServer.Reply(405, Map.of("Allow", "POST"), null))) {
            TestSupport.Result r = getToken(server);
            assertEquals(3, r.exit());
            assertTrue(r.err().contains("HTTP 405 with no body"), r.err());
        }
        try (FakeServer proxy = new FakeServer(r -> new FakeServer.Reply(502, Map.of("Content-Type", "text/html"),
                "<html><body><h1>502 Bad Gateway</h1></body></html>\n"))) {
            TestSupport.Result r = getToken(proxy);
            assertEquals(3, r.exit());
            assertTrue(r.err().contains("HTTP 502, not NHS JSON (<html><body><h1>502 Bad Gateway</h1></body></html>)"), r.err());
            assertTrue(r.err().contains("hint: a proxy or gateway"), r.err());
        }
    }

    @Test
    void aRedirectIsNeverFollowedWithTheAssertion() throws Exception {
        try (FakeServer elsewhere = new FakeServer(r -> FakeServer.Reply.token("stolen"));
             FakeServer server = new FakeServer(r -> new FakeServer.Reply(301,
                     Map.of("Location", elsewhere.url("/oauth2/token")), null))) {
            TestSupport.Result r = getToken(server);
            assertEquals(3, r.exit(), r.err());
            assertTrue(r.err().contains("redirected (HTTP 301) to " + elsewhere.url("/oauth2/token")), r.err());
            assertTrue(elsewhere.requests.isEmpty(), "the assertion never reaches another host");
        }
    }

    @Test
    void aTwoHundredWithoutATokenIsExit3() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.json(200, "{\"token_type\": \"Bearer\"}"))) {
            TestSupport.Result r = getToken(server);
            assertEquals(3, r.exit());
            assertTrue(r.err().contains("without an access_token"), r.err());
        }
        try (FakeServer server = new FakeServer(r -> new FakeServer.Reply(200, Map.of(), "OK"))) {
            assertTrue(getToken(server).err().contains("but not with JSON (OK)"));
        }
    }

    @Test
    void anExpiresInOutOfRangeIsExit3WithNothingPrintedNorCached() throws Exception {
        Path cache = keys.resolve("expiry-cache");
        for (String expiresIn : List.of("9223372036854775807", "\"-1\"", "1e30")) {
            try (FakeServer server = new FakeServer(r -> FakeServer.Reply.json(200,
                    "{\"access_token\": \"never-shown\", \"expires_in\": " + expiresIn + ", \"token_type\": \"Bearer\"}"))) {
                TestSupport.Result r = getToken(server, "--format", "text", "--token-cache", "--token-cache-dir", cache.toString());
                r.assertOneLineErrorWithHint(3, "expires_in", "not 1 to 86400 s");
                assertFalse(r.err().contains("never-shown"), r.err());
            }
        }
        try (FakeServer good = new FakeServer(r -> FakeServer.Reply.token("good-one"))) {
            assertEquals("good-one\n", getToken(good, "--format", "token", "--token-cache", "--token-cache-dir",
                    cache.toString()).assertOk().out(), "nothing unusable was cached");
        }
    }

    @Test
    void anHtmlPageWithStatus200IsANetworkFailureNotARefusal() throws Exception {
        try (FakeServer portal = new FakeServer(r -> new FakeServer.Reply(200, Map.of("Content-Type", "text/html"),
                "<html><head><title>Sign in to guest Wi-Fi</title></head></html>\n"))) {
            TestSupport.Result r = getToken(portal).assertOneLineErrorWithHint(5, "HTTP 200 but not with JSON (<html>");
            assertTrue(r.err().contains("hint: something other than the NHS token endpoint answered"), r.err());
        }
        // A token answer that is not quite JSON is not quoted back: it holds the token.
        for (String broken : List.of("{\"access_token\": \"Sup3rSecretT0ken\", \"expires_in\": 599",
                "access_token=Sup3rSecretT0ken&expires_in=599")) {
            try (FakeServer server = new FakeServer(r -> new FakeServer.Reply(200, Map.of(), broken))) {
                TestSupport.Result r = getToken(server).assertOneLineErrorWithHint(5, "HTTP 200 but not with JSON");
                assertFalse(r.err().contains("Sup3rSecret"), r.err());
            }
        }
    }

    @Test
    void tokenRequestResendsAreSaidOnStderr() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (FakeServer server = new FakeServer(r -> calls.incrementAndGet() == 1
                ? new FakeServer.Reply(429, Map.of("Retry-After", "0"), "busy") : FakeServer.Reply.token("second"))) {
            TestSupport.Result r = getToken(server, "--format", "token").assertOk();
            assertTrue(r.err().contains("warning: HTTP 429 from the token endpoint; will retry in 0 s, 1 retry left\n"), r.err());
        }
        TestSupport.Result refused = TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key",
                pem.toString(), "--token-url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/oauth2/token");
        assertEquals(2, refused.err().lines().filter(l -> l.startsWith("warning: cannot connect to the token endpoint")
                && l.contains("; will retry in ")).count(), refused.err());
    }

    @Test
    void networkFailuresAreExit5NamingTheCause() throws Exception {
        TestSupport.Result refused = TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key",
                pem.toString(), "--token-url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/oauth2/token");
        assertEquals(5, refused.exit());
        assertTrue(refused.err().contains("connection refused"), refused.err());

        try (FakeServer silent = new FakeServer(r -> null)) {
            TestSupport.Result r = getToken(silent, "--timeout", "1");
            assertEquals(5, r.exit(), r.err());
            assertTrue(r.err().contains("did not answer within 1 s"), r.err());
            // A busy machine may give up on the request before the server has logged it: wait for the
            // log (a hang guard, not a timing), then check it holds one request, not a retry.
            for (int i = 0; i < 600 && silent.requests.isEmpty(); i++) {
                Thread.sleep(100);
            }
            assertEquals(1, silent.requests.size(), "a timeout is not retried: the request may have been processed");
        }
    }

    @Test
    void verboseTracesTheExchangeWithSecretsRedacted() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("secret-token-value"))) {
            TestSupport.Result r = getToken(server, "--verbose", "--format", "json").assertOk();
            assertTrue(r.err().contains("> POST " + server.url("/oauth2/token")), r.err());
            assertTrue(r.err().contains("< HTTP 200"), r.err());
            String assertion = server.requests.get(0).form().get("client_assertion");
            assertFalse(r.err().contains(assertion), "assertion on stderr");
            assertFalse(r.err().contains("secret-token-value"), "token on stderr");
        }
    }

    @Test
    void badOptionValuesAreOneLineUsageErrors() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("x"))) {
            getToken(server, "--timeout", "soon").assertOneLineError(2, "--timeout 'soon'");
            getToken(server, "--env", "live").assertOneLineError(2, "unknown environment 'live'");
            getToken(server, "--format", "xml").assertOneLineError(2, "--format");
            TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key", pem.toString(),
                    "--token-url", "ftp://example.org/token").assertOneLineError(2, "must start with https://");
            TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key", keys.resolve("nope.pem").toString())
                    .assertOneLineError(2, "nope.pem", "does not exist");
            TestSupport.runInProcess(new GetToken(), "--private-key", pem.toString())
                    .assertOneLineError(2, "no API key", "NHS_API_KEY");
            assertTrue(server.requests.isEmpty());
        }
    }

    @Test
    void helpNeverShowsSecretDefaults() {
        TestSupport.Result r = TestSupport.runInProcess(new GetToken(), "--help").assertOk();
        assertTrue(r.out().contains("--private-key-passphrase"), r.out());
        assertTrue(r.out().contains("Exit codes:"), r.out());
        assertFalse(r.out().contains("${env:"), r.out());
    }

    @Test
    void theLibraryReusesATokenWithinItsLife() throws Exception {
        try (FakeServer server = new FakeServer(r -> FakeServer.Reply.token("reused"))) {
            NhsClient client = NhsClient.builder().apiKey("k").privateKey(pem, null)
                    .tokenUrl(server.url("/oauth2/token")).notices(null).build();
            assertEquals("reused", client.accessToken());
            assertEquals("reused", client.accessToken());
            assertEquals(1, server.requests.size());
            assertNotEquals(client.clientAssertion(), client.clientAssertion());
        }
    }

    @Test
    void loopbackGoesDirectWhateverTheProxyVariablesSay() throws Exception {
        try (FakeServer target = new FakeServer(r -> FakeServer.Reply.token("direct"));
             FakeServer proxy = new FakeServer(r -> FakeServer.Reply.token("via-proxy"))) {
            for (Map<String, String> vars : List.of(Map.of("HTTP_PROXY", "http://127.0.0.1:" + proxy.port()),
                    Map.of("http_proxy", "127.0.0.1:" + proxy.port(), "NO_PROXY", "localhost,127.0.0.1:" + target.port()),
                    Map.of("HTTP_PROXY", "http://127.0.0.1:" + proxy.port(), "no_proxy", "127.0.0.1:1"))) {
                NhsClient client = NhsClient.builder().apiKey("k").privateKey(pem, null).notices(null)
                        .tokenUrl(target.url("/oauth2/token")).proxyVariables(vars).build();
                assertEquals("direct", client.requestToken().value(), vars.toString());
            }
            assertTrue(proxy.requests.isEmpty(), "the client assertion never went in clear to a proxy");
        }
    }

    @Test
    void aProxyThatIsDownIsExit5NamingTheProxy() throws Exception {
        try (FakeServer target = new FakeServer(r -> FakeServer.Reply.token("x"))) {
            NhsClient client = NhsClient.builder().apiKey("k").privateKey(pem, null).notices(null)
                    .tokenUrl("https://" + ForwardProxy.ORIGIN + ":" + target.port() + "/oauth2/token")
                    .proxyVariables(Map.of("HTTPS_PROXY", "http://127.0.0.1:" + TestSupport.refusedPort())).build();
            NetworkException e = org.junit.jupiter.api.Assertions.assertThrows(NetworkException.class,
                    client::requestToken);
            assertTrue(e.getMessage().contains("cannot connect to the proxy"), e.getMessage());
            assertTrue(e.hint().contains("HTTPS_PROXY"), e.hint());
            assertTrue(target.requests.isEmpty());
        }
    }
}
