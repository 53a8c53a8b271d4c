import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The platform's three application-restricted patterns: signed JWT (a bearer token), API key
 * (an apikey header, no token, no private key) and open access (nothing sent), in call-api, the
 * library and the mock server.
 */
class AuthPatternsTest {

    static final String KEY = "app-key-7f3a9c";

    @TempDir
    static Path keys;
    static Path pem;
    static Path missingPem;

    FakeServer tokenEndpoint;
    FakeServer api;

    @BeforeAll
    static void makeKey() {
        pem = TestFixture.key(keys, "pattern-1");
        missingPem = keys.resolve("not-there.pem");
    }

    @BeforeEach
    void servers() throws Exception {
        tokenEndpoint = new FakeServer(r -> FakeServer.Reply.token("bearer-secret-77"));
        api = new FakeServer(r -> FakeServer.Reply.json(200, "{\"ok\": true}"));
    }

    @AfterEach
    void stop() {
        tokenEndpoint.close();
        api.close();
    }

    TestSupport.Result callApi(String... args) {
        return TestSupport.runInProcess(new CallApi(), args);
    }

    @Test
    void apiKeySendsTheKeyHeaderAndNeitherFetchesATokenNorReadsAPrivateKey() {
        TestSupport.Result r = callApi("--auth", "api-key", "--api-key", KEY, "--private-key", missingPem.toString(),
                "--token-url", tokenEndpoint.url("/oauth2/token"), "--url", api.url("/hello")).assertOk();
        assertEquals("{\"ok\": true}", r.out());
        FakeServer.Request sent = api.requests.get(0);
        assertEquals(KEY, sent.header("apikey"));
        assertNull(sent.header("Authorization"));
        assertTrue(tokenEndpoint.requests.isEmpty(), "no token request");
        assertFalse(r.err().contains(KEY), "the API key is not talked about: " + r.err());
    }

    @Test
    void apiKeyNeedsOnlyTheKeyAndSaysSoWhenItIsMissing() {
        callApi("--auth", "api-key", "--url", api.url("/hello"))
                .assertOneLineError(2, "no API key", "--api-key", "apikey");
        assertTrue(api.requests.isEmpty());
    }

    @Test
    void noneSendsNothingButTheRequestAndNeedsNoSettings() {
        TestSupport.Result r = callApi("--auth", "none", "--url", api.url("/open"),
                "--private-key", missingPem.toString()).assertOk();
        FakeServer.Request sent = api.requests.get(0);
        assertNull(sent.header("Authorization"));
        assertNull(sent.header("apikey"));
        assertTrue(sent.header("X-Request-ID") != null, "the request id still goes");
        assertFalse(r.err().contains("open access"), "an explicit --auth none needs no note: " + r.err());
        assertTrue(tokenEndpoint.requests.isEmpty());
    }

    @Test
    void theSandboxNeedsNeitherAnApiKeyNorAPrivateKey() {
        TestSupport.Result r = callApi("--env", "sandbox", "--url", api.url("/sandbox")).assertOk();
        assertNull(api.requests.get(0).header("Authorization"));
        assertNull(api.requests.get(0).header("apikey"));
        assertTrue(r.err().contains("open access"), r.err());
        callApi("--env", "sandbox", "--private-key", missingPem.toString(), "--url", api.url("/sandbox")).assertOk();
    }

    @Test
    void theSandboxTakesAnExplicitPattern() {
        callApi("--env", "sandbox", "--auth", "api-key", "--api-key", KEY, "--url", api.url("/s")).assertOk();
        assertEquals(KEY, api.requests.get(0).header("apikey"));
        callApi("--env", "sandbox", "--auth", "signed-jwt", "--api-key", KEY, "--private-key", pem.toString(),
                "--token-url", tokenEndpoint.url("/oauth2/token"), "--url", api.url("/s")).assertOk();
        assertEquals("Bearer bearer-secret-77", api.requests.get(1).header("Authorization"));
    }

    @Test
    void signedJwtStaysTheDefaultAndStillNeedsItsKey() {
        callApi("--api-key", KEY, "--private-key", pem.toString(), "--token-url", tokenEndpoint.url("/oauth2/token"),
                "--url", api.url("/x")).assertOk();
        assertEquals("Bearer bearer-secret-77", api.requests.get(0).header("Authorization"));
        assertNull(api.requests.get(0).header("apikey"), "a token needs no apikey header");
        callApi("--api-key", KEY, "--url", api.url("/x")).assertOneLineError(2, "no private key", "--private-key");
    }

    @Test
    void verboseRedactsTheApikeyHeader() {
        TestSupport.Result r = callApi("--auth", "api-key", "--api-key", KEY, "--url", api.url("/v"), "--verbose")
                .assertOk();
        assertTrue(r.err().toLowerCase().contains("> apikey: ****"), r.err());
        assertFalse(r.err().contains(KEY) || r.out().contains(KEY), "the API key is in the trace: " + r.err());
        TestSupport.Result header = callApi("--auth", "none", "--url", api.url("/v"), "--header", "apikey: " + KEY,
                "--verbose").assertOk();
        assertFalse(header.err().contains(KEY), "an apikey given as a header is redacted too: " + header.err());
    }

    @Test
    void anUnknownPatternIsOneLineNamingTheValidOnes() {
        callApi("--auth", "bearer", "--url", api.url("/x"))
                .assertOneLineError(2, "--auth", "signed-jwt, api-key, none");
        assertTrue(api.requests.isEmpty());
    }

    // ------------------------------------------------------------------ the library

