import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/** A spinner on stderr while slow work runs, only where a person watches it; never on stdout. */
class ProgressTest {

    static final String LABEL = "generating a 2048-bit RSA key";

    @TempDir
    Path dir;

    static TestSupport.Result generateKeys(Boolean progress, Path dir, String... extra) {
        GenerateKeys command = new GenerateKeys();
        command.progress = progress;
        List<String> args = new java.util.ArrayList<>(List.of("--output-dir", dir.toString(), "--key-size", "2048"));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(command, args.toArray(String[]::new));
    }

    @Test
    void forcedOnGenerateKeysDrawsTheSpinnerOnStderrAndWipesItBeforeItsReport() {
        TestSupport.Result r = generateKeys(true, dir).assertOk();
        // After the short key's warning line comes the first frame, drawn at once.
        String warning = "warning: a 2048-bit key is below the 4096 bits that NHS guidance asks for\n";
        assertTrue(r.err().startsWith(warning + "\r| " + LABEL + "... 0 s"), () -> "first frame at once:\n" + r.err());
        int report = r.err().indexOf("Private key:");
        String beforeReport = r.err().substring(warning.length(), report);
        assertTrue(beforeReport.matches("(?s).*\r {" + (("| " + LABEL + "... 0 s").length()) + ",}\r"),
                () -> "the line is wiped with spaces and the cursor put back: " + beforeReport.replace("\r", "\\r"));
        assertFalse(beforeReport.contains("\n"), "the spinner stays on one line");
        assertEquals("", r.out());
    }

    @Test
    void forcedOnTheResultOnStdoutStaysClean() throws Exception {
        TestSupport.Result r = generateKeys(true, dir, "--format", "json").assertOk();
        assertTrue(r.err().contains(LABEL), r.err());
        assertFalse(r.out().contains("\r") || r.out().contains(LABEL), r.out());
        TestSupport.parseJson(r.out());
    }

    @Test
    void forcedOffOrNotOnAProcessTerminalThereIsNone() {
        for (Boolean progress : new Boolean[] {false, null}) {
            TestSupport.Result r = generateKeys(progress, dir.resolve(String.valueOf(progress))).assertOk();
            assertFalse(r.err().contains("\r") || r.err().contains(LABEL), r.err());
            assertTrue(r.err().lines().skip(1).findFirst().orElse("").startsWith("Private key:"), r.err());
        }
    }

    @Test
    void theDemoShowsEachStepAsItStartsThenItsSpinnerThenItsResult() {
        StringWriter both = new StringWriter();
        StringWriter stdout = new StringWriter();
        PrintWriter shared = new PrintWriter(both, true);
        NhsAuth.Demo demo = new NhsAuth.Demo();
        demo.progress = true;
        CommandLine cl = NhsCli.commandLine(demo);
        // stdout into both logs, stderr into the shared one only: the shared log keeps their order.
        cl.setOut(new PrintWriter(new java.io.Writer() {
            @Override
            public void write(char[] buf, int off, int len) {
                shared.write(buf, off, len);
                stdout.write(buf, off, len);
            }

            @Override
            public void flush() {
                shared.flush();
            }

            @Override
            public void close() {
            }
        }, true));
        cl.setErr(shared);
        assertEquals(0, cl.execute("--key-size", "2048"), both.toString());
        String log = both.toString();
        int header = log.indexOf("1. Make a key pair");
        int spinner = log.indexOf("running generate-keys...");
        int result = log.indexOf("Private key:");
        assertTrue(header >= 0 && header < spinner && spinner < result, () -> "order: " + header + " " + spinner + " " + result);
        for (String step : List.of("generate-keys", "get-token", "call-api")) {
            assertTrue(log.contains("\r| running " + step + "... "), step);
        }
        assertFalse(stdout.toString().contains("\r") || stdout.toString().contains("running "), "stdout has no progress");

        NhsAuth.Demo quiet = new NhsAuth.Demo();
        quiet.progress = false;
        TestSupport.Result r = TestSupport.runInProcess(quiet, "--key-size", "2048").assertOk();
        assertFalse(r.err().contains("\r") || r.out().contains("\r"), r.err());
    }

    /**
     * Through the launcher under a real pseudo-terminal: progress when stderr is the terminal,
     * also with stdout redirected (where System.console() is null), none when stderr is a file.
     */
    @Test
    void aRealTerminalDecides() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "util-linux script is not installed");
        // Quoted: the repository may sit under a folder with a space.
        String alias = "'" + TestSupport.repoRoot().resolve("jbang") + "' 'generate-keys@" + TestSupport.repoRoot()
                + "' --key-size 2048 --output-dir";
        TestSupport.Result onScreen = underTerminal(alias + " a --format json > a.json");
        assertTrue(onScreen.out().contains(LABEL), "stderr on the terminal, stdout redirected: " + onScreen.out());
        assertFalse(Files.readString(dir.resolve("a.json")).contains(LABEL));

        TestSupport.Result toFile = underTerminal(alias + " b 2> b.err");
        assertFalse(toFile.out().contains(LABEL), toFile.out());
        String err = Files.readString(dir.resolve("b.err"));
        assertFalse(err.contains(LABEL) || err.contains("\r"), err);
        assertTrue(err.contains("Private key:"), err);
    }

    TestSupport.Result underTerminal(String command) {
        return TestSupport.process(dir, Map.of("TERM", "xterm"), null,
                List.of("script", "-q", "-e", "-c", command, "/dev/null")).assertOk();
    }
}
