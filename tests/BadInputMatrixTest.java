import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every command against every kind of bad value its options can get. Each cell must fail the way
 * the README promises: exit 2, one line on stderr naming the bad value and the fix, no stack trace,
 * nothing on stdout, and the scratch folder (which holds every input) left exactly as it was.
 */
class BadInputMatrixTest {

    /** A mock-server that starts despite a bad value would serve forever: stop it after this long. */
    static final long MOCK_SERVER_SAFETY_SECONDS = 60;

    @TempDir
    static Path scratch;

    static Path goodPem;
    static Path goodJwks;

    @BeforeAll
    static void inputs() throws Exception {
        TestFixture.key(scratch, "good");
        TestFixture.otherKey(scratch, "other");
        goodPem = scratch.resolve("good.pem");
        goodJwks = scratch.resolve("good.json");
        Files.createDirectory(scratch.resolve("a-folder"));
        Files.writeString(scratch.resolve("empty.pem"), "");
        Files.write(scratch.resolve("garbage.bin"), new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe, (byte) 0xc3, 10, 0});
        Files.writeString(scratch.resolve("broken.json"), "{\"keys\": [{\"kty\": \"RSA\", ");
        Files.writeString(scratch.resolve("no-keys.json"), "{\"keys\": []}");
        Files.writeString(scratch.resolve("not-a-cert.pem"), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                + "-----END CERTIFICATE-----\n");
        openssl("ec.pem", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256");
        openssl("dsa-params.pem", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024");
        openssl("dsa.pem", "genpkey", "-paramfile", scratch.resolve("dsa-params.pem").toString());
        openssl("cert.pem", "req", "-x509", "-new", "-key", goodPem.toString(), "-subj", "/CN=nhs-auth test", "-days", "1");
        openssl("encrypted.pem", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:right",
                "-in", goodPem.toString());
        for (String name : List.of("unreadable.pem", "unreadable.json")) {
            Files.copy(name.endsWith(".pem") ? goodPem : goodJwks, scratch.resolve(name));
            Files.setPosixFilePermissions(scratch.resolve(name), PosixFilePermissions.fromString("---------"));
        }
    }

    static Path openssl(String name, String... args) {
        Path out = scratch.resolve(name);
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/openssl"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-out", out.toString()));
        TestSupport.process(scratch, Map.of(), null, cmd).assertOk();
        return out;
    }

    static String in(String name) {
        return scratch.resolve(name).toString();
    }

    /** root reads a chmod 000 file anyway, so those cells only mean something for other users. */
    static boolean permissionsAreEnforced() throws IOException {
        Path probe = Files.createTempFile("nhs-auth-probe", ".txt");
        try {
            Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("---------"));
            return !Files.isReadable(probe);
        } finally {
            Files.delete(probe);
        }
    }

    // ------------------------------------------------------------------ the commands' good baselines

    /** Options that make each command valid, so that a cell changes exactly one thing. */
    static Map<String, String> baseline(String command) {
        Map<String, String> o = new LinkedHashMap<>();
        switch (command) {
            case "generate-keys":
                o.put("--output-dir", in("new-keys"));
                o.put("--kid", "new-1");
                o.put("--key-size", "2048");
                break;
            case "get-token":
            case "call-api":
                o.put("--api-key", "test-api-key");
                o.put("--private-key", goodPem.toString());
                // Nothing listens there: a cell that wrongly gets as far as the network fails with 5, not a hang.
                o.put("--token-url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/oauth2/token");
                if (command.equals("call-api")) {
                    o.put("--url", "http://127.0.0.1:" + TestSupport.refusedPort() + "/hello-world/hello/application");
                }
                break;
            case "verify-keys":
                o.put("--private-key", goodPem.toString());
                o.put("--jwks", goodJwks.toString());
                break;
            case "mock-server":
                o.put("--app", "test-api-key=" + goodJwks);
                o.put("--port", "0");
                break;
            default:
                throw new IllegalArgumentException(command);
        }
        return o;
    }

    static Object newCommand(String command) {
        switch (command) {
            case "generate-keys": return new GenerateKeys();
            case "get-token": return new GetToken();
            case "call-api": return new CallApi();
            case "verify-keys": return new VerifyKeys();
            case "mock-server": return new MockServer();
            default: throw new IllegalArgumentException(command);
        }
    }

    /**
     * One cell: the command's baseline with {@code option} set to {@code value}, and with the
     * option/value pairs of {@code context} set too (what makes the bad value reachable), and
     * what the error line must name.
     */
    static Arguments cell(String command, String option, String value, List<String> context, String... mustName) {
        Map<String, String> options = baseline(command);
        for (int i = 0; i < context.size(); i += 2) {
            options.put(context.get(i), context.get(i + 1));
        }
        options.remove(option);
        options.put(option, value);
        String shown = command + " " + option + " '" + value.replace(scratch + "/", "").replace("\n", "\\n")
                .replace("\r", "\\r") + "'" + (context.isEmpty() ? "" : " " + String.join(" ", context)
                .replace(scratch + "/", ""));
        return Arguments.of(shown, command, flatten(options), mustName);
    }

    static Arguments cell(String command, String option, String value, String... mustName) {
        return cell(command, option, value, List.of(), mustName);
    }

    // ------------------------------------------------------------------ the cells

    static final List<String> PRIVATE_KEY_COMMANDS = List.of("get-token", "call-api", "verify-keys");
    static final List<String> CLIENT_COMMANDS = List.of("get-token", "call-api");

    static Stream<Arguments> privateKeyCells() {
        List<Arguments> cells = new ArrayList<>();
        for (String c : PRIVATE_KEY_COMMANDS) {
            cells.add(cell(c, "--private-key", in("missing.pem"), in("missing.pem"), "does not exist", "check the path"));
            cells.add(cell(c, "--private-key", in("a-folder"), in("a-folder"), "is a directory", "give the path of a file"));
            cells.add(cell(c, "--private-key", in("empty.pem"), in("empty.pem"), "is empty", "give a private key PEM"));
            cells.add(cell(c, "--private-key", in("garbage.bin"), in("garbage.bin"), "is not text", "right file"));
            cells.add(cell(c, "--private-key", in("good.json"), in("good.json"), "holds no PEM block", "give a private key PEM"));
            cells.add(cell(c, "--private-key", in("good.pem.pub"), in("good.pem.pub"), "holds a public key",
                    "give the private key"));
            cells.add(cell(c, "--private-key", in("cert.pem"), in("cert.pem"), "holds a certificate",
                    "give the RSA private key"));
            cells.add(cell(c, "--private-key", in("ec.pem"), in("ec.pem"), "holds an EC private key", "need an RSA key"));
            cells.add(cell(c, "--private-key", in("dsa.pem"), in("dsa.pem"), "holds a DSA private key", "need an RSA key"));
            cells.add(cell(c, "--private-key", in("encrypted.pem"), in("encrypted.pem"), "is encrypted",
                    "--private-key-passphrase"));
            cells.add(cell(c, "--private-key-passphrase", "wrong", List.of("--private-key", in("encrypted.pem")),
                    in("encrypted.pem"), "cannot be decrypted", "check --private-key-passphrase"));
        }
        return cells.stream();
    }

    static Stream<Arguments> clientOptionCells() {
        List<Arguments> cells = new ArrayList<>();
        for (String c : CLIENT_COMMANDS) {
            cells.add(cell(c, "--api-key", " ", "no API key", "--api-key or set NHS_API_KEY"));
            cells.add(cell(c, "--env", "live", "unknown environment 'live'", "use one of prod, int"));
            cells.add(cell(c, "--token-url", "int.api.service.nhs.uk/oauth2/token",
                    "'int.api.service.nhs.uk/oauth2/token'", "must start with https://"));
            cells.add(cell(c, "--token-url", "ftp://int.api.service.nhs.uk/oauth2/token",
                    "'ftp://int.api.service.nhs.uk/oauth2/token'", "must start with https://"));
            cells.add(cell(c, "--token-url", "https://", "'https://'", "give a full https:// URL"));
            cells.add(cell(c, "--token-url", "https://int.api.service.nhs.uk/oauth2/token?x=a b",
                    "'https://int.api.service.nhs.uk/oauth2/token?x=a b'", "give a full https:// URL"));
            cells.add(cell(c, "--timeout", "soon", "--timeout 'soon'", "e.g. 30"));
            cells.add(cell(c, "--timeout", "0", "--timeout '0'", "e.g. 30"));
            cells.add(cell(c, "--timeout", "-5", "--timeout '-5'", "e.g. 30"));
            cells.add(cell(c, "--timeout", "NaN", "--timeout 'NaN'", "e.g. 30"));
            cells.add(cell(c, "--timeout", "0", "--timeout '0' must be more than 0 and at most 3600 seconds"));
            cells.add(cell(c, "--timeout", "3601", "--timeout '3601' must be more than 0 and at most 3600 seconds"));
            cells.add(cell(c, "--timeout", "soon", "--timeout 'soon' is not a number of seconds"));
            cells.add(cell(c, "--kid", "", "--kid '' is empty", "leave --kid out"));
            cells.add(cell(c, "--cacert", in("missing-ca.pem"), in("missing-ca.pem"), "does not exist", "check the path"));
            cells.add(cell(c, "--cacert", in("a-folder"), in("a-folder"), "is a directory", "give the path of a file"));
            cells.add(cell(c, "--cacert", in("empty.pem"), in("empty.pem"), "holds no certificate",
                    "-----BEGIN CERTIFICATE-----"));
            cells.add(cell(c, "--cacert", in("garbage.bin"), in("garbage.bin"), "is not text", "right file"));
            cells.add(cell(c, "--cacert", in("good.pem"), in("good.pem"), "is not a PEM certificate",
                    "give the CA certificate in PEM form"));
            cells.add(cell(c, "--cacert", in("not-a-cert.pem"), in("not-a-cert.pem"), "is not a PEM certificate",
                    "give the CA certificate in PEM form"));
        }
        cells.add(cell("get-token", "--format", "xml", "'xml'", "[text, token, json]"));
        return cells.stream();
    }

    static Stream<Arguments> callApiCells() {
        String c = "call-api";
        return Stream.of(
                cell(c, "--url", " ", "no --url", "give the API URL"),
                cell(c, "--url", "int.api.service.nhs.uk/hello-world/hello/application",
                        "'int.api.service.nhs.uk/hello-world/hello/application'", "must start with https://"),
                cell(c, "--url", "ftp://int.api.service.nhs.uk/x", "'ftp://int.api.service.nhs.uk/x'",
                        "must start with https://"),
                cell(c, "--url", "https:///no-host", "'https:///no-host'", "full URL"),
                cell(c, "--method", "FETCH", "'FETCH'", "use one of GET, POST"),
                cell(c, "--method", "GET POST", "'GET POST'", "use one of GET, POST"),
                cell(c, "--header", "NoColonHere", "'NoColonHere'", "--header 'Accept: application/json'"),
                cell(c, "--header", "Bad Name: x", "'Bad Name: x'", "--header 'Accept: application/json'"),
                cell(c, "--header", ": no name", "': no name'", "--header 'Accept: application/json'"),
                cell(c, "--header", "X-Smuggled: a\r\nInjected: b", "--header X-Smuggled 'a\\r\\nInjected: b'", "on one line"),
                cell(c, "--data", "@" + in("missing-body.json"), in("missing-body.json"), "does not exist",
                        "check the path"),
                cell(c, "--data", "@" + in("a-folder"), in("a-folder"), "--data file", "is a directory", "give the path of a file"),
                cell(c, "--data", "@", "--data '@'", "@FILE, or @- for stdin"),
                cell(c, "--retry", "many", "'many' is not an int", "see 'call-api --help'"),
                cell(c, "--retry", "-1", "--retry -1", "use 0 to 10"),
                cell(c, "--retry", "11", "--retry 11", "use 0 to 10"),
                cell(c, "--request-id", "id\nInjected: x", "--request-id 'id\\nInjected: x'", "on one line"),
                cell(c, "--correlation-id", "corr\r\nInjected: x", "--correlation-id 'corr\\r\\nInjected: x'", "on one line"),
                cell(c, "--product-id", "P.X\nInjected: x", List.of("--nhs-number", "9000000009"),
                        "--product-id 'P.X\\nInjected: x'", "on one line"));
    }

    static Stream<Arguments> verifyKeysCells() {
        String c = "verify-keys";
        return Stream.of(
                cell(c, "--jwks", in("missing.json"), in("missing.json"), "does not exist", "check the path"),
                cell(c, "--jwks", in("a-folder"), in("a-folder"), "is a directory", "give the path of a file"),
                cell(c, "--jwks", in("empty.pem"), in("empty.pem"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--jwks", in("garbage.bin"), in("garbage.bin"), "is not text", "right file"),
                cell(c, "--jwks", in("broken.json"), in("broken.json"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--jwks", in("good.pem"), in("good.pem"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--jwks", in("no-keys.json"), in("no-keys.json"), "kids there: none", "publish this key's JWKS"),
                cell(c, "--jwks", in("other.json"), "no key with kid 'good'", "kids there: other",
                        "publish this key's JWKS"),
                cell(c, "--jwks", "ftp://example.org/jwks.json", "'ftp://example.org/jwks.json'", "must start with https://"),
                cell(c, "--jwks", "https:///jwks.json", "'https:///jwks.json'", "full URL"),
                cell(c, "--jwks", "example.org/jwks.json", "example.org/jwks.json", "does not exist", "check the path"),
                cell(c, "--kid", "../other", "no key with kid '../other'", "kids there: good"),
                cell(c, "--kid", "", "--kid '' is empty", "leave --kid out"),
                cell(c, "--timeout", "soon", "--timeout 'soon'", "e.g. 30"),
                cell(c, "--cacert", in("missing-ca.pem"),
                        List.of("--jwks", "http://127.0.0.1:" + TestSupport.refusedPort() + "/jwks.json"),
                        in("missing-ca.pem"), "does not exist", "check the path"),
                cell(c, "--cacert", in("empty.pem"),
                        List.of("--jwks", "http://127.0.0.1:" + TestSupport.refusedPort() + "/jwks.json"),
                        in("empty.pem"), "holds no certificate", "give a PEM file"));
    }

    static Stream<Arguments> generateKeysCells() {
        String c = "generate-keys";
        return Stream.of(
                cell(c, "--env", "live", "unknown environment 'live'", "use one of prod, int"),
                cell(c, "--kid", "a/b", "invalid kid 'a/b'", "use 1-64 letters"),
                cell(c, "--kid", "..", "invalid kid '..'", "use 1-64 letters"),
                cell(c, "--kid", "../escaped", "invalid kid '../escaped'", "use 1-64 letters"),
                cell(c, "--kid", "x".repeat(65), "invalid kid 'xxxx", "use 1-64 letters"),
                cell(c, "--kid", "", "--kid '' is empty", "leave --kid out for int-1"),
                cell(c, "--kid", " ", "--kid ' ' is empty", "leave --kid out for int-1"),
                cell(c, "--kid", "-x", "invalid kid '-x'", "not starting with '-'"),
                cell(c, "--key-size", "big", "'big' is not an int", "see 'generate-keys --help'"),
                cell(c, "--key-size", "1024", "--key-size 1024", "use 4096"),
                cell(c, "--key-size", "99999", "--key-size 99999", "use 4096"),
                cell(c, "--output-dir", in("good.json"), in("good.json"), "is a file", "give a folder"),
                cell(c, "--output-dir", in("good.json") + "/keys", in("good.json") + "/keys",
                        "choose a folder you can write to"),
                cell(c, "--add-to-jwks", in("missing.json"), in("missing.json"), "does not exist", "check the path"),
                cell(c, "--add-to-jwks", in("a-folder"), in("a-folder"), "is a directory", "give the path of a file"),
                cell(c, "--add-to-jwks", in("empty.pem"), in("empty.pem"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--add-to-jwks", in("garbage.bin"), in("garbage.bin"), "is not text", "right file"),
                cell(c, "--add-to-jwks", in("broken.json"), in("broken.json"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--add-to-jwks", in("good.json"), List.of("--kid", "good"), in("good.json"),
                        "already has a key with kid 'good'", "choose a new --kid"),
                cell(c, "--format", "xml", "'xml'", "[text, json]"));
    }

    static Stream<Arguments> mockServerCells() {
        String c = "mock-server";
        return Stream.of(
                cell(c, "--app", "k=" + in("missing.json"), in("missing.json"), "does not exist", "check the path"),
                cell(c, "--app", "k=" + in("a-folder"), in("a-folder"), "is a directory", "give the path of a file"),
                cell(c, "--app", "k=" + in("empty.pem"), in("empty.pem"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--app", "k=" + in("garbage.bin"), in("garbage.bin"), "is not text", "right file"),
                cell(c, "--app", "k=" + in("broken.json"), in("broken.json"), "not a valid JWKS", "expected {\"keys\""),
                cell(c, "--app", "k=", "'k='", "give a JWKS file or URL"),
                cell(c, "--app", "=" + goodJwks, "'=" + goodJwks + "'", "use --app API_KEY=JWKS"),
                cell(c, "--app", "has space=" + goodJwks, "'has space=" + goodJwks + "'", "use --app API_KEY=JWKS"),
                cell(c, "--app", "k=ftp://example.org/jwks.json", "'ftp://example.org/jwks.json'", "must start with https://"),
                cell(c, "--app", "k=https://", "'https://'", "use https://host/path/jwks.json"),
                cell(c, "--app-without-level-3", "k=" + in("broken.json"), in("broken.json"), "not a valid JWKS",
                        "expected {\"keys\""),
                cell(c, "--app-without-level-3", "test-api-key=" + goodJwks, "'test-api-key'", "registered twice",
                        "give each app once"),
                cell(c, "--port", "nine", "--port 'nine'", "use 0-65535"),
                cell(c, "--port", "-1", "--port '-1'", "use 0-65535"),
                cell(c, "--port", "65536", "--port '65536'", "use 0-65535"),
                cell(c, "--host", "192.0.2.1", "cannot listen on 192.0.2.1", "use an address of this machine with --host"),
                cell(c, "--jwks-cache-seconds", "soon", "--jwks-cache-seconds 'soon'", "NHS uses 3600"),
                cell(c, "--jwks-cache-seconds", "-1", "--jwks-cache-seconds '-1'", "NHS uses 3600"));
    }

    static Stream<Arguments> unreadableCells() {
        List<Arguments> cells = new ArrayList<>();
        for (String c : PRIVATE_KEY_COMMANDS) {
            cells.add(cell(c, "--private-key", in("unreadable.pem"), in("unreadable.pem"), "cannot be read",
                    "check its permissions"));
        }
        for (String c : CLIENT_COMMANDS) {
            cells.add(cell(c, "--cacert", in("unreadable.pem"), in("unreadable.pem"), "cannot be read",
                    "check its permissions"));
        }
        cells.add(cell("verify-keys", "--jwks", in("unreadable.json"), in("unreadable.json"), "cannot be read",
                "check its permissions"));
        cells.add(cell("generate-keys", "--add-to-jwks", in("unreadable.json"), in("unreadable.json"), "cannot be read",
                "check its permissions"));
        cells.add(cell("mock-server", "--app", "k=" + in("unreadable.json"), in("unreadable.json"), "cannot be read",
                "check its permissions"));
        cells.add(cell("call-api", "--data", "@" + in("unreadable.json"), in("unreadable.json"), "cannot be read",
                "check its permissions"));
        return cells.stream();
    }

    // ------------------------------------------------------------------ the tests

    @ParameterizedTest(name = "{0}")
    @MethodSource({"privateKeyCells", "clientOptionCells", "callApiCells", "verifyKeysCells", "generateKeysCells",
            "mockServerCells"})
    void aBadValueIsOneLineExit2AndTouchesNothing(String shown, String command, List<String> args, String[] mustName)
            throws Exception {
        assertRefused(command, args, mustName);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("unreadableCells")
    @EnabledIf("permissionsAreEnforced")
    void anUnreadableFileIsOneLineExit2AndTouchesNothing(String shown, String command, List<String> args,
            String[] mustName) throws Exception {
        assertRefused(command, args, mustName);
    }

    @Test
    void theBaselinesAreGoodSoEachCellFailsForItsOneBadValue() throws Exception {
        try (FakeServer nhs = new FakeServer(r -> r.uri().startsWith("/oauth2/token")
                ? FakeServer.Reply.token("baseline-token") : FakeServer.Reply.json(200, "{}"))) {
            for (String c : CLIENT_COMMANDS) {
                Map<String, String> options = baseline(c);
                options.put("--token-url", nhs.url("/oauth2/token"));
                options.computeIfPresent("--url", (k, v) -> nhs.url("/hello-world/hello/application"));
                run(c, flatten(options)).assertOk();
            }
        }
        run("verify-keys", flatten(baseline("verify-keys"))).assertOk();
        run("generate-keys", flatten(baseline("generate-keys"))).assertOk();
        assertTrue(Files.exists(scratch.resolve("new-keys/new-1.pem")));
        deleteTree(scratch.resolve("new-keys"));

        MockServer mock = new MockServer();
        CompletableFuture<TestSupport.Result> serving = CompletableFuture.supplyAsync(
                () -> TestSupport.runInProcess(mock, flatten(baseline("mock-server")).toArray(String[]::new)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MOCK_SERVER_SAFETY_SECONDS);
        while (mock.running == null && !serving.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        mock.stop();
        serving.get(MOCK_SERVER_SAFETY_SECONDS, TimeUnit.SECONDS).assertOk();
    }

    @Test
    void aBinaryBodyFileIsSentAsIs() throws Exception {
        // Unlike key and JWKS files, a --data file is bytes, not text: garbage there is a valid body.
        byte[] bytes = Files.readAllBytes(scratch.resolve("garbage.bin"));
        try (FakeServer api = new FakeServer(r -> FakeServer.Reply.json(200, "{}"))) {
            Map<String, String> options = baseline("call-api");
            options.put("--env", "sandbox");
            options.remove("--token-url");
            options.put("--url", api.url("/upload"));
            options.put("--method", "POST");
            options.put("--data", "@" + in("garbage.bin"));
            run("call-api", flatten(options)).assertOk();
            assertEquals(HexFormat.of().formatHex(bytes), HexFormat.of().formatHex(api.requests.get(0).body()));
        }
    }

    // ------------------------------------------------------------------ helpers

    static void assertRefused(String command, List<String> args, String[] mustName) throws Exception {
        Map<String, String> before = snapshot(scratch);
        TestSupport.Result r = run(command, args);
        r.assertOneLineError(2, mustName);
        assertTrue(r.err().startsWith(command + ": "), () -> "the line names the command: " + r.err());
        assertEquals(before, snapshot(scratch), "the scratch folder changed");
    }

    static List<String> flatten(Map<String, String> options) {
        List<String> args = new ArrayList<>();
        options.forEach((k, v) -> {
            args.add(k);
            args.add(v);
        });
        return args;
    }

    static TestSupport.Result run(String command, List<String> args) throws Exception {
        Object instance = newCommand(command);
        String[] argv = args.toArray(String[]::new);
        if (!(instance instanceof MockServer)) {
            return TestSupport.runInProcess(instance, argv);
        }
        MockServer mock = (MockServer) instance;
        CompletableFuture<TestSupport.Result> running = CompletableFuture.supplyAsync(
                () -> TestSupport.runInProcess(mock, argv));
        try {
            return running.get(MOCK_SERVER_SAFETY_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            mock.stop();
            return fail("mock-server started and served despite " + args);
        }
    }

    /** Every path under the folder with its permissions and content digest. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> entries = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.toList()) {
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                String content = Files.isDirectory(p) ? "dir" : Files.isReadable(p) ? digest(p) : "unreadable";
                entries.put(root.relativize(p).toString(), mode + " " + content);
            }
        }
        return entries;
    }

    private static String digest(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
