import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The test infrastructure itself, proven with the JDK's HttpClient and real traffic on loopback:
 * {@link ForwardProxy} relays plain HTTP, tunnels CONNECT and asks for Basic credentials;
 * {@link TestTls} makes a CA whose good certificate a client trusting only it accepts, and whose
 * expired, wrong-host and unknown-CA certificates that client refuses.
 *
 * <p>No JVM-wide property is set: the JDK sends Basic proxy credentials on CONNECT only when
 * {@code jdk.http.auth.tunneling.disabledSchemes} is cleared before its first HttpClient, so the
 * authenticated tunnel is proven with a plain socket speaking CONNECT, then TLS over it.
 */
class TestInfraTest {

    /** Characters that URLs, Basic auth and decoders get wrong: a user cannot contain ':' in Basic. */
    static final String USER = "proxy us+er/%40@x";
    static final String PASSWORD = "p:a+s s/w%2Bo@rd";
    static final int HANG_LIMIT_SECONDS = 30;

    @TempDir
    static Path dir;
    static TestTls tls;

    @BeforeAll
    static void makeCa() throws Exception {
        tls = new TestTls(dir);
    }

    // ------------------------------------------------------------------ plain HTTP through the proxy

    @Test
    void plainHttpWithPreemptiveCredentialsReachesTheOriginInOriginFormWithAuthorizationAndWholeBodies() throws Exception {
        byte[] upload = payload(300_000, 7);
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD); Origin origin = new Origin(500_000)) {
            HttpResponse<byte[]> r = client(proxy).send(HttpRequest.newBuilder(URI.create(origin.url("/echo?q=a%2Fb")))
                    .header("Authorization", "Bearer origin-token")
                    .header("Proxy-Authorization", proxy.basicAuthorization())
                    .header("X-Custom", "kept")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(upload)).build(), HttpResponse.BodyHandlers.ofByteArray());

            assertEquals(200, r.statusCode());
            assertArrayEquals(payload(500_000, 3), r.body(), "a chunked answer relayed whole");
            Origin.Got got = origin.only();
            assertEquals("POST", got.method());
            assertEquals("/echo?q=a%2Fb", got.uri(), "origin-form towards the origin");
            assertEquals("Bearer origin-token", got.headers().getFirst("Authorization"));
            assertEquals("kept", got.headers().getFirst("X-Custom"));
            assertNull(got.headers().getFirst("Proxy-Authorization"), "never passed on to the origin");
            assertEquals("127.0.0.1:" + origin.port(), got.headers().getFirst("Host"));
            assertArrayEquals(upload, got.body());

            ForwardProxy.Seen seen = onlyOne(proxy.requests);
            assertEquals("POST", seen.method());
            assertEquals(origin.url("/echo?q=a%2Fb"), seen.target(), "absolute-form at the proxy");
            assertEquals(proxy.basicAuthorization(), seen.header("proxy-authorization"));
            assertEquals("Bearer origin-token", seen.header("Authorization"));
            assertEquals(ForwardProxy.Answer.FORWARDED, seen.answer());
            assertEquals(200, seen.status());
            assertEquals(1, proxy.forwarded());
            assertEquals(0, proxy.authRequired());
        }
    }

    @Test
    void withoutOrWithWrongCredentialsTheProxyAnswers407AndNothingReachesTheOrigin() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD); Origin origin = new Origin(10)) {
            HttpClient client = client(proxy);
            HttpResponse<String> none = client.send(HttpRequest.newBuilder(URI.create(origin.url("/x"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(407, none.statusCode());
            assertEquals("Basic realm=\"test\"", none.headers().firstValue("Proxy-Authenticate").orElse(null));

            for (String wrong : List.of(ForwardProxy.basic(USER, PASSWORD + "x"), ForwardProxy.basic(USER, "")
                    .replace("Basic", "Bearer"), "Basic not-base64!")) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(origin.url("/x")))
                        .header("Proxy-Authorization", wrong).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(407, r.statusCode(), wrong);
            }
            assertEquals(0, origin.got.size());
            assertEquals(4, proxy.authRequired());
            assertEquals(0, proxy.forwarded());
            assertNull(proxy.requests.get(0).header("Proxy-Authorization"));
        }
    }

    /**
     * The toolkit's way through an authenticating proxy, on any JDK: no Authenticator (which, on
     * JDK 17, drops the request's own Authorization), but the proxy's Basic credentials carried by
     * the request as Proxy-Authorization. Here a request without them meets the 407 first, and the
     * same request with them, chunked body and all, is then let through.
     */
    @ParameterizedTest(name = "closeAfter407={0}")
    @ValueSource(booleans = {false, true})
    void aRequestCarryingProxyCredentialsPassesThe407WithItsChunkedBodyAndItsOwnAuthorization(boolean closeAfter407)
            throws Exception {
        byte[] upload = payload(100_000, 5);
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD).closeAfter407(closeAfter407);
             Origin origin = new Origin(1000)) {
            HttpClient client = client(proxy);
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(origin.url("/retry")))
                    .header("Authorization", "Bearer origin-token")
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(upload)));
            HttpResponse<String> refused = client.send(request.copy().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(407, refused.statusCode());
            assertEquals("Basic realm=\"test\"", refused.headers().firstValue("Proxy-Authenticate").orElse(null));
            HttpResponse<byte[]> r = client.send(request.header("Proxy-Authorization", ForwardProxy.basic(USER, PASSWORD))
                    .build(), HttpResponse.BodyHandlers.ofByteArray());

            assertEquals(200, r.statusCode());
            assertArrayEquals(payload(1000, 3), r.body());
            assertEquals(2, proxy.requests.size(), () -> "a 407, then the retry: " + proxy.requests);
            ForwardProxy.Seen first = proxy.requests.get(0);
            ForwardProxy.Seen retry = proxy.requests.get(1);
            assertEquals(ForwardProxy.Answer.AUTH_REQUIRED, first.answer());
            assertNull(first.header("Proxy-Authorization"));
            assertEquals("chunked", first.header("Transfer-Encoding"), "the body went chunked");
            assertEquals(ForwardProxy.Answer.FORWARDED, retry.answer());
            assertEquals(ForwardProxy.basic(USER, PASSWORD), retry.header("Proxy-Authorization"));
            assertEquals("chunked", retry.header("Transfer-Encoding"));
            if (closeAfter407) {
                assertNotEquals(first.connection(), retry.connection(), "a closed connection is not reused");
            }
            Origin.Got got = origin.only();
            assertArrayEquals(upload, got.body());
            assertNull(got.headers().getFirst("Proxy-Authorization"), "the proxy's credentials stay with the proxy");
            assertEquals("Bearer origin-token", got.headers().getFirst("Authorization"), "the request's own arrives");
        }
    }

    @Test
    void targetsOtherThanLoopbackGet502AndBadRequestLines400() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy()) {
            try (Socket s = connect(proxy)) {
                send(s, "GET http://nhs-auth.invalid/x HTTP/1.1\r\nHost: nhs-auth.invalid\r\n\r\n");
                assertTrue(readAnswer(s.getInputStream()).statusLine().startsWith("HTTP/1.1 502 "));
            }
            try (Socket s = connect(proxy)) {
                send(s, "CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: 192.0.2.1:443\r\n\r\n");
                assertTrue(readAnswer(s.getInputStream()).statusLine().startsWith("HTTP/1.1 502 "));
            }
            try (Socket s = connect(proxy)) {
                send(s, "GET /origin-form HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                assertTrue(readAnswer(s.getInputStream()).statusLine().startsWith("HTTP/1.1 400 "));
            }
            assertEquals(2, proxy.count(ForwardProxy.Answer.BAD_GATEWAY));
            assertEquals(1, proxy.count(ForwardProxy.Answer.BAD_REQUEST));
        }
    }

    // ------------------------------------------------------------------ HTTPS through a CONNECT tunnel

    @Test
    void httpsThroughAConnectTunnelReachesTheTlsOriginTrustingOnlyTheTestCa() throws Exception {
        List<Headers> seenByOrigin = new CopyOnWriteArrayList<>();
        try (ForwardProxy proxy = new ForwardProxy();
             TestTls.Server origin = tls.serve(tls.good(), exchange -> {
                 seenByOrigin.add(exchange.getRequestHeaders());
                 reply(exchange, 200, "secure");
             })) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).proxy(proxy.selector())
                    .sslContext(tls.clientContext()).connectTimeout(Duration.ofSeconds(HANG_LIMIT_SECONDS)).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(origin.localhostUrl("/secure")))
                    .header("Authorization", "Bearer through-the-tunnel").timeout(Duration.ofSeconds(HANG_LIMIT_SECONDS))
                    .build(), HttpResponse.BodyHandlers.ofString());

            assertEquals(200, r.statusCode());
            assertEquals("secure", r.body());
            assertEquals("Bearer through-the-tunnel", onlyOne(seenByOrigin).getFirst("Authorization"));
            ForwardProxy.Seen connect = onlyOne(proxy.requests);
            assertTrue(connect.isConnect());
            assertEquals("localhost:" + origin.port(), connect.target());
            assertNull(connect.header("Authorization"), "the proxy sees only the tunnel, not what goes through it");
            assertEquals(1, proxy.tunnels());
        }
    }

    @Test
    void aTunnelNeedsProxyCredentialsAndCarriesTlsOnTheSameConnectionAfterA407() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD);
             TestTls.Server origin = tls.serve(tls.good(), exchange -> reply(exchange, 200,
                     "tunnelled " + exchange.getRequestHeaders().getFirst("Authorization")));
             Socket s = connect(proxy)) {
            String target = "localhost:" + origin.port();
            send(s, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
            Answer refused = readAnswer(s.getInputStream());
            assertTrue(refused.statusLine().startsWith("HTTP/1.1 407 "), refused.statusLine());
            assertEquals("Basic realm=\"test\"", refused.headers().get("proxy-authenticate"));

            send(s, "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nProxy-Authorization: "
                    + ForwardProxy.basic(USER, PASSWORD) + "\r\n\r\n");
            Answer tunnel = readAnswer(s.getInputStream());
            assertEquals("HTTP/1.1 200 Connection established", tunnel.statusLine());

            SSLSocket secure = (SSLSocket) tls.clientContext().getSocketFactory().createSocket(s, "localhost",
                    origin.port(), false);
            SSLParameters parameters = secure.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            secure.setSSLParameters(parameters);
            send(secure, "GET /raw HTTP/1.1\r\nHost: " + target + "\r\nAuthorization: Bearer inside\r\n"
                    + "Connection: close\r\n\r\n");
            Answer inside = readAnswer(secure.getInputStream());
            assertTrue(inside.statusLine().startsWith("HTTP/1.1 200 "), inside.statusLine());
            assertEquals("tunnelled Bearer inside", inside.body());

            assertEquals(1, proxy.authRequired());
            assertEquals(1, proxy.tunnels());
            assertEquals(proxy.requests.get(0).connection(), proxy.requests.get(1).connection(),
                    "the 407 kept the connection open for the retry");
            assertEquals(ForwardProxy.basic(USER, PASSWORD), proxy.requests.get(1).header("Proxy-Authorization"));
        }
    }

    // ------------------------------------------------------------------ certificates

    @Test
    void theGoodCertificateIsAcceptedForLocalhostAnd127001() throws Exception {
        try (TestTls.Server origin = tls.serve(tls.good(), exchange -> reply(exchange, 200, "ok"))) {
            HttpClient client = direct(tls.clientContext());
            for (String url : List.of(origin.url("/"), origin.localhostUrl("/"))) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofSeconds(HANG_LIMIT_SECONDS)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals("ok", r.body(), url);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"expired", "wrong host", "unknown CA"})
    void aClientTrustingOnlyTheTestCaRefuses(String which) throws Exception {
        TestTls.Identity identity = switch (which) {
            case "expired" -> tls.expired();
            case "wrong host" -> tls.wrongHost();
            default -> tls.unknownCa();
        };
        List<String> served = new CopyOnWriteArrayList<>();
        try (TestTls.Server origin = tls.serve(identity, exchange -> {
            served.add(exchange.getRequestURI().toString());
            reply(exchange, 200, "should not be read");
        })) {
            HttpClient client = direct(tls.clientContext());
            IOException e = assertThrows(IOException.class, () -> client.send(HttpRequest.newBuilder(
                    URI.create(origin.url("/"))).timeout(Duration.ofSeconds(HANG_LIMIT_SECONDS)).build(),
                    HttpResponse.BodyHandlers.ofString()));
            assertTrue(hasCause(e, SSLHandshakeException.class), () -> "a handshake failure: " + chain(e));
            String expected = switch (which) {
                case "expired" -> "CertificateExpiredException";
                case "wrong host" -> "No subject alternative names matching IP address 127.0.0.1";
                default -> "unable to find valid certification path";
            };
            assertTrue(chain(e).contains(expected), () -> "expected '" + expected + "' in " + chain(e));
            assertEquals(List.of(), served);
        }
    }

    @Test
    void theExpiredCertificateIsOnlyExpiredAndTheWrongHostOneFitsAnotherName() throws Exception {
        X509Certificate expired = tls.expired().certificate();
        assertThrows(CertificateExpiredException.class, expired::checkValidity);
        expired.verify(tls.ca().getPublicKey());
        tls.good().certificate().checkValidity();
        assertEquals(List.of(List.of(2, "wrong.example")), tls.wrongHost().certificate().getSubjectAlternativeNames()
                .stream().map(List::copyOf).toList());
        X509Certificate unknownIssuer = tls.unknownCa().chain().get(1);
        assertNotEquals(tls.ca().getSubjectX500Principal(), unknownIssuer.getSubjectX500Principal());
    }

    @Test
    void theCaPemFileHoldsExactlyTheTestCaAndItSignedTheGoodCertificate() throws Exception {
        String text = Files.readString(tls.caPem());
        assertTrue(text.startsWith("-----BEGIN CERTIFICATE-----\n") && text.endsWith("-----END CERTIFICATE-----\n"), text);
        assertTrue(text.lines().allMatch(l -> l.length() <= 64), "64-character lines");
        assertTrue(tls.caPem().startsWith(dir), "written to the folder given, never the repository");
        try (InputStream in = Files.newInputStream(tls.caPem())) {
            List<? extends java.security.cert.Certificate> all = List.copyOf(
                    CertificateFactory.getInstance("X.509").generateCertificates(in));
            assertEquals(List.of(tls.ca()), all);
        }
        tls.good().certificate().verify(tls.ca().getPublicKey());
        assertEquals(tls.ca().getSubjectX500Principal(), tls.good().certificate().getIssuerX500Principal());
    }

    // ------------------------------------------------------------------ closing

    @Test
    void closingTheProxyEndsItsTunnelsConnectionsAndThreads() throws Exception {
        ForwardProxy proxy = new ForwardProxy();
        int port = proxy.port();
        try (Origin origin = new Origin(10); Socket tunnel = connect(proxy); Socket idle = connect(proxy)) {
            send(tunnel, "CONNECT 127.0.0.1:" + origin.port() + " HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals("HTTP/1.1 200 Connection established", readAnswer(tunnel.getInputStream()).statusLine());
            assertTrue(proxyThreads(port) > 0);

            proxy.close();

            assertEquals(-1, tunnel.getInputStream().read(), "the tunnel is closed");
            assertEquals(-1, idle.getInputStream().read(), "an idle connection is closed");
            assertEquals(0, proxyThreads(port), "no thread left running");
            assertThrows(ConnectException.class, () -> new Socket(InetAddress.getByName("127.0.0.1"), port).close());
        } finally {
            proxy.close();
        }
    }

    @Test
    void urlWithCredentialsPercentEncodesEveryReservedCharacter() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy(USER, PASSWORD); ForwardProxy open = new ForwardProxy()) {
            String url = proxy.urlWithCredentials();
            assertEquals("http://proxy%20us%2Ber%2F%2540%40x:p%3Aa%2Bs%20s%2Fw%252Bo%40rd@127.0.0.1:" + proxy.port(), url);
            URI uri = URI.create(url);
            assertEquals(USER + ":" + PASSWORD, uri.getUserInfo(), "a URI decodes it back exactly");
            assertEquals("http://127.0.0.1:" + open.port(), open.url());
            assertThrows(IllegalStateException.class, open::urlWithCredentials);
        }
    }

    // ------------------------------------------------------------------ helpers

    private static HttpClient client(ForwardProxy proxy) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).proxy(proxy.selector())
                .connectTimeout(Duration.ofSeconds(HANG_LIMIT_SECONDS)).build();
    }

    private static HttpClient direct(SSLContext context) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).proxy(HttpClient.Builder.NO_PROXY)
                .sslContext(context).connectTimeout(Duration.ofSeconds(HANG_LIMIT_SECONDS)).build();
    }

    private static <T> T onlyOne(List<T> list) {
        assertEquals(1, list.size(), () -> "exactly one expected: " + list);
        return list.get(0);
    }

    /** Deterministic bytes, different for each seed. */
    static byte[] payload(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) ((i * seed + i / 251) % 256);
        }
        return b;
    }

    private static void reply(HttpExchange exchange, int status, String body) throws IOException {
        exchange.getRequestBody().readAllBytes();
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    private static String chain(Throwable t) {
        StringBuilder s = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            s.append(c).append(" <- ");
        }
        return s.toString();
    }

    private static long proxyThreads(int port) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("forward-proxy-" + port + "-")).count();
    }

    private static Socket connect(ForwardProxy proxy) throws IOException {
        Socket s = new Socket();
        s.connect(proxy.address(), HANG_LIMIT_SECONDS * 1000);
        s.setSoTimeout(HANG_LIMIT_SECONDS * 1000);
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
    }

    /** A status line, headers (lower-case names, first value) and a Content-Length body. */
    record Answer(String statusLine, Map<String, String> headers, String body) {
    }

    /** Reads one answer byte by byte, so nothing after it is consumed (e.g. a tunnel's first bytes). */
    private static Answer readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed mid-head: " + head.toString(StandardCharsets.ISO_8859_1));
            }
            head.write(b);
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        Map<String, String> headers = new TreeMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.putIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                    lines[i].substring(colon + 1).trim());
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        return new Answer(lines[0], headers, new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }

    /** A loopback HTTP origin recording each request and answering with a chunked body of a given size. */
    static final class Origin implements AutoCloseable {
        record Got(String method, String uri, Headers headers, byte[] body) {
        }

        final List<Got> got = new CopyOnWriteArrayList<>();
        private final HttpServer server;
        private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "test-infra-origin");
            t.setDaemon(true);
            return t;
        });

        Origin(int answerBytes) throws IOException {
            byte[] answer = payload(answerBytes, 3);
            server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
            server.setExecutor(executor);
            server.createContext("/", exchange -> {
                got.add(new Got(exchange.getRequestMethod(), exchange.getRequestURI().toString(),
                        exchange.getRequestHeaders(), exchange.getRequestBody().readAllBytes()));
                exchange.sendResponseHeaders(200, 0); // 0: chunked
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(answer);
                }
            });
            server.start();
        }

        int port() {
            return server.getAddress().getPort();
        }

        String url(String path) {
            return "http://127.0.0.1:" + port() + path;
        }

        Got only() {
            return onlyOne(got);
        }

        @Override
        public void close() throws InterruptedException {
            server.stop(0);
            executor.shutdownNow();
            executor.awaitTermination(10, TimeUnit.SECONDS);
        }
    }
}