    @Test
    void theLibraryReadsNhsAuthAndSendsTheApiKeyHeader() {
        NhsClient client = NhsClient.builder().fromEnvironment(Map.of("NHS_AUTH", "api-key", "NHS_API_KEY", KEY,
                "NHS_PRIVATE_KEY", missingPem.toString())).notices(null).build();
        assertEquals(NhsAuthPattern.API_KEY, client.auth());
        assertFalse(client.usesToken());
        assertNull(client.keyThumbprint());
        assertEquals(200, client.send(HttpRequest.newBuilder(URI.create(api.url("/lib")))).statusCode());
        assertEquals(KEY, api.requests.get(0).header("apikey"));
        UsageException noToken = assertThrows(UsageException.class, client::accessToken);
        assertTrue(noToken.getMessage().contains("NHS_AUTH") && noToken.getMessage().contains("auth(…)"),
                noToken.getMessage());
        assertThrows(UsageException.class, client::clientAssertion);
    }

    @Test
    void theLibrarysSandboxClientNeedsNoSettingsAtAll() {
        NhsClient client = NhsClient.builder().fromEnvironment(Map.of("NHS_ENV", "sandbox")).notices(null).build();
        assertEquals(NhsAuthPattern.NONE, client.auth());
        client.send(HttpRequest.newBuilder(URI.create(api.url("/sandbox"))));
        assertNull(api.requests.get(0).header("Authorization"));
        assertNull(api.requests.get(0).header("apikey"));

        NhsClient tokens = NhsClient.builder().fromEnvironment(Map.of("NHS_ENV", "sandbox", "NHS_AUTH", "signed-jwt",
                "NHS_API_KEY", KEY, "NHS_PRIVATE_KEY", pem.toString())).notices(null).build();
        assertEquals(NhsAuthPattern.SIGNED_JWT, tokens.auth());
    }

    @Test
    void theLibraryNamesNhsAuthOnABadValueAndTheBuilderMethodOnAMissingKey() {
        UsageException bad = assertThrows(UsageException.class,
                () -> NhsClient.builder().fromEnvironment(Map.of("NHS_AUTH", "oauth")));
        assertTrue(bad.getMessage().contains("NHS_AUTH") && bad.getMessage().contains("signed-jwt, api-key, none"),
                bad.getMessage());
        UsageException noKey = assertThrows(UsageException.class,
                () -> NhsClient.builder().auth(NhsAuthPattern.API_KEY).build());
        assertTrue(noKey.getMessage().contains("NHS_API_KEY") && noKey.getMessage().contains("apiKey(…)"),
                noKey.getMessage());
    }

    // ------------------------------------------------------------------ the mock's Hello World

    @Test
    void theMocksHelloApplicationTakesARegisteredKeyOrATokenAndRefusesAnUnknownKeyAsTheGatewayDoes() throws Exception {
        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App(KEY, keys.resolve("pattern-1.json").toString(), true)), 3600, null)) {
            String hello = mock.baseUrl() + "/hello-world/hello/application";
            TestSupport.Result byKey = callApi("--auth", "api-key", "--api-key", KEY, "--url", hello).assertOk();
            assertEquals("{\"message\":\"Hello Application!\"}", byKey.out());
            assertEquals(0, mock.tokensIssued());

            TestSupport.Result unknown = callApi("--auth", "api-key", "--api-key", "not-registered", "--url", hello);
            assertEquals(4, unknown.exit(), unknown.err());
            assertEquals("{\"fault\":{\"faultstring\":\"Invalid ApiKey\",\"detail\":{\"errorcode\":\"oauth.v2.InvalidApiKey\"}}}",
                    unknown.out());
            assertTrue(unknown.err().contains("HTTP 401"), unknown.err());

            assertEquals(4, callApi("--auth", "none", "--url", hello).exit(), "no credentials: refused");

            TestSupport.Result byToken = callApi("--api-key", KEY, "--private-key", pem.toString(),
                    "--token-url", mock.tokenUrl(), "--url", hello).assertOk();
            assertTrue(byToken.out().contains("Hello Application!"), byToken.out());

            TestSupport.Result open = callApi("--auth", "none", "--url", mock.baseUrl() + "/hello-world/hello/world")
                    .assertOk();
            assertEquals("{\"message\":\"Hello World!\"}", open.out());
        }
    }

    @Test
    void theMocksEchoRedactsAnApikeyHeader() {
        MockIdentityService mock = TestFixture.mock();
        TestSupport.Result r = callApi("--api-key", TestFixture.API_KEY, "--private-key", pem.toString(), "--token-url",
                mock.tokenUrl(), "--url", mock.baseUrl() + "/echo/x", "--header", "apikey: " + KEY).assertOk();
        assertFalse(r.out().contains(KEY), r.out());
        assertTrue(r.out().toLowerCase().contains("\"apikey\":\"****\""), r.out());
    }

    @Test
    void nhsAuthComesFromTheEnvironmentThroughTheAlias() throws Exception {
        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App(KEY, keys.resolve("pattern-1.json").toString(), true)), 3600, null)) {
            TestSupport.Result r = TestSupport.jbang(keys, Map.of("NHS_AUTH", "api-key", "NHS_API_KEY", KEY,
                    "NHS_PRIVATE_KEY", missingPem.toString()), "call-api@" + TestSupport.repoRoot(), "--url",
                    mock.baseUrl() + "/hello-world/hello/application").assertOk();
            assertTrue(r.out().contains("Hello Application!"), r.out());
            assertEquals(0, mock.tokensIssued(), "no token was fetched");
        }
    }
}
