import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The README's runbooks are real: every {@code sh} block runs, in order, as one shell session in
 * a scratch folder laid out like the repository. A mock server stands in for the int
 * environment: its token endpoint through NHS_TOKEN_URL, and int.api.service.nhs.uk URLs are
 * pointed at it (Hello World as is, any other API at its echo endpoint). Run with no other test
 * class beside it: the session starts some forty JVMs, and sharing two cores with the other
 * process-heavy classes took it past its hang guard.
 */
@Isolated
class ReadmeTest {

    static final String INT = "https://int.api.service.nhs.uk/";
    /**
     * Only a guard against a hung runbook: the README is some thirty commands, each a JVM or two,
     * which a loaded two-core machine stretches far beyond one command's allowance.
     */
    static final long RUNBOOK_TIMEOUT_SECONDS = 1800;

    @TempDir
    Path scratch;

    static List<String> shellBlocks(String markdown) {
        List<String> blocks = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^```sh\\n(.*?)^```$", Pattern.DOTALL).matcher(markdown);
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    /**
     * The runbook with each fixed {@code --port} it gives, and the loopback URLs on that port, moved
     * to a port free now: two test runs at once on one machine must not meet on the README's port.
     */
    static String onFreePorts(String script) throws IOException {
        Map<String, Integer> moved = new HashMap<>();
        Matcher fixed = Pattern.compile("--port (\\d+)").matcher(script);
        while (fixed.find()) {
            if (!fixed.group(1).equals("0") && !moved.containsKey(fixed.group(1))) {
                try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                    moved.put(fixed.group(1), free.getLocalPort());
                }
            }
        }
        for (Map.Entry<String, Integer> port : moved.entrySet()) {
            script = script.replaceAll("(--port |127\\.0\\.0\\.1:|localhost:)" + port.getKey() + "\\b",
                    "$1" + port.getValue());
        }
        return script;
    }

    @Test
    void everyShellBlockInTheReadmeRuns() throws Exception {
        Path root = TestSupport.repoRoot();
        for (String entry : List.of("jbang", "jbang-catalog.json", "scripts", "tests")) {
            Files.createSymbolicLink(scratch.resolve(entry), root.resolve(entry));
        }
        List<String> blocks = shellBlocks(Files.readString(root.resolve("README.md")));
        assertTrue(blocks.size() >= 10, "the README has its runbooks: " + blocks.size());

        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App("YOUR_API_KEY", scratch.resolve(".auth/int-1.json").toString(), true)),
                3600, null)) {
            StringBuilder script = new StringBuilder("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
            for (int i = 0; i < blocks.size(); i++) {
                String block = blocks.get(i)
                        .replace(INT + "hello-world/", mock.baseUrl() + "/hello-world/")
                        .replace(INT, mock.baseUrl() + "/echo/")
                        .replace("/path/to/nhs-auth", "'" + root + "'") // a folder with a space stays one word
                        .replaceAll("(?m)^.*tests/RunTests\\.java.*$", ": skipped, this is the test run itself");
                script.append("echo '### README block ").append(i + 1).append("' >&2\n").append(block);
            }
            TestSupport.Result r = TestSupport.process(scratch, Map.of(
                    "NHS_TOKEN_URL", mock.tokenUrl(),
                    "XDG_CACHE_HOME", scratch.resolve(".cache").toString(),
                    "NHS_AUTH_PREFIX", scratch.resolve("prefix").toString()), null,
                    List.of("bash", "-c", onFreePorts(script.toString())), RUNBOOK_TIMEOUT_SECONDS);
            assertEquals(0, r.exit(), () -> "a README block failed; the last '### README block N' names it:\n"
                    + r.err() + "\nstdout:\n" + r.out());
            r.assertNoStackTrace();
            assertTrue(r.out().contains("Hello Application!"), r.out());
            assertTrue(r.out().contains("hello-world OK, token reused: true"), r.out());
            assertTrue(r.out().contains("\"nhs-login-nhs-number\":\"9000000009\"")
                    || r.out().toLowerCase().contains("\"nhs-login-nhs-number\":\"9000000009\""), r.out());
            assertTrue(r.out().startsWith("nhs-auth demo:"), "the quick start's demo ran first");
            assertTrue(Files.exists(scratch.resolve("MyCheck.java")), "the template was instantiated");
            assertFalse(r.err().contains("Bearer ") && !r.err().contains("Bearer ****"), "a bearer token on stderr");
        } finally {
            for (String entry : List.of("jbang", "jbang-catalog.json", "scripts", "tests")) {
                Files.deleteIfExists(scratch.resolve(entry));
            }
        }
    }
}
