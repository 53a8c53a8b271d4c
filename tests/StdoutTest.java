import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;

/**
 * A result that cannot be written to stdout is an error, not a silent exit 0: every command, real
 * processes with stdout on /dev/full (a device whose every write fails: disk full) or on a pipe
 * its reader closes early, which is the reader's choice and ends the command quietly.
 */
class StdoutTest {

    static final int OUTPUT_FAILED = 23;
    /** Far more than a pipe buffers, so the writer is still writing when the reader goes. */
    static final int BIG_BODY_BYTES = 8 * 1024 * 1024;

    @TempDir
    static Path scratch;
    static Path pem;
    static FakeServer nhs;

    @BeforeAll
    static void keyAndServer() throws Exception {
        pem = TestFixture.key(scratch, "out-kid");
        String big = "x".repeat(BIG_BODY_BYTES);
        nhs = new FakeServer(r -> r.uri().startsWith("/oauth2/token") ? FakeServer.Reply.token("out-token")
                : r.uri().startsWith("/big") ? new FakeServer.Reply(200, Map.of("Content-Type", "text/plain"), big)
                : FakeServer.Reply.json(200, "{\"hello\": \"world\"}"));
    }

    @AfterAll
    static void stop() {
        nhs.close();
    }

    static boolean devFullExists() {
        return new File("/dev/full").exists();
    }

    static List<String> command(String alias, String... args) {
        List<String> all = new ArrayList<>(List.of(TestSupport.repoRoot().resolve("jbang").toString(),
                alias + "@" + TestSupport.repoRoot()));
        all.addAll(List.of(args));
        return all;
    }

    static List<String> client(String alias, String... args) {
        List<String> all = new ArrayList<>(List.of("--api-key", "k", "--private-key", pem.toString(),
                "--token-url", nhs.url("/oauth2/token")));
        all.addAll(List.of(args));
        return command(alias, all.toArray(String[]::new));
    }

    /** Runs with stdout on /dev/full; returns exit code and stderr. */
    static TestSupport.Result toDevFull(List<String> command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(scratch.toFile())
                .redirectOutput(new File("/dev/full")).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        Process p = pb.start();
        CompletableFuture<String> err = TestSupport.drain(p.getErrorStream());
        return new TestSupport.Result(waitFor(p, command), "", err.join());
    }

    static void assertLost(TestSupport.Result r, String name) {
        List<String> lines = r.err().lines().filter(l -> !TestSupport.isLaunchersTalk(l) && !l.startsWith("using kid")
                && !l.startsWith("warning:") && !l.startsWith("X-Request-ID:") && !l.startsWith("HTTP ")).toList();
        assertEquals(OUTPUT_FAILED, r.exit(), () -> "exit code; stderr was:\n" + r.err());
        r.assertNoStackTrace();
        assertEquals(1, lines.size(), () -> "one error line expected:\n" + r.err());
        assertTrue(lines.get(0).startsWith(name + ": cannot write the result to stdout (No space left on device)"),
                lines.get(0));
    }

    @Test
    @EnabledIf("devFullExists")
    void aTokenThatCannotBeWrittenIsAnErrorNotASilentSuccess() throws Exception {
        assertLost(toDevFull(client("get-token", "--format", "token")), "get-token");
    }

    @Test
    @EnabledIf("devFullExists")
    void anApiBodyThatCannotBeWrittenIsAnError() throws Exception {
        assertLost(toDevFull(client("call-api", "--url", nhs.url("/hello"))), "call-api");
        assertLost(toDevFull(client("call-api", "--url", nhs.url("/hello"), "--include")), "call-api");
    }

    @Test
    @EnabledIf("devFullExists")
    void generateKeysJsonAndVerifyKeysVerdictThatCannotBeWrittenAreErrors() throws Exception {
        assertLost(toDevFull(command("generate-keys", "--output-dir", scratch.resolve("lost").toString(),
                "--key-size", "2048", "--format", "json")), "generate-keys");
        assertLost(toDevFull(command("verify-keys", "--private-key", pem.toString(), "--jwks",
                scratch.resolve("out-kid.json").toString())), "verify-keys");
    }

    @Test
    void aReaderThatClosesThePipeEarlyEndsTheCommandQuietly() throws Exception {
        List<String> cmd = client("call-api", "--url", nhs.url("/big"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(scratch.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        Process p = pb.start();
        CompletableFuture<String> err = TestSupport.drain(p.getErrorStream());
        try (InputStream out = p.getInputStream()) {
            byte[] first = out.readNBytes(10);
            assertEquals("xxxxxxxxxx", new String(first, StandardCharsets.UTF_8), "the body started");
        }
        int exit = waitFor(p, cmd);
        String stderr = err.join();
        assertEquals(OUTPUT_FAILED, exit, () -> "exit code; stderr was:\n" + stderr);
        assertFalse(stderr.contains("\tat ") || stderr.contains("Exception"), stderr);
        assertFalse(stderr.contains("cannot write"), () -> "a closed pipe is the reader's choice, not an error:\n" + stderr);
    }

    @Test
    void aResultThatIsWrittenStillExitsZero() throws Exception {
        TestSupport.Result r = TestSupport.process(scratch, Map.of(), null, client("get-token", "--format", "token"))
                .assertOk();
        assertEquals("out-token\n", r.out());
    }

    private static int waitFor(Process p, List<String> command) throws InterruptedException {
        if (!p.waitFor(TestSupport.PROCESS_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("timed out after " + TestSupport.PROCESS_TIMEOUT_SECONDS + " s: " + command);
        }
        return p.exitValue();
    }
}
