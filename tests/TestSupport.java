import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.nimbusds.jose.util.JSONObjectUtils;

import picocli.CommandLine;

/** Helpers shared by the test classes: running commands in-process and through ./jbang. */
final class TestSupport {

    /**
     * A hang guard, not a speed limit: long enough for a cold JBang build on a loaded machine that
     * also waits its turn for the launcher's build lock (builds into one JBang cache are serialised).
     */
    static final long PROCESS_TIMEOUT_SECONDS = 600;

    private static Socket refusing;

    private TestSupport() {
    }

    /**
     * A loopback port that refuses connections for the whole test run. A socket holds it, bound but
     * never listening, so no server of this run or of another on the machine can take it meanwhile,
     * as one could a port found free and closed again.
     */
    static synchronized int refusedPort() {
        if (refusing == null) {
            try {
                Socket socket = new Socket();
                socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                refusing = socket;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return refusing.getLocalPort();
    }

    /**
     * A line of JBang's or the launcher's own on a ./jbang run's stderr, not the command's: JBang's
     * {@code [jbang]} lines, and the launcher's note that another run has held the build lock for a
     * while, which a busy machine or a second test run beside this one can bring at any time.
     */
    static boolean isLaunchersTalk(String line) {
        return line.startsWith("[jbang]") || line.startsWith("jbang launcher: waiting for another JBang run");
    }

    /** What a command printed and returned. */
    record Result(int exit, String out, String err) {
        /** Asserts the documented failure shape: the code, one line on stderr, nothing on stdout. */
        Result assertOneLineError(int expectedExit, String... mustContain) {
            assertEquals(expectedExit, exit, () -> "exit code; stderr was:\n" + err);
            assertEquals("", out, "stdout must be empty on failure");
            assertNoStackTrace();
            List<String> lines = err.lines().filter(l -> !isLaunchersTalk(l)).toList();
            assertEquals(1, lines.size(), () -> "exactly one error line expected, got:\n" + err);
            for (String s : mustContain) {
                assertTrue(lines.get(0).contains(s), () -> "error line should contain '" + s + "': " + lines.get(0));
            }
            return this;
        }

        /** A network or token failure's shape: the code, stdout empty, one error line and one hint line. */
        Result assertOneLineErrorWithHint(int expectedExit, String... mustContain) {
            assertEquals(expectedExit, exit, () -> "exit code; stderr was:\n" + err);
            assertEquals("", out, "stdout must be empty on failure");
            assertNoStackTrace();
            List<String> lines = err.lines().filter(l -> !isLaunchersTalk(l) && !l.startsWith("warning:")
                    && !l.startsWith("using kid") && !l.startsWith("X-Request-ID:")).toList();
            assertEquals(2, lines.size(), () -> "an error line and a hint line expected, got:\n" + err);
            assertTrue(lines.get(1).startsWith("hint: "), () -> "second line is the hint: " + err);
            for (String s : mustContain) {
                assertTrue(lines.get(0).contains(s), () -> "error line should contain '" + s + "': " + lines.get(0));
            }
            return this;
        }

        Result assertOk() {
            assertEquals(0, exit, () -> "exit code; stderr was:\n" + err + "\nstdout was:\n" + out);
            assertNoStackTrace();
            return this;
        }

        void assertNoStackTrace() {
            assertFalse(err.contains("\tat ") || err.contains("Exception in thread"),
                    () -> "stack trace on stderr:\n" + err);
        }
    }

    /** Runs a command object in-process through the toolkit's own picocli wiring. */
    static Result runInProcess(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = NhsCli.commandLine(command, args);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Result(exit, out.toString(), err.toString());
    }

    static Path repoRoot() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("jbang-catalog.json")) && Files.isRegularFile(d.resolve("jbang"))) {
                return d;
            }
        }
        throw new IllegalStateException("run the tests from inside the nhs-auth repository (no jbang-catalog.json above "
                + dir + ")");
    }

    /** Runs {@code ./jbang ARGS} as a user would, in {@code workDir}, with extra environment variables. */
    static Result jbang(Path workDir, Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>();
        command.add(repoRoot().resolve("jbang").toString());
        command.addAll(List.of(args));
        return process(workDir, env, null, command);
    }

    static Result process(Path workDir, Map<String, String> env, byte[] stdin, List<String> command) {
        return process(workDir, env, stdin, command, PROCESS_TIMEOUT_SECONDS);
    }

    /** {@link #process} for a run of many commands (a whole runbook), which a shared machine's load can stretch. */
    static Result process(Path workDir, Map<String, String> env, byte[] stdin, List<String> command, long timeoutSeconds) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        pb.environment().putAll(env);
        try {
            Process p = pb.start();
            CompletableFuture<String> out = drain(p.getInputStream());
            CompletableFuture<String> err = drain(p.getErrorStream());
            try (var in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin);
                }
            }
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                String said = err.completeOnTimeout("", 5, TimeUnit.SECONDS).join();
                throw new AssertionError("timed out after " + timeoutSeconds + " s: " + command + "\nits stderr:\n"
                        + said.substring(Math.max(0, said.length() - 4000)));
            }
            return new Result(p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Reads a child's output stream to the end on a daemon thread, so a full pipe never stalls it. */
    static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                ByteArrayOutputStream buffer = new ByteArrayOutputStream();
                stream.transferTo(buffer);
                return buffer.toString(StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "<unreadable: " + e + ">";
            }
        }, runnable -> {
            Thread t = new Thread(runnable, "drain");
            t.setDaemon(true);
            t.start();
        });
    }

    /** Builds each catalog alias serially; returns how many failed (each is reported). */
    static int buildCatalogAliases(Path root, PrintWriter log) throws IOException, java.text.ParseException {
        Map<String, Object> catalog = JSONObjectUtils.parse(Files.readString(root.resolve("jbang-catalog.json")));
        Map<String, Object> aliases = JSONObjectUtils.getJSONObject(catalog, "aliases");
        int failures = 0;
        for (Map.Entry<String, Object> alias : aliases.entrySet()) {
            @SuppressWarnings("unchecked")
            String scriptRef = (String) ((Map<String, Object>) alias.getValue()).get("script-ref");
            Result r = jbang(root, Map.of(), "build", scriptRef);
            if (r.exit() != 0) {
                failures++;
                log.println("BUILD FAILED  alias " + alias.getKey() + " (" + scriptRef + "):\n" + r.err());
            }
        }
        log.println("built " + aliases.size() + " catalog aliases, " + failures + " failed");
        return failures;
    }

    static Map<String, Object> parseJson(String text) {
        try {
            return JSONObjectUtils.parse(text);
        } catch (java.text.ParseException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }

    static String posixMode(Path file) throws IOException {
        return java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
    }

    /** A file's bytes, or null when absent: for "nothing changed" checks. */
    static byte[] bytesOrNull(Path file) throws IOException {
        return Files.exists(file) ? Files.readAllBytes(file) : null;
    }
}
