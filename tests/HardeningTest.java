import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.sun.net.httpserver.HttpExchange;

/** Odd servers and clocks: slow and endless answers, a server clock ahead, refused cached tokens, Apigee faults, TLS. */
class HardeningTest {

    @TempDir
    static Path dir;
    static Path pem;
    static final TestTls tls = TestFixture.tls();

    @BeforeAll
    static void key() {
        pem = TestFixture.key(dir, "hard-kid");
    }

    static TestSupport.Result getToken(String tokenUrl, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "hard-api-key", "--private-key", pem.toString(),
                "--token-url", tokenUrl));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new GetToken(), args.toArray(String[]::new));
    }

    static TestSupport.Result callApi(String tokenUrl, String url, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "hard-api-key", "--private-key", pem.toString(),
                "--token-url", tokenUrl, "--url", url));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new CallApi(), args.toArray(String[]::new));
    }

    // ------------------------------------------------------------------ the timeout bounds the body

    /** A token endpoint, API and JWKS host that send their headers at once and then one byte each half second. */
    @Test
    void theTimeoutBoundsTheWholeAnswerOnEveryPath() throws Exception {
        try (ScriptedServer slow = ScriptedServer.trickling(200, 120);
             FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("hard-token"))) {
            getToken(slow.url("/oauth2/token"), "--timeout", "1.5")
                    .assertOneLineErrorWithHint(5, "token endpoint", "did not answer within 1.5 s");
            callApi(tokens.url("/oauth2/token"), slow.url("/api"), "--timeout", "1.5")
                    .assertOneLineErrorWithHint(5, "API", "did not answer within 1.5 s");
            TestSupport.Result jwks = TestSupport.runInProcess(new VerifyKeys(), "--private-key", pem.toString(),
                    "--jwks", slow.url("/jwks.json"), "--timeout", "1.5");
            jwks.assertOneLineErrorWithHint(5, "JWKS URL", "did not answer within 1.5 s");
            // Each answer takes a minute to trickle out: none may have been waited for to its end.
            assertEquals(0, slow.answeredWhole.get(), "answers read to the end despite the timeout");
        }
    }

    // ------------------------------------------------------------------ bounded reads

    @Test
    void anEndlessJwksAndAnOverLongTokenAnswerAreClearErrorsNotFullMemory() throws Exception {
        try (ScriptedServer endless = ScriptedServer.endless(200)) {
            TestSupport.Result r = TestSupport.runInProcess(new VerifyKeys(), "--private-key", pem.toString(),
                    "--jwks", endless.url("/jwks.json"));
            r.assertOneLineErrorWithHint(5, "JWKS URL", "more than 1024 KiB");
            getToken(endless.url("/oauth2/token")).assertOneLineErrorWithHint(5, "token endpoint", "more than 64 KiB");
        }
    }

    @Test
    void callApiStreamsALargeBodyInSmallMemory() throws Exception {
        long size = 96L * 1024 * 1024;
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("hard-token"));
             ScriptedServer big = ScriptedServer.sized(size)) {
            Path out = dir.resolve("download.bin");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            // 24 MiB of heap cannot hold a 96 MiB body: only streaming gets it through.
            String script = "exec \"$0\" -Xmx24m -cp \"$1\" CallApi --api-key k --private-key \"$2\" --token-url \"$3\" "
                    + "--url \"$4\" --timeout 900 > \"$5\"";
            TestSupport.Result r = TestSupport.process(dir, Map.of(), null, List.of("/bin/sh", "-c", script, java,
                    System.getProperty("java.class.path"), pem.toString(), tokens.url("/oauth2/token"), big.url("/big"),
                    out.toString()));
            r.assertOk();
            assertEquals(size, Files.size(out));
            Files.delete(out);
        }
    }

    // ------------------------------------------------------------------ clocks and cached tokens

    @Test
    void expiryRunsOnThisMachinesClockEvenWhenTheServersIsAhead() throws Exception {
        long fiveMinutesAhead = System.currentTimeMillis() + 300_000;
        try (FakeServer ahead = new FakeServer(r -> FakeServer.Reply.json(200, "{\"access_token\": \"a\", "
                + "\"expires_in\": \"599\", \"token_type\": \"Bearer\", \"issued_at\": \"" + fiveMinutesAhead + "\"}"))) {
            Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
            String json = getToken(ahead.url("/oauth2/token"), "--format", "json").assertOk().out();
            Instant after = Instant.now();
            Instant expiresAt = Instant.parse((String) TestSupport.parseJson(json).get("expires_at"));
            assertFalse(expiresAt.isBefore(before.plusSeconds(599)) || expiresAt.isAfter(after.plusSeconds(599)),
                    "expires " + expiresAt + ", not 599 s after the server's issued_at");
        }
    }

    @Test
    void aCachedTokenTheApiRefusesIsReplacedOnceAndNeverInALoop() throws Exception {
        AtomicInteger issued = new AtomicInteger();
        List<String> accepted = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (FakeServer server = new FakeServer(r -> {
            if (r.uri().startsWith("/oauth2/token")) {
                return FakeServer.Reply.token("token-" + issued.incrementAndGet());
            }
            String presented = r.header("Authorization");
            return FakeServer.Reply.json(accepted.contains(presented) ? 200 : 401, "{}");
        })) {
            Path cache = dir.resolve("refused-cache");
            String[] cached = {"--token-cache", "--token-cache-dir", cache.toString()};
            getToken(server.url("/oauth2/token"), cached).assertOk();
            assertEquals(1, issued.get());
            // The API no longer knows token-1 (revoked, or the cache came from another run): it knows token-2.
            accepted.add("Bearer token-2");
            callApi(server.url("/oauth2/token"), server.url("/api"), cached).assertOk();
            assertEquals(2, issued.get(), "one new token");
            callApi(server.url("/oauth2/token"), server.url("/api"), cached).assertOk();
            assertEquals(2, issued.get(), "the new token was cached in place of the refused one");

            accepted.clear();
            int apiCallsBefore = (int) server.requests.stream().filter(r -> r.uri().startsWith("/api")).count();
            TestSupport.Result refused = callApi(server.url("/oauth2/token"), server.url("/api"), cached);
            assertEquals(4, refused.exit(), refused.err());
            assertEquals(3, issued.get(), "one renewal, no loop");
            assertEquals(apiCallsBefore + 2, server.requests.stream().filter(r -> r.uri().startsWith("/api")).count());
        }
    }

    // ------------------------------------------------------------------ what the endpoint says

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "400 | {\"error\": \"invalid_request\"} | token endpoint refused: HTTP 400 invalid_request | report this",
        "400 | {\"error_description\": \"Missing client_assertion\"} | HTTP 400: Missing client_assertion | altered",
        "429 | {\"fault\": {\"faultstring\": \"Spike arrest violation. Allowed rate : 300pm\", \"detail\": {\"errorcode\": \"policies.ratelimit.SpikeArrestViolation\"}}} | Spike arrest violation. Allowed rate : 300pm (policies.ratelimit.SpikeArrestViolation) | slow down and retry later",
        "401 | {\"fault\": {\"faultstring\": \"Invalid ApiKey\", \"detail\": {\"errorcode\": \"oauth.v2.InvalidApiKey\"}}} | HTTP 401 Invalid ApiKey (oauth.v2.InvalidApiKey) | API keys are per environment"})
    void refusalsNeverSayNullAndApigeeFaultsAreReadAsSuch(int status, String body, String line, String hint)
            throws Exception {
        try (FakeServer endpoint = new FakeServer(r -> FakeServer.Reply.json(status, body))) {
            TestSupport.Result r = getToken(endpoint.url("/oauth2/token"));
            r.assertOneLineErrorWithHint(3, line);
            assertFalse(r.err().contains("null"), r.err());
            assertTrue(r.err().lines().anyMatch(l -> l.startsWith("hint: ") && l.contains(hint)), r.err());
        }
    }

    // ------------------------------------------------------------------ secrets in clear

    @Test
    void plainHttpToAnotherMachineIsRefusedBeforeAnySecretIsSent() throws Exception {
        getToken("http://int.api.service.nhs.example/oauth2/token")
                .assertOneLineError(2, "plain http", "client assertion", "use https://");
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("hard-token"))) {
            callApi(tokens.url("/oauth2/token"), "http://api.service.nhs.example/hello")
                    .assertOneLineError(2, "plain http", "bearer token", "use https://");
            assertTrue(tokens.requests.isEmpty(), "no token was even fetched");
        }
        for (String local : List.of("localhost", "127.0.0.1", "127.9.9.9", "[::1]")) {
            NhsCommands.checkApiUrl("http://" + local + "/x", "URL", NhsAuthPattern.SIGNED_JWT);
        }
        for (String remote : List.of("int.api.service.nhs.uk", "10.0.0.1", "[::2]", "localhost.example.org")) {
            assertThrows(UsageException.class,
                    () -> NhsCommands.checkApiUrl("http://" + remote + "/x", "URL", NhsAuthPattern.SIGNED_JWT), remote);
        }
    }

    // ------------------------------------------------------------------ TLS on every client path

    @ParameterizedTest(name = "{0} with a {1} certificate")
    @CsvSource({"token endpoint, expired", "token endpoint, wrongHost", "token endpoint, unknownCa",
        "API, expired", "API, wrongHost", "API, unknownCa",
        "JWKS URL, expired", "JWKS URL, wrongHost", "JWKS URL, unknownCa"})
    void aBadCertificateIsRefusedOnEveryPathEvenWithTheTestCaTrusted(String path, String certificate) throws Exception {
        TestTls.Identity identity = switch (certificate) {
            case "expired" -> tls.expired();
            case "wrongHost" -> tls.wrongHost();
            default -> tls.unknownCa();
        };
        try (TestTls.Server bad = tls.serve(identity, HardeningTest::answerAsEverything);
             TestTls.Server good = tls.serve(tls.good(), HardeningTest::answerAsEverything)) {
            String cacert = tls.caPem().toString();
            TestSupport.Result r = switch (path) {
                case "token endpoint" -> getToken(bad.url("/oauth2/token"), "--cacert", cacert);
                case "API" -> callApi(good.url("/oauth2/token"), bad.url("/api"), "--cacert", cacert);
                default -> TestSupport.runInProcess(new VerifyKeys(), "--private-key", pem.toString(), "--jwks",
                        bad.url("/jwks.json"), "--cacert", cacert);
            };
            r.assertOneLineErrorWithHint(5, "TLS handshake with 127.0.0.1:" + bad.port());
            switch (path) {
                case "token endpoint" -> getToken(good.url("/oauth2/token"), "--cacert", cacert).assertOk();
                case "API" -> callApi(good.url("/oauth2/token"), good.url("/api"), "--cacert", cacert).assertOk();
                default -> TestSupport.runInProcess(new VerifyKeys(), "--private-key", pem.toString(), "--jwks",
                        good.url("/jwks.json"), "--cacert", cacert).assertOk();
            }
        }
    }

    /**
     * Without --cacert the JDK's own trust decides, through the SSL context made on the first
     * handshake: a JVM whose trust store holds the test CA accepts the good certificate and still
     * refuses one for another host name, so the deferred context cannot have skipped the host name check.
     */
    @Test
    void theJdksOwnTrustStillChecksTheHostName() throws Exception {
        Path store = dir.resolve("trust.p12");
        KeyStore keyStore = KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setCertificateEntry("test-ca", tls.ca());
        try (OutputStream out = Files.newOutputStream(store)) {
            keyStore.store(out, "changeit".toCharArray());
        }
        try (TestTls.Server good = tls.serve(tls.good(), HardeningTest::answerAsEverything);
             TestTls.Server wrongHost = tls.serve(tls.wrongHost(), HardeningTest::answerAsEverything)) {
            assertEquals(0, javaGetToken(store, good.url("/oauth2/token")).exit());
            TestSupport.Result refused = javaGetToken(store, wrongHost.url("/oauth2/token"));
            assertEquals(5, refused.exit(), refused.err());
            assertTrue(refused.err().contains("TLS handshake"), refused.err());
        }
    }

    private static TestSupport.Result javaGetToken(Path trustStore, String tokenUrl) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return TestSupport.process(dir, Map.of(), null, List.of(java, "-Djavax.net.ssl.trustStore=" + trustStore,
                "-Djavax.net.ssl.trustStorePassword=changeit", "-Djavax.net.ssl.trustStoreType=PKCS12",
                "-cp", System.getProperty("java.class.path"), "GetToken", "--api-key", "k", "--private-key", pem.toString(),
                "--token-url", tokenUrl, "--format", "token"));
    }

    /** A token endpoint, an API and a JWKS in one handler, for the TLS tests. */
    private static void answerAsEverything(HttpExchange exchange) throws IOException {
        exchange.getRequestBody().readAllBytes();
        String path = exchange.getRequestURI().getPath();
        String body = path.equals("/oauth2/token")
                ? "{\"access_token\": \"tls-token\", \"expires_in\": \"599\", \"token_type\": \"Bearer\"}"
                : path.equals("/jwks.json") ? Files.readString(dir.resolve("hard-kid.json")) : "{\"ok\": true}";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    // ------------------------------------------------------------------ the mock's JWKS fetches

    /**
     * The mock fetches a JWKS URL as the client fetches anything: an https one through HTTPS_PROXY's
     * tunnel (the test CA trusted through the JDK's own trust store setting), as APIM.
     */
    @Test
    void theMockServerFetchesJwksUrlsThroughTheProxyRules() throws Exception {
        List<String> userAgents = new java.util.concurrent.CopyOnWriteArrayList<>();
        byte[] jwks = Files.readAllBytes(dir.resolve("hard-kid.json"));
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("test-ca", tls.ca());
        Path trustStore = dir.resolve("mock-trust.p12");
        try (OutputStream out = Files.newOutputStream(trustStore)) {
            trust.store(out, "changeit".toCharArray());
        }
        try (ForwardProxy proxy = new ForwardProxy();
             TestTls.Server jwksHost = tls.serve(tls.good(), exchange -> {
                 userAgents.add(exchange.getRequestHeaders().getFirst("User-Agent"));
                 exchange.sendResponseHeaders(200, jwks.length);
                 exchange.getResponseBody().write(jwks);
                 exchange.close();
             })) {
            ProcessBuilder pb = new ProcessBuilder(TestSupport.repoRoot().resolve("jbang").toString(),
                    "mock-server@" + TestSupport.repoRoot(), "--port", "0", "--app",
                    "hard-api-key=" + ForwardProxy.viaProxy(jwksHost.url("/jwks.json")))
                    .directory(dir.toFile()).redirectErrorStream(false);
            pb.environment().put("HTTPS_PROXY", proxy.url());
            pb.environment().put("JAVA_TOOL_OPTIONS", "-Djavax.net.ssl.trustStore=" + trustStore
                    + " -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12");
            pb.environment().remove("NO_PROXY");
            pb.environment().remove("no_proxy");
            Process mock = pb.start();
            try {
                String tokenUrl = null;
                var lines = new java.io.BufferedReader(new java.io.InputStreamReader(mock.getInputStream(), StandardCharsets.UTF_8));
                for (String line; tokenUrl == null && (line = lines.readLine()) != null; ) {
                    if (line.startsWith("token endpoint: ")) {
                        tokenUrl = line.substring("token endpoint: ".length());
                    }
                }
                assertTrue(tokenUrl != null, "the mock started");
                getToken(tokenUrl).assertOk();
                assertEquals(1, proxy.tunnels(), "the JWKS was fetched through HTTPS_PROXY");
                assertEquals(List.of("APIM"), userAgents);
            } finally {
                mock.destroy();
                mock.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
                mock.destroyForcibly();
            }
        }
    }

    // ------------------------------------------------------------------ servers that misbehave on purpose

    /** Answers every request with a scripted head and a body written by {@code writer}; bounded in bytes and time. */
    static final class ScriptedServer implements AutoCloseable {
        interface Body {
            void write(OutputStream out) throws IOException, InterruptedException;
        }

        private final ServerSocket socket;
        private final Thread acceptor;
        /** Connections whose whole answer was written: a client that gave up first is not counted. */
        final java.util.concurrent.atomic.AtomicInteger answeredWhole = new java.util.concurrent.atomic.AtomicInteger();

        ScriptedServer(String head, Body body) throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = new Thread(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket s = socket.accept();
                        Thread serve = new Thread(() -> {
                            try (s) {
                                s.setSoTimeout(10_000);
                                FaultsTest.HangingUpServer.readRequest(s.getInputStream());
                                OutputStream out = s.getOutputStream();
                                out.write(head.getBytes(StandardCharsets.ISO_8859_1));
                                out.flush();
                                body.write(out);
                                answeredWhole.incrementAndGet();
                            } catch (IOException | InterruptedException goneOrClosed) {
                                // the client giving up is what most tests want
                            }
                        }, "scripted-server-connection");
                        serve.setDaemon(true);
                        serve.start();
                    } catch (IOException closed) {
                        return;
                    }
                }
            }, "scripted-server");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        /** One byte every half second, {@code bytes} of them: about a minute, then done. */
        static ScriptedServer trickling(int status, int bytes) throws IOException {
            return new ScriptedServer("HTTP/1.1 " + status + " OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + bytes + "\r\n\r\n", out -> {
                        for (int i = 0; i < bytes; i++) {
                            out.write(' ');
                            out.flush();
                            Thread.sleep(500);
                        }
                    });
        }

        /** A chunked body that goes on until the client stops reading (at most 256 MiB). */
        static ScriptedServer endless(int status) throws IOException {
            byte[] chunk = ("4000\r\n" + " ".repeat(0x4000) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            return new ScriptedServer("HTTP/1.1 " + status + " OK\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n", out -> {
                        for (int i = 0; i < 16_384; i++) {
                            out.write(chunk);
                        }
                    });
        }

        /** A body of exactly {@code size} bytes, sent as fast as it is read. */
        static ScriptedServer sized(long size) throws IOException {
            byte[] block = new byte[64 * 1024];
            java.util.Arrays.fill(block, (byte) 'x');
            return new ScriptedServer("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                    + size + "\r\n\r\n", out -> {
                        for (long sent = 0; sent < size; sent += block.length) {
                            out.write(block, 0, (int) Math.min(block.length, size - sent));
                        }
                        out.flush();
                    });
        }

        String url(String path) {
            return "http://127.0.0.1:" + socket.getLocalPort() + path;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
