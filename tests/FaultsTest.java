import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import com.nimbusds.jwt.SignedJWT;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loopback servers that misbehave on purpose, each standing in for a fault users meet between
 * them and the NHS token endpoint or an API: dropped connections, TLS-inspecting proxies, dead
 * proxies, rate limiting, an API that stays unavailable.
 */
class FaultsTest {

    @TempDir
    static Path dir;
    static Path pem;

    @BeforeAll
    static void makeKey() {
        pem = TestFixture.key(dir, "faults-kid");
    }

    static TestSupport.Result getToken(String tokenUrl, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "faults-api-key", "--private-key", pem.toString(),
                "--token-url", tokenUrl, "--timeout", "20"));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new GetToken(), args.toArray(String[]::new));
    }

    static TestSupport.Result callApi(String tokenUrl, String url, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "faults-api-key", "--private-key", pem.toString(),
                "--token-url", tokenUrl, "--url", url, "--timeout", "20"));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new CallApi(), args.toArray(String[]::new));
    }

    /** The documented network-failure shape: exit 5, a line naming the failure and a hint line, no stdout. */
    static void assertNetworkFailure(TestSupport.Result r, String... mustContain) {
        assertEquals(5, r.exit(), () -> "exit code; stderr was:\n" + r.err());
        assertEquals("", r.out());
        r.assertNoStackTrace();
        List<String> lines = r.err().lines()
                .filter(l -> !l.startsWith("warning:") && !l.startsWith("using kid") && !l.startsWith("X-Request-ID:"))
                .toList();
        assertEquals(2, lines.size(), r.err());
        assertTrue(lines.get(1).startsWith("hint: "), r.err());
        for (String s : mustContain) {
            assertTrue(String.join("\n", lines).contains(s), () -> "expected '" + s + "' in:\n" + r.err());
        }
    }

    // ------------------------------------------------------------------ dropped connections

    @Test
    void aTokenEndpointThatHangsUpMidAnswerIsExit5SayingSo() throws Exception {
        String cut = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
                + "{\"access_token\": \"half-a-tok";
        try (HangingUpServer server = new HangingUpServer(cut)) {
            TestSupport.Result r = getToken(server.url("/oauth2/token"));
            assertNetworkFailure(r, "token endpoint", "closed the connection", "127.0.0.1:" + server.port());
            assertFalse(r.err().contains("half-a-tok"), "nothing of a partial answer is shown");
            assertEquals(1 + NhsClient.TOKEN_RETRIES, server.connections.get(),
                    "a dropped connection is retried, each time with a fresh assertion");
        }
    }

    @Test
    void aTokenEndpointThatHangsUpBeforeAnsweringIsExit5SayingSo() throws Exception {
        try (HangingUpServer server = new HangingUpServer("")) {
            assertNetworkFailure(getToken(server.url("/oauth2/token")), "token endpoint", "closed the connection without answering");
            // Ours resends twice, each time with a new assertion; the JDK must not resend one on its own.
            assertEquals(3, server.connections.get(), "token requests sent");
        }
    }

    @Test
    void aTokenEndpointThatHangsUpMidAnswerIsExit5NotATruncatedAnswer() throws Exception {
        String cut = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"access_token\": ";
        try (HangingUpServer server = new HangingUpServer(cut)) {
            assertNetworkFailure(getToken(server.url("/oauth2/token")), "token endpoint",
                    "closed the connection before its answer was complete");
        }
    }

    @Test
    void anApiThatHangsUpMidAnswerIsExit5AndPrintsNoPartialBody() throws Exception {
        String cut = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\": ";
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("faults-token"));
             HangingUpServer api = new HangingUpServer(cut)) {
            TestSupport.Result r = callApi(tokens.url("/oauth2/token"), api.url("/some-api/x"));
            assertNetworkFailure(r, "API", "closed the connection");
            assertEquals(1, api.connections.get(), "an API request is not resent unless --retry says so");
        }
    }

    // ------------------------------------------------------------------ TLS

    @Test
    void aTokenEndpointSignedByAnUnknownCaIsExit5NamingCacertAndTrustedWithIt() throws Exception {
        TestTls ca = TestFixture.tls();
        AtomicInteger served = new AtomicInteger();
        try (TestTls.Server tls = ca.serve(ca.good(), exchange -> {
            exchange.getRequestBody().readAllBytes();
            served.incrementAndGet();
            byte[] body = ("{\"access_token\": \"through-tls\", \"expires_in\": \"599\", \"token_type\": \"Bearer\", "
                    + "\"issued_at\": \"" + System.currentTimeMillis() + "\"}").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        })) {
            String url = tls.url("/oauth2/token");
            TestSupport.Result refused = getToken(url);
            assertNetworkFailure(refused, "TLS handshake with 127.0.0.1:" + tls.port(), "--cacert",
                    "NHS_CA_CERT");
            assertEquals(0, served.get(), "the assertion never went to an untrusted server");

            TestSupport.Result trusted = getToken(url, "--cacert", ca.caPem().toString(), "--format", "token").assertOk();
            assertEquals("through-tls\n", trusted.out());
            assertEquals(1, served.get());
        }
    }

    // ------------------------------------------------------------------ proxies

    @Test
    void anHttpsProxyThatIsDownIsExit5NamingTheProxyAndItsVariable() throws Exception {
        int deadProxy = TestSupport.refusedPort();
        NhsClient client = NhsClient.builder().apiKey("faults-api-key").privateKey(pem, null).notices(null)
                .tokenUrl("https://" + ForwardProxy.ORIGIN + "/oauth2/token")
                .proxyVariables(Map.of("HTTPS_PROXY", "http://127.0.0.1:" + deadProxy, "HTTP_PROXY", "http://unused:1"))
                .build();
        NetworkException e = assertThrows(NetworkException.class, client::requestToken);
        assertEquals(5, e.exitCode());
        assertTrue(e.getMessage().contains("cannot connect to the proxy") && e.getMessage().contains(":" + deadProxy),
                e.getMessage());
        assertTrue(e.hint().contains("HTTPS_PROXY"), e.hint());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    // ------------------------------------------------------------------ rate limits and unavailability

    @Test
    void a429WithRetryAfterSecondsIsWaitedOutThenTheTokenIsFetchedWithAFreshAssertion() throws Exception {
        List<Long> arrivals = new CopyOnWriteArrayList<>();
        try (FakeServer server = new FakeServer(r -> {
            arrivals.add(System.nanoTime());
            return arrivals.size() == 1
                    ? new FakeServer.Reply(429, Map.of("Retry-After", "1", "Content-Type", "application/json"),
                            "{\"error\": \"rate_limited\", \"error_description\": \"slow down\", \"message_id\": \"rrt-1\"}")
                    : FakeServer.Reply.token("after-the-wait");
        })) {
            TestSupport.Result r = getToken(server.url("/oauth2/token"), "--format", "token").assertOk();
            assertEquals("after-the-wait\n", r.out());
            assertEquals(2, server.requests.size());
            assertTrue(millisBetween(arrivals.get(0), arrivals.get(1)) >= 950,
                    "Retry-After: 1 honoured, waited " + millisBetween(arrivals.get(0), arrivals.get(1)) + " ms");
            assertFalse(jti(server.requests.get(0)).equals(jti(server.requests.get(1))), "a retry never reuses a jti");
        }
    }

    @Test
    void callApiHonoursARetryAfterDateThenSucceeds() throws Exception {
        List<Long> arrivals = new CopyOnWriteArrayList<>();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("faults-token"));
             FakeServer api = new FakeServer(r -> {
                 arrivals.add(System.nanoTime());
                 String at = DateTimeFormatter.RFC_1123_DATE_TIME.format(
                         ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(2));
                 return arrivals.size() == 1 ? new FakeServer.Reply(429, Map.of("Retry-After", at), "busy")
                         : FakeServer.Reply.json(200, "{\"ok\": true}");
             })) {
            TestSupport.Result r = callApi(tokens.url("/oauth2/token"), api.url("/some-api/x"), "--retry", "1").assertOk();
            assertEquals("{\"ok\": true}", r.out());
            // An HTTP date has whole seconds: "now + 2 s" is at least one second away.
            assertTrue(millisBetween(arrivals.get(0), arrivals.get(1)) >= 900,
                    "waited " + millisBetween(arrivals.get(0), arrivals.get(1)) + " ms");
            assertEquals(api.requests.get(0).header("X-Request-ID"), api.requests.get(1).header("X-Request-ID"));
        }
    }

    @Test
    void callApiRetryAgainstAnApiThatStaysUnavailableEndsWithExit4AndTheLastAnswer() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("faults-token"));
             FakeServer api = new FakeServer(r -> new FakeServer.Reply(503,
                     Map.of("Retry-After", "0", "Content-Type", "application/json"),
                     "{\"attempt\": " + n.incrementAndGet() + "}"))) {
            TestSupport.Result r = callApi(tokens.url("/oauth2/token"), api.url("/some-api/x"), "--retry", "3");
            assertEquals(4, r.exit(), r.err());
            r.assertNoStackTrace();
            assertEquals(4, api.requests.size(), "one try and three resends");
            assertEquals("{\"attempt\": 4}", r.out(), "the last answer is printed");
            assertTrue(r.err().contains("HTTP 503 in"), r.err());
            assertEquals(1, api.requests.stream().map(q -> q.header("X-Request-ID")).distinct().count());
            assertEquals(1, tokens.requests.size());
        }
    }

    // ------------------------------------------------------------------ helpers

    static long millisBetween(long startNanos, long endNanos) {
        return (endNanos - startNanos) / 1_000_000;
    }

    static String jti(FakeServer.Request request) throws java.text.ParseException {
        return SignedJWT.parse(request.form().get("client_assertion")).getJWTClaimsSet().getJWTID();
    }

    /** Reads each request, writes a scripted prefix of an answer, and hangs up. */
    static final class HangingUpServer implements AutoCloseable {
        final AtomicInteger connections = new AtomicInteger();
        private final ServerSocket socket;
        private final Thread acceptor;

        HangingUpServer(String prefix) throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            byte[] bytes = prefix.getBytes(StandardCharsets.UTF_8);
            acceptor = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket s = socket.accept()) {
                        connections.incrementAndGet();
                        s.setSoTimeout(10_000);
                        readRequest(s.getInputStream());
                        s.getOutputStream().write(bytes);
                        s.getOutputStream().flush();
                    } catch (IOException closedOrGone) {
                        // closing is the point
                    }
                }
            }, "hanging-up-server");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        /** Headers, then as many body bytes as Content-Length says: the client must see a complete request. */
        static void readRequest(InputStream in) throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    return;
                }
                head.write(b);
            }
            for (String line : head.toString(StandardCharsets.ISO_8859_1).split("\r\n")) {
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    in.readNBytes(Integer.parseInt(line.substring(15).trim()));
                }
            }
        }

        int port() {
            return socket.getLocalPort();
        }

        String url(String path) {
            return "http://127.0.0.1:" + port() + path;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
