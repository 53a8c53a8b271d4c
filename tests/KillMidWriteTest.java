import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.nimbusds.jose.jwk.JWKSet;

import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * generate-keys as a real process, killed with SIGKILL at many moments of its life: no key is
 * ever left half-written under its final name, and keys already in the folder survive, whether
 * the run was meant to add a new kid or to replace one with --force.
 */
class KillMidWriteTest {

    static final int ITERATIONS = 12;
    /** Only a hung child makes these matter: a run takes a second or two. */
    static final long SAFETY_SECONDS = 60;

    @TempDir
    static Path dir;
    static Map<String, byte[]> bystander;
    static byte[] originalVictimKey;
    static long fullRunMillis;

    @BeforeAll
    static void keysAlreadyThere() throws Exception {
        for (String kid : List.of("bystander", "victim")) {
            TestFixture.key(dir, kid);
        }
        bystander = read("bystander.pem", "bystander.pem.pub", "bystander.json");
        originalVictimKey = Files.readAllBytes(dir.resolve("victim.pem"));
        // How long a whole run takes here, so the timed kills spread over all of it.
        long start = System.nanoTime();
        Process warmUp = generateKeys("warm-up", false);
        assertTrue(warmUp.waitFor(SAFETY_SECONDS, TimeUnit.SECONDS), "generate-keys did not finish");
        assertEquals(0, warmUp.exitValue(), new String(warmUp.getErrorStream().readAllBytes()));
        fullRunMillis = (System.nanoTime() - start) / 1_000_000;
    }

    /** The command as a user's shell would start it, but on this JVM's classpath (already built). */
    static Process generateKeys(String kid, boolean force) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "GenerateKeys",
                "--output-dir", dir.toString(), "--kid", kid, "--key-size", "2048"));
        if (force) {
            cmd.add("--force");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        return pb.start();
    }

    @Test
    void aKillAtAnyMomentLeavesOnlyWholeKeysAndNeverDamagesExistingOnes() throws Exception {
        List<String> outcomes = new ArrayList<>();
        for (int i = 0; i < ITERATIONS; i++) {
            boolean replacing = i % 2 == 0;
            String kid = replacing ? "victim" : "fresh-" + i;
            try (WatchService watcher = FileSystems.getDefault().newWatchService()) {
                dir.register(watcher, StandardWatchEventKinds.ENTRY_CREATE);
                Process run = generateKeys(kid, replacing);
                if (i < ITERATIONS / 2) {
                    // Spread over the run: JVM start, key generation, the three writes.
                    Thread.sleep(fullRunMillis * (i + 1) / (ITERATIONS / 2 + 1));
                } else {
                    // Right as the n-th file appears: a temp file being written, or one just linked into place.
                    awaitCreations(watcher, run, i - ITERATIONS / 2 + 1);
                }
                run.destroyForcibly();
                assertTrue(run.waitFor(SAFETY_SECONDS, TimeUnit.SECONDS), "the killed process did not end");
                outcomes.add(kid + (run.exitValue() == 0 ? " finished" : " killed"));
            }
            assertEveryFinalFileIsWhole(outcomes);
            assertEquals(bystander.keySet(), read("bystander.pem", "bystander.pem.pub", "bystander.json").keySet());
            bystander.forEach((name, bytes) -> assertArrayEquals(bytes, readUnchecked(name), name + " changed"));
            byte[] victim = Files.readAllBytes(dir.resolve("victim.pem"));
            if (!java.util.Arrays.equals(victim, originalVictimKey)) {
                NhsKeys.readPrivateKey(dir.resolve("victim.pem"), null);
            }
        }
    }

    /** Waits until {@code n} entries were created in the folder, or the run ended first. */
    static void awaitCreations(WatchService watcher, Process run, int n) throws InterruptedException {
        int seen = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SAFETY_SECONDS);
        while (seen < n && run.isAlive() && System.nanoTime() < deadline) {
            WatchKey key = watcher.poll(20, TimeUnit.MILLISECONDS);
            if (key != null) {
                for (WatchEvent<?> event : key.pollEvents()) {
                    if (event.kind() != StandardWatchEventKinds.OVERFLOW) {
                        seen++;
                    }
                }
                key.reset();
            }
        }
    }

    /** Every file under a final name parses whole; a leftover temp file of a private key stays private. */
    static void assertEveryFinalFileIsWhole(List<String> outcomes) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                String context = name + " after " + outcomes;
                if (name.startsWith(".")) {
                    assertTrue(name.matches("\\..+\\.\\d+\\.tmp\\.(pem|pem\\.pub|json)"), "ends as its target: " + context);
                    if (name.endsWith(".pem")) {
                        assertEquals("rw-------", TestSupport.posixMode(p), "temp file of a private key: " + context);
                    }
                    continue;
                }
                try {
                    if (name.endsWith(".pem")) {
                        NhsKeys.readPrivateKey(p, null);
                        assertEquals("rw-------", TestSupport.posixMode(p), context);
                    } else if (name.endsWith(".pem.pub")) {
                        try (PEMParser parser = new PEMParser(new StringReader(Files.readString(p)))) {
                            assertNotNull(SubjectPublicKeyInfo.getInstance(parser.readObject()), context);
                        }
                    } else if (name.endsWith(".json")) {
                        assertEquals(1, JWKSet.parse(Files.readString(p)).getKeys().size(), context);
                    } else {
                        fail("unexpected file " + context);
                    }
                } catch (UsageException | java.text.ParseException | IOException | IllegalArgumentException e) {
                    fail("half-written " + context + ": " + e.getMessage());
                }
            }
        }
    }

    static Map<String, byte[]> read(String... names) throws IOException {
        Map<String, byte[]> all = new TreeMap<>();
        for (String n : names) {
            all.put(n, Files.readAllBytes(dir.resolve(n)));
        }
        return all;
    }

    static byte[] readUnchecked(String name) {
        try {
            return Files.readAllBytes(dir.resolve(name));
        } catch (IOException e) {
            throw new AssertionError(name + " unreadable", e);
        }
    }
}
