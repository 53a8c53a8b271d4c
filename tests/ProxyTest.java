import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.sun.net.httpserver.HttpExchange;

/**
 * Authenticating corporate proxies, with real parts: a forward proxy that wants Basic credentials
 * (absolute-form http and CONNECT tunnels), a TLS origin whose CA is made for the run, and the
 * commands in-process and through ./jbang. The bearer token must reach the API, a 407 is exit 5,
 * and no proxy password is ever printed.
 */
class ProxyTest {
    /** Every character that needs percent-encoding in a proxy URL, and a '+' that must stay a '+'. */
    static final String USER = "ali ce@corp";
    static final String PASSWORD = "p+ss/w%rd@x:y";
    static final String TOKEN = "proxied-access-token-0123456789";

    @TempDir
    static Path dir;
    static Path pem;
    static final TestTls tls = TestFixture.tls();

    @BeforeAll
    static void key() {
        pem = TestFixture.key(dir, "proxy-kid");
    }

    /** What the origin saw: each request's path, Authorization and Proxy-Authorization. */
    static final class Origin {
        final List<String[]> seen = new CopyOnWriteArrayList<>();

        void handle(HttpExchange exchange) throws java.io.IOException {
            String path = exchange.getRequestURI().getPath();
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            seen.add(new String[] {path, authorization, exchange.getRequestHeaders().getFirst("Proxy-Authorization")});
            exchange.getRequestBody().readAllBytes();
            String body;
            int status;
            if (path.equals("/oauth2/token")) {
                status = 200;
                body = "{\"access_token\": \"" + TOKEN + "\", \"expires_in\": \"599\", \"token_type\": \"Bearer\"}";
            } else {
                boolean ok = ("Bearer " + TOKEN).equals(authorization);
                status = ok ? 200 : 401;
                body = ok ? "{\"message\": \"Hello Application!\"}" : "{\"error\": \"no bearer token arrived\"}";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
            exchange.close();
        }
    }

    static String proxyUrl(ForwardProxy proxy, String user, String password) {
        return "http://" + ForwardProxy.percentEncode(user) + ":" + ForwardProxy.percentEncode(password) + "@127.0.0.1:"
                + proxy.port();
    }

