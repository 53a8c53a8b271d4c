import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.nimbusds.jose.jwk.RSAKey;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/**
 * The private key, the client assertions and the access tokens are printed only where the user
 * asked for them (README, Security). Every run's stdout and stderr are searched for each secret
 * the run could have shown: the key's PEM body and private exponent, every assertion the token
 * endpoint received (read off the wire by a recording relay), and every token it issued.
 */
class SecretsTest {

    /** A run of this many characters of a secret's base64 is taken as the secret shown. */
    static final int WINDOW = 40;
    static final String API_KEY = "secrets-api-key";
    static final Pattern ASSERTION_ON_THE_WIRE = Pattern.compile("client_assertion=([A-Za-z0-9._%~-]+)");
    static final Pattern TOKEN_ON_THE_WIRE = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"");

    @TempDir
    static Path dir;
    static Path pem;
    static MockIdentityService server;
    static RecordingRelay relay;
    static final StringWriter serverLog = new StringWriter();
    /** Base64 windows of the private key (PEM body and JWK d) → what they belong to. */
    static final Map<String, String> keyWindows = new HashMap<>();

    @BeforeAll
    static void keyServerAndRelay() throws Exception {
        pem = TestFixture.key(dir, "secrets-kid");
        addKeyWindows(Files.readString(pem), "the private key");
        server = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App(API_KEY, dir.resolve("secrets-kid.json").toString(), true)), 3600,
                new PrintWriter(serverLog, true));
        relay = new RecordingRelay(server.port());
    }

    @AfterAll
    static void stop() throws IOException {
        relay.close();
        server.close();
        assertNothingSecretIn("the mock-server's request log", serverLog.toString(), Set.of());
    }

    static void addKeyWindows(String pemText, String what) {
        String body = pemText.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        addWindows(body, what + " (PEM body)", keyWindows);
        RSAKey jwk = new RSAKey.Builder(NhsKeys.publicKeyOf(NhsKeys.readPrivateKey(pem, null)))
                .privateKey(NhsKeys.readPrivateKey(pem, null)).build();
        addWindows(jwk.getPrivateExponent().toString(), what + " (private exponent d)", keyWindows);
    }

    static void addWindows(String secret, String what, Map<String, String> into) {
        for (int i = 0; i + WINDOW <= secret.length(); i++) {
            into.put(secret.substring(i, i + WINDOW), what);
        }
    }

    // ------------------------------------------------------------------ get-token

    @Test
    void getTokenShowsTheTokenOnStdoutOnlyForTheFormatsThatAskForIt() {
        for (String format : List.of("text", "json", "token")) {
            Run run = run(new GetToken(), "--format", format);
            run.result.assertOk();
            assertEquals(1, run.newTokens.size(), "one token issued");
            assertTrue(run.result.out().contains(run.newTokens.get(0)), "the token is what was asked for");
            run.assertNoSecretShownExcept(run.newTokens);
        }
    }

    @Test
    void verboseTracesNeitherTheAssertionNorTheToken() {
        Run run = run(new GetToken(), "--verbose", "--format", "json");
        run.result.assertOk();
        assertTrue(run.result.err().contains("> POST"), run.result.err());
        run.assertNoSecretShownExcept(run.newTokens);
    }

    @Test
    void assertionOnlyPrintsTheAssertionOnStdoutAndNothingElse() {
        Run run = run(new GetToken(), "--assertion-only", "--verbose");
        run.result.assertOk();
        assertEquals(List.of(), run.newAssertions, "nothing was sent");
        String printed = run.result.out().trim();
        assertEquals(3, printed.split("\\.").length, printed);
        assertFalse(run.result.err().contains(signatureOf(printed).substring(0, WINDOW)), "assertion on stderr");
        run.assertNoSecretShownExcept(List.of());
    }

    @Test
    void aRefusedAssertionIsNotShown() {
        for (String verbose : List.of("--format", "--verbose")) {
            List<String> args = new ArrayList<>(List.of("--api-key", "not-a-registered-app"));
            args.add(verbose);
            if (verbose.equals("--format")) {
                args.add("token");
            }
            Run run = run(new GetToken(), args.toArray(String[]::new));
            assertEquals(3, run.result.exit(), run.result.err());
            assertEquals(1, run.newAssertions.size(), "the endpoint got the assertion and refused it");
            assertTrue(run.result.err().contains("HTTP 401"), run.result.err());
            run.assertNoSecretShownExcept(List.of());
        }
    }

    @Test
    void aNetworkFailureShowsNoSecretEvenWithVerboseStackTraces() throws IOException {
        Run run = run(new GetToken(), "--token-url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/oauth2/token", "--verbose");
        assertEquals(5, run.result.exit(), run.result.err());
        assertTrue(run.result.err().contains("\tat "), "--verbose shows the stack trace");
        run.assertNoSecretShownExcept(List.of());
    }

    @Test
    void theSearchFindsEachKindOfSecretSoAPassMeansSomething() throws IOException {
        Run run = run(new GetToken(), "--format", "token");
        String token = run.newTokens.get(0);
        String assertion = run.newAssertions.get(0);
        for (String leak : List.of(token, assertion, Files.readString(pem),
                Files.readString(pem).replace("\n", ""), "x" + signatureOf(assertion).substring(100, 100 + WINDOW))) {
            org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
                    () -> assertNothingSecretIn("a planted leak", "before " + leak + " after", Set.of()));
        }
        assertNothingSecretIn("an allowed token", token, Set.of(token));
    }

    // ------------------------------------------------------------------ call-api

    @Test
    void callApiNeverShowsTheTokenWhateverItPrints() {
        List<List<String>> variants = List.of(
                List.of("--url", relay.url("/hello-world/hello/application")),
                List.of("--url", relay.url("/echo/secrets"), "--verbose", "--include", "-X", "POST", "--data", "hi"),
                List.of("--url", relay.url("/no-such-api"), "--include", "--verbose"));
        for (List<String> variant : variants) {
            Run run = run(new CallApi(), variant.toArray(String[]::new));
            assertEquals(variant.get(1).endsWith("no-such-api") ? 4 : 0, run.result.exit(), run.result.err());
            assertEquals(1, run.newTokens.size());
            run.assertNoSecretShownExcept(List.of());
        }
    }

    @Test
    void callApiFailuresShowNoSecret() throws IOException {
        Run refused = run(new CallApi(), "--api-key", "not-a-registered-app", "--url", relay.url("/echo/x"), "--verbose");
        assertEquals(3, refused.result.exit(), refused.result.err());
        refused.assertNoSecretShownExcept(List.of());

        Run apiDown = run(new CallApi(), "--url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/x", "--verbose");
        assertEquals(5, apiDown.result.exit(), apiDown.result.err());
        assertEquals(1, apiDown.newTokens.size(), "the token was fetched, then the API was unreachable");
        apiDown.assertNoSecretShownExcept(List.of());
    }

    // ------------------------------------------------------------------ doctor

    @Test
    void doctorShowsNoTokenNoAssertionNoKeyAndNotTheWholeApiKey() {
        for (List<String> variant : List.of(
                List.of("--url", relay.url("/hello-world/hello/application"), "--verbose"),
                List.of("--url", relay.url("/hello-world/hello/application"), "--format", "json"),
                List.of("--api-key", "not-a-registered-app", "--verbose"))) {
            Run run = run(new Doctor(), variant.toArray(String[]::new));
            assertEquals(variant.contains("not-a-registered-app") ? 3 : 0, run.result.exit(), run.result.err());
            assertEquals(1, run.newAssertions.size(), "the doctor asked for one token");
            run.assertNoSecretShownExcept(List.of());
            String apiKey = variant.contains("not-a-registered-app") ? "not-a-registered-app" : API_KEY;
            assertFalse(run.result.out().contains(apiKey) || run.result.err().contains(apiKey), run.result.out());
        }
    }

    // ------------------------------------------------------------------ demo

    @Test
    void theDemoShowsNoKeyNoAssertionAndNoToken() {
        // The demo's key lives in a folder it deletes; catch it while step 2 is being printed.
        Map<String, String> demoKey = new HashMap<>();
        StringWriter shown = new StringWriter();
        Writer watching = new Writer() {
            @Override
            public void write(char[] buf, int off, int len) {
                shown.write(buf, off, len);
                String text = shown.toString();
                if (demoKey.isEmpty() && text.contains("2. Start a local NHS token endpoint")) {
                    Matcher m = Pattern.compile("offline, in (\\S+)").matcher(text);
                    assertTrue(m.find(), text);
                    try {
                        String body = Files.readString(Path.of(m.group(1), "demo-1.pem"))
                                .replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
                        addWindows(body, "the demo's private key", demoKey);
                    } catch (IOException e) {
                        throw new AssertionError(e);
                    }
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        CommandLine cl = NhsCli.commandLine(new NhsAuth.Demo());
        cl.setOut(new PrintWriter(watching, true));
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err, true));
        assertEquals(0, cl.execute("--key-size", "2048"), err + "\n" + shown);
        String all = shown + "\n" + err;

        assertFalse(demoKey.isEmpty(), "the demo's key was caught");
        assertEquals(List.of(), windowsIn(all, demoKey), "the demo's private key is shown");
        assertFalse(all.contains("PRIVATE KEY"), all);
        assertFalse(Pattern.compile("eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.").matcher(all).find(),
                "a JWT (a client assertion) is shown:\n" + all);
        // MockServer tokens are 28 URL-safe characters; a UUID or a thumbprint never is.
        Matcher token = Pattern.compile("(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])")
                .matcher(all);
        assertFalse(token.find(), () -> "something shaped like an access token: " + token.group() + "\n" + all);
        assertTrue(all.contains("\"access_token\":\"****\"") && all.contains("Bearer ****"), all);
        assertTrue(all.contains("{\"id_token\":\"****\"}") && all.contains("\"refresh_token\":\"****\""), "it ends with an exchange");
    }

    // ------------------------------------------------------------------ the token cache

    @Test
    void theTokenCacheIsPrivateWhateverTheUmask() throws Exception {
        Path cache = dir.resolve("cache");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String script = "umask 000 && exec \"$0\" -cp \"$1\" GetToken --api-key " + API_KEY + " --private-key \"$2\" "
                + "--token-url \"$3\" --token-cache --token-cache-dir \"$4\" --format token";
        TestSupport.Result r = TestSupport.process(dir, Map.of(), null, List.of("/bin/sh", "-c", script, java,
                System.getProperty("java.class.path"), pem.toString(), relay.url("/oauth2/token"), cache.toString()));
        r.assertOk();
        assertEquals("rwx------", TestSupport.posixMode(cache));
        try (var files = Files.list(cache)) {
            List<Path> all = files.toList();
            assertEquals(1, all.size(), all.toString());
            assertEquals("rw-------", TestSupport.posixMode(all.get(0)));
        }
        List<String> tokens = relay.tokens();
        assertTrue(r.out().contains(tokens.get(tokens.size() - 1)));
        assertEquals(List.of(), windowsIn(r.err(), keyWindows));
    }

    // ------------------------------------------------------------------ running and searching

    /** One in-process run and the secrets that crossed the wire while it ran. */
    static final class Run {
        final String name;
        final TestSupport.Result result;
        final List<String> newAssertions;
        final List<String> newTokens;

        Run(String name, TestSupport.Result result, List<String> newAssertions, List<String> newTokens) {
            this.name = name;
            this.result = result;
            this.newAssertions = newAssertions;
            this.newTokens = newTokens;
        }

        /** Nothing secret on stderr (stack traces of --verbose included); on stdout only the {@code allowed} tokens. */
        void assertNoSecretShownExcept(List<String> allowedTokens) {
            assertNothingSecretIn(name + " stderr", result.err(), Set.of());
            assertNothingSecretIn(name + " stdout", result.out(), Set.copyOf(allowedTokens));
        }
    }

    static Run run(Object command, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", API_KEY, "--private-key", pem.toString(),
                "--token-url", relay.url("/oauth2/token")));
        for (int i = 0; i < extra.length; i++) {
            int at = args.indexOf(extra[i]);
            boolean takesValue = i + 1 < extra.length && !extra[i + 1].startsWith("--");
            if (at >= 0 && takesValue) {
                args.set(at + 1, extra[++i]);
            } else {
                args.add(extra[i]);
                if (takesValue) {
                    args.add(extra[++i]);
                }
            }
        }
        if (command instanceof GetToken) {
            int url = args.indexOf("--url");
            if (url >= 0) {
                args.subList(url, url + 2).clear();
            }
        }
        int assertionsBefore = relay.assertions().size();
        int tokensBefore = relay.tokens().size();
        TestSupport.Result r = TestSupport.runInProcess(command, args.toArray(String[]::new));
        List<String> assertions = relay.assertions();
        List<String> tokens = relay.tokens();
        String name = CommandLine.Command.class.cast(command.getClass().getAnnotation(CommandLine.Command.class)).name()
                + " " + String.join(" ", extra);
        return new Run(name, r, assertions.subList(assertionsBefore, assertions.size()),
                tokens.subList(tokensBefore, tokens.size()));
    }

    /** Fails naming every secret found in {@code text}, other than the allowed tokens. */
    static void assertNothingSecretIn(String where, String text, Set<String> allowedTokens) {
        List<String> found = new ArrayList<>(windowsIn(text, keyWindows));
        Map<String, String> assertionWindows = new HashMap<>();
        for (String assertion : relay.assertions()) {
            addWindows(signatureOf(assertion), "a client assertion the endpoint received", assertionWindows);
        }
        found.addAll(windowsIn(text, assertionWindows));
        for (String token : relay.tokens()) {
            if (!allowedTokens.contains(token) && text.contains(token)) {
                found.add("an access token the endpoint issued");
            }
        }
        assertEquals(List.of(), found, () -> "secrets shown in " + where + ":\n" + text);
    }

    static List<String> windowsIn(String text, Map<String, String> windows) {
        Set<String> found = new LinkedHashSet<>();
        for (int i = 0; i + WINDOW <= text.length(); i++) {
            String what = windows.get(text.substring(i, i + WINDOW));
            if (what != null) {
                found.add(what);
            }
        }
        return List.copyOf(found);
    }

    static String signatureOf(String jwt) {
        return jwt.substring(jwt.lastIndexOf('.') + 1);
    }

    /**
     * A loopback TCP relay in front of the mock server that keeps every byte both ways: what the
     * token endpoint received and issued, read off the wire. The Host header names the relay, so
     * the assertions' aud (the URL the client posted to) is what the mock server expects.
     */
    static final class RecordingRelay implements AutoCloseable {
        private final ServerSocket listener;
        private final int target;
        private final ByteArrayOutputStream sent = new ByteArrayOutputStream();
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();
        private final List<Socket> open = new java.util.concurrent.CopyOnWriteArrayList<>();

        RecordingRelay(int target) throws IOException {
            this.target = target;
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            daemon("relay-accept", () -> {
                while (!listener.isClosed()) {
                    try {
                        Socket client = listener.accept();
                        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
                        open.add(client);
                        open.add(upstream);
                        daemon("relay-up", () -> pump(client, upstream, sent));
                        daemon("relay-down", () -> pump(upstream, client, received));
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
        }

        private static void daemon(String name, Runnable r) {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            t.start();
        }

        private static void pump(Socket from, Socket to, ByteArrayOutputStream record) {
            byte[] buffer = new byte[16 * 1024];
            try (InputStream in = from.getInputStream()) {
                OutputStream out = to.getOutputStream();
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    synchronized (record) {
                        record.write(buffer, 0, n);
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
                to.shutdownOutput();
            } catch (IOException gone) {
                try {
                    to.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        }

        String url(String path) {
            return "http://127.0.0.1:" + listener.getLocalPort() + path;
        }

        List<String> assertions() {
            List<String> all = new ArrayList<>();
            Matcher m = ASSERTION_ON_THE_WIRE.matcher(text(sent));
            while (m.find()) {
                all.add(URLDecoder.decode(m.group(1), StandardCharsets.UTF_8));
            }
            return all;
        }

        List<String> tokens() {
            List<String> all = new ArrayList<>();
            Matcher m = TOKEN_ON_THE_WIRE.matcher(text(received));
            while (m.find()) {
                all.add(m.group(1));
            }
            return all;
        }

        private static String text(ByteArrayOutputStream record) {
            synchronized (record) {
                return record.toString(StandardCharsets.ISO_8859_1);
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket s : open) {
                s.close();
            }
        }
    }
}
