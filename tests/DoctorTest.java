import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.nimbusds.jose.util.JSONArrayUtils;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** doctor: every link of the chain checked in order, every check reported whatever failed before it. */
class DoctorTest {

    static final String API_KEY = TestFixture.API_KEY;
    static final List<String> CHECKS = List.of("java", "api key", "key", "jwks", "proxy", "dns", "connect", "tls",
            "clock", "token", "api");

    @TempDir
    static Path dir;
    static Path pem;
    static Path jwks;
    static final MockIdentityService mock = TestFixture.mock();

    @BeforeAll
    static void key() {
        pem = TestFixture.key(dir, "doc-1");
        jwks = dir.resolve("doc-1.json");
    }

    static String hello() {
        return mock.baseUrl() + "/hello-world/hello/application";
    }

    static TestSupport.Result doctor(String... args) {
        return TestSupport.runInProcess(new Doctor(), args);
    }

    /** doctor with the mock's app and key; an option in {@code extra} replaces the default one. */
    static TestSupport.Result doctorWithMock(String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", API_KEY, "--private-key", pem.toString(),
                "--token-url", mock.tokenUrl()));
        for (int i = 0; i < extra.length; i += 2) {
            int at = args.indexOf(extra[i]);
            if (at >= 0) {
                args.set(at + 1, extra[i + 1]);
            } else {
                args.addAll(List.of(extra[i], extra[i + 1]));
            }
        }
        return doctor(args.toArray(String[]::new));
    }

    /** The report's lines by check name, asserting one line per check, in order, each with a mark. */
    static Map<String, String> lines(TestSupport.Result r) {
        List<String> lines = r.out().lines().toList();
        assertEquals(CHECKS.size(), lines.size(), () -> "one line per check:\n" + r.out());
        Map<String, String> byName = new java.util.LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            assertTrue(line.matches("[✔✘–] " + CHECKS.get(i) + " +\\S.*"), () -> "line '" + line + "'");
            byName.put(CHECKS.get(i), line);
        }
        return byName;
    }

    static void assertMark(Map<String, String> lines, String check, char mark) {
        assertEquals(mark, lines.get(check).charAt(0), () -> check + ": " + lines.get(check));
    }

    @Test
    void aWorkingSetupPassesEveryCheckWithOneLineEachAndExit0() {
        TestSupport.Result r = doctorWithMock("--jwks", jwks.toString(), "--url", hello()).assertOk();
        Map<String, String> lines = lines(r);
        for (String check : CHECKS) {
            assertMark(lines, check, check.equals("tls") ? '–' : '✔');
        }
        assertTrue(lines.get("key").contains("RSA 2048 bits") && lines.get("key").contains("kid 'doc-1' (from the file name)"),
                lines.get("key"));
        assertTrue(lines.get("jwks").endsWith("kids in " + jwks + ": doc-1 (this key)"), lines.get("jwks"));
        assertTrue(lines.get("proxy").contains("direct"), lines.get("proxy"));
        assertTrue(lines.get("tls").contains("plain HTTP"), lines.get("tls"));
        assertTrue(lines.get("clock").contains("clock"), lines.get("clock"));
        assertTrue(lines.get("api").contains("HTTP 200"), lines.get("api"));
        assertTrue(lines.get("java").contains("Java " + Runtime.version().feature()), lines.get("java"));
        assertFalse(r.out().contains(API_KEY), "the API key is shown only by its first characters: " + r.out());
        assertTrue(r.err().contains("every check passed"), r.err());
    }

    @Test
    void aWrongApiKeyIsExit3NamesTheRefusedKeyAndStillReportsTheOtherChecks() {
        TestSupport.Result r = doctor("--api-key", "wrong-api-key-77", "--private-key", pem.toString(),
                "--token-url", mock.tokenUrl(), "--url", hello());
        assertEquals(3, r.exit(), r.err());
        r.assertNoStackTrace();
        Map<String, String> lines = lines(r);
        assertMark(lines, "token", '✘');
        assertTrue(lines.get("token").contains("Invalid 'iss'/'sub' claims") && lines.get("token").contains("'wron…'"),
                lines.get("token"));
        assertTrue(lines.get("token").contains("fix: the API key is not known"), lines.get("token"));
        assertMark(lines, "clock", '✔');
        assertMark(lines, "connect", '✔');
        assertMark(lines, "api", '–');
        assertFalse(r.out().contains("wrong-api-key-77"), r.out());
    }

    @Test
    void aDeadEndpointIsExit5AndTheChecksAfterItSayWhyTheyWereSkipped() throws IOException {
        TestSupport.Result r = doctor("--api-key", API_KEY, "--private-key", pem.toString(),
                "--token-url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/oauth2/token", "--url", hello());
        assertEquals(5, r.exit(), r.err());
        Map<String, String> lines = lines(r);
        assertMark(lines, "key", '✔');
        assertMark(lines, "connect", '✘');
        assertTrue(lines.get("connect").contains("fix: check the URL and that the server is running"), lines.get("connect"));
        for (String later : List.of("tls", "clock", "token", "api")) {
            assertMark(lines, later, '–');
        }
    }

    @Test
    void aBadKeyIsExit2AndTheNetworkIsStillChecked() {
        TestSupport.Result r = doctorWithMock("--private-key", dir.resolve("missing.pem").toString(),
                "--jwks", jwks.toString(), "--url", hello());
        assertEquals(2, r.exit(), r.err());
        Map<String, String> lines = lines(r);
        assertMark(lines, "key", '✘');
        assertTrue(lines.get("key").contains("missing.pem"), lines.get("key"));
        assertMark(lines, "jwks", '–');
        for (String check : List.of("proxy", "dns", "connect", "clock")) {
            assertMark(lines, check, '✔');
        }
        assertMark(lines, "token", '–');
    }

    @Test
    void aKeyThatIsNotTheRegisteredOneFailsTheJwksCheckWhileTheRestGoesOn() throws IOException {
        Path other = dir.resolve("other");
        Files.createDirectories(other);
        TestFixture.otherKey(other, "doc-1");
        TestSupport.Result r = doctorWithMock("--jwks", other.resolve("doc-1.json").toString(), "--url", hello());
        assertEquals(2, r.exit(), r.err());
        Map<String, String> lines = lines(r);
        assertMark(lines, "jwks", '✘');
        assertTrue(lines.get("jwks").contains("another key") && lines.get("jwks").contains("fix: register this key's JWKS"),
                lines.get("jwks"));
        assertMark(lines, "token", '✔');
        assertMark(lines, "api", '✔');
    }

    @Test
    void anApiThatRefusesIsExit4() {
        TestSupport.Result r = doctor("--auth", "api-key", "--api-key", "unregistered-key-1", "--url", hello());
        assertEquals(4, r.exit(), r.err());
        Map<String, String> lines = lines(r);
        assertMark(lines, "key", '–');
        assertMark(lines, "token", '–');
        assertMark(lines, "api", '✘');
        assertTrue(lines.get("api").contains("HTTP 401") && lines.get("api").contains("Invalid ApiKey"), lines.get("api"));
        assertTrue(lines.get("api").contains("--auth"), lines.get("api"));
    }

    @Test
    void jsonIsTheSameChecksAsAnArray() throws Exception {
        TestSupport.Result r = doctorWithMock("--url", hello(), "--format", "json").assertOk();
        List<Object> checks = JSONArrayUtils.parse(r.out());
        assertEquals(CHECKS.size(), checks.size());
        for (int i = 0; i < checks.size(); i++) {
            @SuppressWarnings("unchecked")
            Map<String, Object> check = (Map<String, Object>) checks.get(i);
            assertEquals(CHECKS.get(i), check.get("check"));
            assertTrue(List.of("passed", "skipped").contains(check.get("status")), check.toString());
            assertTrue(check.get("found") instanceof String, check.toString());
        }
        TestSupport.Result refused = doctorWithMock("--api-key", "wrong-api-key-77", "--format", "json");
        assertEquals(3, refused.exit());
        @SuppressWarnings("unchecked")
        Map<String, Object> token = (Map<String, Object>) JSONArrayUtils.parse(refused.out()).get(CHECKS.indexOf("token"));
        assertEquals("failed", token.get("status"));
        assertEquals(3L, ((Number) token.get("exit_code")).longValue());
        assertTrue(String.valueOf(token.get("fix")).contains("API key"), token.toString());
    }

    @Test
    void theProxyInEffectAndWhyAreReadThroughTheLibrarysRules() throws Exception {
        try (ForwardProxy proxy = new ForwardProxy()) {
            // Loopback is never proxied, and plain http carries no secret elsewhere: open access to a name only the proxy knows.
            List<Diagnosis.Check> through = settings(Map.of("http_proxy", proxy.url())).auth(NhsAuthPattern.NONE)
                    .diagnose(null, ForwardProxy.viaProxy(mock.baseUrl() + "/hello-world/hello/world")).checks();
            Diagnosis.Check p = check(through, "proxy");
            assertTrue(p.found().contains("through the proxy 127.0.0.1:" + proxy.port() + " (http_proxy)"), p.found());
            assertTrue(check(through, "connect").found().contains("(the proxy)"), check(through, "connect").found());
            assertEquals("passed", check(through, "api").status(), check(through, "api").found());
            assertTrue(proxy.forwarded() >= 2, "the probe and the API call went through the proxy");
            List<Diagnosis.Check> loopback = settings(Map.of("HTTP_PROXY", proxy.url())).diagnose(null, hello()).checks();
            assertTrue(check(loopback, "proxy").found().contains("direct: loopback is never proxied (HTTP_PROXY is set)"),
                    check(loopback, "proxy").found());

            long before = proxy.forwarded();
            List<Diagnosis.Check> bypassed = settings(Map.of("HTTP_PROXY", proxy.url(),
                    "NO_PROXY", "localhost,127.0.0.1")).diagnose(null, hello()).checks();
            assertTrue(check(bypassed, "proxy").found().contains("direct: NO_PROXY matches 127.0.0.1 (HTTP_PROXY is set)"),
                    check(bypassed, "proxy").found());
            assertEquals(before, proxy.forwarded(), "nothing went through the proxy");
        }
        Diagnosis diagnosis = settings(Map.of()).diagnose(null, hello());
        List<Diagnosis.Check> none = diagnosis.checks();
        assertTrue(check(none, "proxy").found().endsWith("direct (no HTTP_PROXY set)"), check(none, "proxy").found());
        assertEquals(0, diagnosis.exitCode());
    }

    @Test
    void tlsShowsTheCertificateAndWhetherTheExtraCaWasNeeded() throws Exception {
        TestTls tls = TestFixture.tls();
        try (TestTls.Server server = tls.serve(tls.good(), exchange -> {
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        })) {
            TestSupport.Result trusted = doctor("--auth", "none", "--url", server.url("/open"),
                    "--cacert", tls.caPem().toString()).assertOk();
            String line = lines(trusted).get("tls");
            assertTrue(line.startsWith("✔") && line.contains("CN=localhost") && line.contains("issued by CN=nhs-auth test CA")
                    && line.contains("trusted through --cacert"), line);

            TestSupport.Result untrusted = doctor("--auth", "none", "--url", server.url("/open"));
            assertEquals(5, untrusted.exit(), untrusted.err());
            Map<String, String> lines = lines(untrusted);
            assertMark(lines, "connect", '✔');
            assertMark(lines, "tls", '✘');
            assertTrue(lines.get("tls").contains("TLS handshake") && lines.get("tls").contains("--cacert"), lines.get("tls"));
            assertMark(lines, "api", '–');
        }
    }

    @Test
    void aClockFarFromTheServersFailsWithTheTokenEndpointsExitCode() throws Exception {
        ZonedDateTime theirs = ZonedDateTime.now(ZoneOffset.UTC).plusHours(1);
        try (DatedServer server = new DatedServer(theirs)) {
            TestSupport.Result r = doctor("--api-key", API_KEY, "--private-key", pem.toString(),
                    "--token-url", server.url() + "/oauth2/token");
            assertEquals(3, r.exit(), r.err());
            Map<String, String> lines = lines(r);
            assertMark(lines, "clock", '✘');
            assertTrue(lines.get("clock").contains("behind the server's") && lines.get("clock").contains("sync the clock"),
                    lines.get("clock"));

            TestSupport.Result open = doctor("--auth", "none", "--url", server.url() + "/open");
            assertEquals(4, open.exit(), "no token, so the clock does not matter; the 405 does");
            assertMark(lines(open), "clock", '✔');
        }
    }

    @Test
    void duringARotationTheJwksKidsAreListedAndThisKeysIsMarked() throws IOException {
        Path rotating = Files.writeString(dir.resolve("rotating.json"), new com.nimbusds.jose.jwk.JWKSet(List.of(
                new com.nimbusds.jose.jwk.RSAKey.Builder((java.security.interfaces.RSAPublicKey) TestFixture.otherKeyPair()
                        .getPublic()).keyID("old-1").build(),
                new com.nimbusds.jose.jwk.RSAKey.Builder((java.security.interfaces.RSAPublicKey) TestFixture.keyPair()
                        .getPublic()).keyID("doc-1").build())).toString());
        Map<String, String> lines = lines(doctorWithMock("--jwks", rotating.toString()));
        assertMark(lines, "jwks", '✔');
        assertTrue(lines.get("jwks").endsWith("kids in " + rotating + ": old-1, doc-1 (this key)"), lines.get("jwks"));
    }

    static NhsClient.Builder settings(Map<String, String> proxyVariables) {
        return TestFixture.client().proxyVariables(proxyVariables);
    }

    static Diagnosis.Check check(List<Diagnosis.Check> checks, String name) {
        return checks.stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    /** Answers every request 405 with a Date header of its choosing (the JDK's server always sends its own). */
    static final class DatedServer implements AutoCloseable {
        private final ServerSocket socket;
        private final Thread thread;

        DatedServer(ZonedDateTime date) throws IOException {
            socket = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
            String header = DateTimeFormatter.RFC_1123_DATE_TIME.format(date);
            thread = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket client = socket.accept()) {
                        InputStream in = client.getInputStream();
                        StringBuilder head = new StringBuilder();
                        while (!head.toString().endsWith("\r\n\r\n")) {
                            int b = in.read();
                            if (b < 0) {
                                break;
                            }
                            head.append((char) b);
                        }
                        // The body is read too: closing on unread bytes resets the connection.
                        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)")
                                .matcher(head);
                        in.readNBytes(length.find() ? Integer.parseInt(length.group(1)) : 0);
                        OutputStream out = client.getOutputStream();
                        out.write(("HTTP/1.1 405 Method Not Allowed\r\nDate: " + header
                                + "\r\nAllow: POST\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    } catch (IOException e) {
                        // closed, or a client that went away
                    }
                }
            }, "dated-server");
            thread.setDaemon(true);
            thread.start();
        }

        String url() {
            return "http://127.0.0.1:" + socket.getLocalPort();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Test
    void helpShowsOnlyTheOptionsDoctorUsesAndNoneAsRequired() {
        String help = doctor("--help").assertOk().out();
        assertFalse(help.contains("--token-cache") || help.contains("--no-token-cache"), help);
        assertFalse(help.contains("Required"), help);
        assertTrue(help.contains("--api-key=KEY") && help.contains("--private-key=PEM") && help.contains("--auth=PATTERN"), help);
    }
}