    static TestSupport.Result callApi(Map<String, String> proxyVars, String base, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "proxy-api-key", "--private-key", pem.toString(),
                "--token-url", base + "/oauth2/token", "--url", base + "/hello-world/hello/application",
                "--cacert", tls.caPem().toString()));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(withVariables(new CallApi(), proxyVars), args.toArray(String[]::new));
    }

    @Test
    void overHttpsTheTunnelIsAuthenticatedAndTheBearerTokenArrives() throws Exception {
        Origin origin = new Origin();
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             TestTls.Server api = tls.serve(tls.good(), origin::handle)) {
            assertEquals("", System.getProperty("jdk.http.auth.tunneling.disabledSchemes"),
                    "the scripts' runtime option lets Basic credentials into CONNECT");
            TestSupport.Result r = callApi(Map.of("HTTPS_PROXY", proxyUrl(proxy, USER, PASSWORD)),
                    ForwardProxy.viaProxy(api.url(""))).assertOk();
            assertTrue(r.out().contains("Hello Application!"), r.out());
            assertTrue(proxy.requests.stream().allMatch(ForwardProxy.Seen::isConnect), "https goes through CONNECT");
            assertEquals(proxy.basicAuthorization(), proxy.requests.get(proxy.requests.size() - 1).header("Proxy-Authorization"));
            assertEquals(2, origin.seen.size());
            assertEquals("Bearer " + TOKEN, origin.seen.get(1)[1], "the bearer token reached the API");
            origin.seen.forEach(s -> assertNull(s[2], "proxy credentials never pass through the tunnel"));
            assertSecretsKept(r);
        }
    }

    @Test
    void overPlainHttpTheRequestIsAuthenticatedAndNoSecretGoesInClear() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             FakeServer api = new FakeServer(req -> req.uri().startsWith("/oauth2/token") ? FakeServer.Reply.token(TOKEN)
                     : FakeServer.Reply.json(req.header("Authorization") == null ? 200 : 400, "{}"))) {
            String base = ForwardProxy.viaProxy(api.url(""));
            Map<String, String> vars = Map.of("HTTP_PROXY", proxyUrl(proxy, USER, PASSWORD));
            TestSupport.runInProcess(withVariables(new CallApi(), vars), "--api-key", "k", "--private-key", pem.toString(),
                    "--token-url", base + "/oauth2/token", "--url", base + "/api")
                    .assertOneLineError(2, "plain http to another machine");
            assertTrue(api.requests.isEmpty() && proxy.requests.isEmpty(), "no secret went anywhere");
            TestSupport.Result r = TestSupport.runInProcess(withVariables(new CallApi(), vars), "--auth", "none",
                    "--url", base + "/api", "--verbose").assertOk();
            assertEquals(1, proxy.forwarded());
            assertTrue(proxy.requests.stream().allMatch(s -> proxy.basicAuthorization().equals(s.header("Proxy-Authorization"))));
            assertNull(api.requests.get(0).header("Authorization"));
            assertNull(api.requests.get(0).header("Proxy-Authorization"));
            assertTrue(r.err().contains("> Proxy-Authorization: Basic ****"), r.err());
            assertSecretsKept(r);
        }
    }

    @Test
    void loopbackIsNeverProxiedSoNoSecretInClearReachesAProxy() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy();
             FakeServer api = new FakeServer(req -> req.uri().startsWith("/oauth2/token") ? FakeServer.Reply.token(TOKEN)
                     : FakeServer.Reply.json(("Bearer " + TOKEN).equals(req.header("Authorization")) ? 200 : 401, "{}"))) {
            for (String host : List.of("127.0.0.1", "localhost")) {
                String base = api.url("").replace("127.0.0.1", host);
                TestSupport.runInProcess(withVariables(new CallApi(), Map.of("HTTP_PROXY", proxy.url())), "--api-key", "k",
                        "--private-key", pem.toString(), "--token-url", base + "/oauth2/token", "--url", base + "/api").assertOk();
            }
            assertEquals(4, api.requests.size());
            assertTrue(proxy.requests.isEmpty(), "neither the client assertion nor the token went through the proxy");
        }
    }

    @Test
    void theLibraryGetsItsBearerTokenThroughAnAuthenticatingProxy() throws Exception {
        Origin origin = new Origin();
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             TestTls.Server api = tls.serve(tls.good(), origin::handle)) {
            String base = ForwardProxy.viaProxy(api.url(""));
            NhsClient client = NhsClient.builder().apiKey("k").privateKey(pem, null).tokenUrl(base + "/oauth2/token")
                    .caCertificates(tls.caPem()).proxyVariables(Map.of("https_proxy", proxyUrl(proxy, USER, PASSWORD)))
                    .notices(null).build();
            assertEquals(200, client.get(base + "/hello-world/hello/application").statusCode());
            assertEquals("Bearer " + TOKEN, origin.seen.get(1)[1]);
            assertTrue(proxy.tunnels() >= 1, "through the proxy's tunnel");
        }
    }

    @ParameterizedTest(name = "{0} with {1}")
    @CsvSource({"https, no credentials", "https, a wrong password", "http, no credentials", "http, a wrong password"})
    void a407IsANetworkFailureNamingProxyAuthenticationAndNeverThePassword(String scheme, String credentials)
            throws Exception {
        Origin origin = new Origin();
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             TestTls.Server tlsApi = tls.serve(tls.good(), origin::handle);
             FakeServer plainApi = new FakeServer(req -> FakeServer.Reply.token(TOKEN))) {
            String url = credentials.startsWith("no") ? "http://127.0.0.1:" + proxy.port()
                    : proxyUrl(proxy, USER, "wrong" + PASSWORD);
            String variable = scheme.equals("https") ? "HTTPS_PROXY" : "HTTP_PROXY";
            String base = ForwardProxy.viaProxy(scheme.equals("https") ? tlsApi.url("") : plainApi.url(""));
            TestSupport.Result r = scheme.equals("https") ? callApi(Map.of(variable, url), base)
                    : TestSupport.runInProcess(withVariables(new CallApi(), Map.of(variable, url)), "--auth", "none",
                            "--url", base + "/hello-world/hello/application");
            r.assertOneLineErrorWithHint(5, "proxy 127.0.0.1:" + proxy.port(), variable, "407");
            assertTrue(r.err().contains(credentials.startsWith("no") ? "USER:PASSWORD@" : "refused the user name and password"),
                    r.err());
            assertTrue(origin.seen.isEmpty() && plainApi.requests.isEmpty(), "nothing got past the proxy");
            assertSecretsKept(r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"p+ss", "p%2Bss", "%25", "a:b@c/d", "caf\u00e9"})
    void proxyPasswordsArePercentDecodedExactlyOnce(String password) throws Exception {
        String raw = password.equals("p%2Bss") ? "p+ss" : password.equals("%25") ? "%" : password;
        try (ForwardProxy proxy = new ForwardProxy("u", raw);
             TestTls.Server api = tls.serve(tls.good(), new Origin()::handle)) {
            // As users write them: '+' literally, the rest percent-encoded.
            String encoded = password.equals("p%2Bss") || password.equals("p+ss") ? password
                    : ForwardProxy.percentEncode(raw);
            Map<String, String> vars = Map.of("HTTPS_PROXY", "http://u:" + encoded + "@127.0.0.1:" + proxy.port());
            TestSupport.runInProcess(withVariables(new GetToken(), vars), "--api-key", "k", "--private-key",
                    pem.toString(), "--token-url", ForwardProxy.viaProxy(api.url("/oauth2/token")), "--cacert",
                    tls.caPem().toString(), "--format", "token").assertOk();
            assertEquals("Basic " + Base64.getEncoder().encodeToString(("u:" + raw).getBytes(StandardCharsets.UTF_8)),
                    proxy.requests.get(proxy.requests.size() - 1).header("Proxy-Authorization"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "http://alice:s3cr%zzet@127.0.0.1:3128 | percent-encoded (% as %25",
        "http://alice:s3cret@proxy host:3128 | is not a proxy URL",
        "socks5://alice:s3cret@127.0.0.1:1080 | only HTTP proxies"})
    void aBadProxyUrlIsOneLineExit2WithoutThePassword(String url, String expected) throws Exception {
        TestSupport.Result r = TestSupport.runInProcess(withVariables(new GetToken(), Map.of("HTTPS_PROXY", url)),
                "--api-key", "k", "--private-key", pem.toString(), "--token-url", "https://127.0.0.1:9/oauth2/token");
        r.assertOneLineError(2, "HTTPS_PROXY", expected);
        assertFalse(r.err().contains("s3cr"), r.err());
    }

    @Test
    void cidrRangesInNoProxyGoDirectAndProxiesPrintAsHostAndPort() throws Exception {
        try (FakeServer api = new FakeServer(req -> FakeServer.Reply.token(TOKEN))) {
            int deadPort = TestSupport.refusedPort();
            for (String noProxy : List.of("127.0.0.0/8", "10.0.0.0/8, 127.0.0.1/32", "*")) {
                Map<String, String> vars = Map.of("HTTP_PROXY", "http://u:s3cret@127.0.0.1:" + deadPort, "NO_PROXY", noProxy);
                TestSupport.runInProcess(withVariables(new GetToken(), vars), "--api-key", "k", "--private-key",
                        pem.toString(), "--token-url", api.url("/oauth2/token"), "--format", "token").assertOk();
            }
            api.requests.forEach(req -> assertNull(req.header("Proxy-Authorization"),
                    "a host that goes direct never sees the proxy's credentials"));
            Map<String, String> vars = Map.of("HTTPS_PROXY", "http://127.0.0.1:" + deadPort, "NO_PROXY", "10.0.0.0/8");
            TestSupport.Result r = TestSupport.runInProcess(withVariables(new GetToken(), vars), "--api-key", "k",
                    "--private-key", pem.toString(), "--token-url", "https://" + ForwardProxy.ORIGIN + "/oauth2/token");
            r.assertOneLineErrorWithHint(5, "cannot connect to the proxy 127.0.0.1:" + deadPort + " (HTTPS_PROXY)");
            assertFalse(r.err().contains("unresolved"), r.err());
        }
    }

    @Test
    void throughRealProcessesCallApiGetsItsTokenAcrossAnAuthenticatingTunnel() throws Exception {
        Origin origin = new Origin();
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             TestTls.Server api = tls.serve(tls.good(), origin::handle)) {
            Map<String, String> env = new HashMap<>(Map.of("HTTPS_PROXY", proxyUrl(proxy, USER, PASSWORD),
                    "NHS_API_KEY", "k", "NHS_PRIVATE_KEY", pem.toString(), "NHS_CA_CERT", tls.caPem().toString(),
                    "NHS_TOKEN_URL", ForwardProxy.viaProxy(api.url("/oauth2/token"))));
            TestSupport.Result r = TestSupport.jbang(dir, env, "call-api@" + TestSupport.repoRoot(), "--url",
                    ForwardProxy.viaProxy(api.url("/hello-world/hello/application")), "--verbose").assertOk();
            assertTrue(r.out().contains("Hello Application!"), r.out() + r.err());
            assertEquals("Bearer " + TOKEN, origin.seen.get(origin.seen.size() - 1)[1]);
            assertSecretsKept(r);
        }
    }

    /** Neither the password, nor its Basic encoding, nor the token appears in anything printed. */
    static void assertSecretsKept(TestSupport.Result r) {
        String all = r.out() + r.err();
        String basic = Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
        for (String secret : List.of(PASSWORD, ForwardProxy.percentEncode(PASSWORD), "s3cret", basic, TOKEN)) {
            assertFalse(all.contains(secret), () -> "printed a secret (" + secret + "):\n" + all);
        }
    }

    /** The command with its NHS_* and proxy variables taken from {@code vars} instead of the process. */
    static Object withVariables(Object command, Map<String, String> vars) {
        NhsCli.ClientOptions options = new NhsCli.ClientOptions();
        options.variables = vars;
        if (command instanceof CallApi callApi) {
            callApi.options = options;
        } else {
            ((GetToken) command).options = options;
        }
        return command;
    }
}
