import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Isolated;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.nimbusds.jose.util.JSONObjectUtils;

/**
 * The ./jbang launcher: on machines that lack things (no JBang, no Maven, no Java, a bad jar), with
 * spaces in paths, CRLF checkouts, parallel first runs, tampered state and PATH loops. It starts
 * dozens of JVMs, some deliberately at once, so it runs alone: beside it, the timing-sensitive
 * tests of other classes would be starved on a small machine.
 */
@Isolated
class LauncherTest {

    /** A hung launcher is killed after this; a loop would otherwise never end. */
    static final long HANG_SECONDS = 90;

    static final String VERSION = "0.132.1";

    @TempDir
    Path tmp;

    /** A PATH holding only the named tools, so the launcher sees a bare machine. */
    Path bin(String... tools) throws Exception {
        Path bin = Files.createDirectories(tmp.resolve("bin"));
        for (String tool : tools) {
            for (String dir : List.of("/usr/bin", "/bin", "/usr/local/bin")) {
                Path real = Path.of(dir, tool);
                if (Files.isExecutable(real)) {
                    Files.createSymbolicLink(bin.resolve(tool), real.toRealPath());
                    break;
                }
            }
        }
        return bin;
    }

    static final String[] BASICS = {"bash", "sh", "sed", "mkdir", "mktemp", "mv", "rm", "rmdir", "tail", "sha256sum",
        "readlink", "ls", "cksum", "cat", "env", "chmod", "cp", "find", "sleep", "awk", "grep", "sort", "od"};

    TestSupport.Result launcher(Path bin, Map<String, String> extraEnv, String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve("bash").toString(),
                TestSupport.repoRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        Map<String, String> env = new HashMap<>(Map.of("PATH", bin.toString(), "JAVA_HOME", "",
                "JBANG_DIR", tmp.resolve("jbang-home").toString(), "HOME", tmp.toString()));
        env.putAll(extraEnv);
        return TestSupport.process(tmp, env, null, cmd);
    }

    /**
     * Runs a command with the environment of the test run minus every NHS_* and JBANG_* variable,
     * the pinned JBang forced, then {@code env} applied (a null value removes a variable).
     */
    static Process start(Path dir, Map<String, String> env, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_") || k.startsWith("JBANG_"));
        pb.environment().put("NHS_AUTH_BUNDLED_JBANG", "1");
        env.forEach((k, v) -> {
            if (v == null) {
                pb.environment().remove(k);
            } else {
                pb.environment().put(k, v);
            }
        });
        return pb.start();
    }

    /** Waits for a started command; one that hangs is killed with its children and fails the test. */
    static TestSupport.Result finish(Process p, List<String> command, long timeoutSeconds) throws InterruptedException {
        CompletableFuture<String> out = TestSupport.drain(p.getInputStream());
        CompletableFuture<String> err = TestSupport.drain(p.getErrorStream());
        try {
            p.getOutputStream().close();
        } catch (IOException ignored) {
            // the process may be gone already
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("still running after " + timeoutSeconds + " s, killed: " + command);
        }
        return new TestSupport.Result(p.exitValue(), out.join(), err.join());
    }

    static TestSupport.Result run(Path dir, Map<String, String> env, long timeoutSeconds, List<String> command)
            throws Exception {
        return finish(start(dir, env, command), command, timeoutSeconds);
    }

    static TestSupport.Result run(Path dir, Map<String, String> env, List<String> command) throws Exception {
        return run(dir, env, TestSupport.PROCESS_TIMEOUT_SECONDS, command);
    }

    static List<String> launcherCommand(Path launcher, String... args) {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * A JBANG_DIR holding a private launcher folder with the test run's JBang jar, so no test
     * downloads JBang again.
     */
    Path jbangHome(Path home) throws Exception {
        Assumptions.assumeTrue(Files.exists(sharedJBangJar()),
                "the tests run through this launcher's own JBang, not one on PATH");
        Path state = Files.createDirectories(home.resolve("nhs-auth-launcher"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        Files.copy(sharedJBangJar(), state.resolve(JAR));
        return home;
    }

    static final String JAR = "jbang-cli-" + VERSION + "-all.jar";

    /**
     * Replaces JBang's jar with one the launcher refuses ("refusing ... SHA-256", exit 3), so a run
     * that still succeeds was served from a remembered command line without JBang. (Deleting the
     * jar would not do: with Maven on PATH the launcher fetches it again.)
     */
    static void breakJBang(Path jbangDir) throws IOException {
        Path state = jbangDir.resolve("nhs-auth-launcher");
        Files.writeString(state.resolve(JAR), "not JBang");
        Files.deleteIfExists(state.resolve(JAR + ".sha256-ok"));
    }

    static void restoreJBang(Path jbangDir) throws IOException {
        Files.copy(sharedJBangJar(), jbangDir.resolve("nhs-auth-launcher/" + JAR), StandardCopyOption.REPLACE_EXISTING);
    }

    /** Environment for a JBANG_DIR whose builds come from the test run's cache (every alias is built). */
    static Map<String, String> sharedCacheEnv(Path jbangDir) {
        Map<String, String> env = new HashMap<>();
        env.put("JBANG_DIR", jbangDir.toString());
        env.put("JBANG_CACHE_DIR", sharedJBangCache().toString());
        return env;
    }

    static Path onlyEntry(Path jbangDir) throws IOException {
        try (var files = Files.list(jbangDir.resolve("nhs-auth-launcher/exec-cache"))) {
            List<Path> all = files.toList();
            assertEquals(1, all.size(), "one remembered command line: " + all);
            return all.get(0);
        }
    }

    /** A remembered command: its arguments, each ended by NUL. */
    static List<String> readEntry(Path entry) throws IOException {
        String text = Files.readString(entry);
        assertTrue(text.endsWith("\0"), "every argument ends with NUL");
        return Arrays.asList(text.substring(0, text.length() - 1).split("\0", -1));
    }

    static void writeEntry(Path entry, List<String> args) throws IOException {
        StringBuilder text = new StringBuilder();
        args.forEach(a -> text.append(a).append('\0'));
        Files.writeString(entry, text);
    }

    static boolean isRoot() {
        try {
            Process p = new ProcessBuilder("id", "-u").start();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim().equals("0");
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void withoutJavaItSaysToInstallAJdk() throws Exception {
        launcher(bin(BASICS), Map.of(), "version").assertOneLineError(2, "no Java found", "JDK 17");
    }

    @Test
    void withoutJBangOrMavenItSaysToInstallMaven() throws Exception {
        Path bin = bin(BASICS);
        Files.createSymbolicLink(bin.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
        launcher(bin, Map.of(), "version").assertOneLineError(2, "Maven is not on PATH", "install Maven");
    }

    @Test
    void refusesAJBangJarWithTheWrongChecksum() throws Exception {
        Path bin = bin(BASICS);
        Files.createSymbolicLink(bin.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
        Path state = Files.createDirectories(tmp.resolve("jbang-home/nhs-auth-launcher"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(state.resolve(JAR), "not the real jar");
        launcher(bin, Map.of(), "version").assertOneLineError(3, "refusing", "SHA-256");
    }

    @Test
    void aJBangDirThatCannotBeCreatedIsOneLine() throws Exception {
        Files.writeString(tmp.resolve("a-file"), "");
        Map<String, String> env = Map.of("JBANG_DIR", tmp.resolve("a-file/jbang").toString());
        run(tmp, env, launcherCommand(TestSupport.repoRoot().resolve("jbang"), "version"))
                .assertOneLineError(2, "cannot create", "JBANG_DIR");
    }

    @Test
    void bootstrapsJBangWithMavenIntoAnEmptyJBangDir() throws Exception {
        Path home = tmp.resolve("fresh-home");
        // Builds come from the test run's cache: a cold build is what the parallel test below makes.
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "NHS_AUTH_BUNDLED_JBANG", "1",
                "JBANG_CACHE_DIR", sharedJBangCache().toString());
        TestSupport.Result r = TestSupport.process(tmp, env, null, List.of("sh", "-c", "umask 0 && exec \"$0\" \"$@\"",
                TestSupport.repoRoot().resolve("jbang").toString(), "version")).assertOk();
        assertEquals(VERSION, r.out().trim());
        assertEquals("rwx------", TestSupport.posixMode(home.resolve("nhs-auth-launcher")), "private whatever the umask");
        TestSupport.process(tmp, env, null, List.of(TestSupport.repoRoot().resolve("jbang").toString(),
                "generate-keys@" + TestSupport.repoRoot(), "--output-dir", "fresh", "--key-size", "2048")).assertOk();
        assertTrue(Files.exists(tmp.resolve("fresh/int-1.pem")));
        assertTrue(Files.exists(home.resolve("nhs-auth-launcher/" + JAR)));
        try (var files = Files.list(home.resolve("nhs-auth-launcher"))) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".download")), "temp folder left");
        }
    }

    /**
     * Warm runs of the repository's aliases skip JBang's JVM: proven by breaking JBang's jar after
     * the first run, which only a remembered command line survives.
     */
    @Test
    void aWarmAliasRunNeedsNoJBangAndAStaleEntryFallsBackToJBang() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(TestSupport.repoRoot().resolve("jbang"),
                "verify-keys@" + TestSupport.repoRoot(), "--help");
        String first = run(tmp, env, help).assertOk().out();
        assertTrue(first.contains("Usage: verify-keys"), first);
        Path entry = onlyEntry(home);

        breakJBang(home);
        assertEquals(first, run(tmp, env, help).assertOk().out(), "served without JBang");

        List<String> args = new ArrayList<>(readEntry(entry));
        int cp = args.indexOf("-classpath") + 1;
        assertTrue(cp > 0, "a class path: " + args);
        args.set(cp, "/gone" + args.get(cp));
        writeEntry(entry, args);
        run(tmp, env, help).assertOneLineError(3, "refusing", "SHA-256");
        restoreJBang(home);
        assertEquals(first, run(tmp, env, help).assertOk().out(), "a stale entry goes back to JBang");
        assertFalse(Files.readString(entry).contains("/gone"), "and is written anew");

        Map<String, String> off = new HashMap<>(env);
        off.put("NHS_AUTH_LAUNCHER_CACHE", "0");
        Files.delete(entry);
        run(tmp, off, help).assertOk();
        try (var files = Files.list(entry.getParent())) {
            assertEquals(0, files.count(), "NHS_AUTH_LAUNCHER_CACHE=0 remembers nothing");
        }
    }

    /**
     * Aliases with {@code "cds": true}: JBang answers the first run with
     * {@code -XX:ArchiveClassesAtExit}; the launcher has that run list its classes instead, dumps a
     * static archive from the list (one that holds picocli too) and remembers
     * {@code -XX:SharedArchiveFile}, so later runs map the archive instead of writing it again; a
     * remembered archive that is missing goes back to JBang. Parallel first runs of CI jobs sharing one cache write the same archive
     * at once: every run prints only its result, and the archive left behind is whole
     * ({@code -Xshare:on} refuses to start on one that is not).
     */
    @Test
    void aClassDataArchiveIsWrittenOnceThenMappedAndParallelWritersLeaveItWhole() throws Exception {
        List<String> version = launcherCommand(TestSupport.repoRoot().resolve("jbang"),
                "get-token@" + TestSupport.repoRoot(), "--version");
        Path warm = jbangHome(tmp.resolve("home-warm"));
        run(tmp, sharedCacheEnv(warm), version).assertOk();
        List<String> built = readEntry(onlyEntry(warm));
        Path archive = Path.of(built.get(built.indexOf("-classpath") + 1).split(":")[0]).resolveSibling("GetToken.jsa");
        Files.deleteIfExists(archive);
        List<Process> parallel = new ArrayList<>();
        List<Path> homes = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path home = jbangHome(tmp.resolve("home-" + i));
            homes.add(home);
            parallel.add(start(tmp, sharedCacheEnv(home), version));
        }
        String expected = null;
        for (Process p : parallel) {
            String out = finish(p, version, TestSupport.PROCESS_TIMEOUT_SECONDS).assertOk().out();
            assertTrue(out.matches("nhs-auth get-token \\S+\\R"), "only the version on stdout, no class-data notices: " + out);
            assertTrue(expected == null || expected.equals(out), out);
            expected = out;
        }
        assertTrue(Files.isRegularFile(archive), "archive written: " + archive);

        Path home = homes.get(0);
        List<String> remembered = readEntry(onlyEntry(home));
        assertTrue(remembered.contains("-XX:SharedArchiveFile=" + archive), "remembered mapping the archive: " + remembered);
        assertFalse(remembered.stream().anyMatch(a -> a.startsWith("-XX:ArchiveClassesAtExit")),
                "the archive is not written again on every run: " + remembered);
        List<String> strict = new ArrayList<>(remembered);
        strict.add(strict.indexOf("-classpath"), "-Xshare:on");
        strict.add("--version");
        assertEquals(expected, run(tmp, Map.of(), strict).assertOk().out(), "the archive maps with -Xshare:on");
        List<String> loads = new ArrayList<>(strict);
        loads.add(loads.indexOf("-classpath"), "-Xlog:class+load=info");
        String loaded = run(tmp, Map.of(), loads).assertOk().out();
        // JBang's own archive would be a dynamic one, which cannot hold picocli's old class files.
        assertTrue(loaded.contains("picocli.CommandLine source: shared objects file"),
                "picocli comes from the archive: " + loaded.lines().filter(l -> l.contains("picocli.CommandLine ")).toList());

        breakJBang(home);
        assertEquals(expected, run(tmp, sharedCacheEnv(home), version).assertOk().out(), "served without JBang");
        Files.delete(archive);
        assertEquals(expected, run(tmp, sharedCacheEnv(home), version).assertOk().out(),
                "an archive gone missing (its first run killed, say) needs no JBang");
        assertEquals(STATIC_ARCHIVE, archiveMagic(archive), "and is dumped again: a static archive");
        assertEquals(remembered, readEntry(onlyEntry(home)), "the remembered command is unchanged");
        restoreJBang(home);

        // Stock JBang, sharing the cache, writes a dynamic archive where none is: the launcher's
        // next first run replaces it with a static one.
        List<String> stock = new ArrayList<>(remembered);
        stock.set(stock.indexOf("-XX:SharedArchiveFile=" + archive), "-XX:ArchiveClassesAtExit=" + archive);
        stock.add("--version");
        Files.delete(archive);
        run(tmp, Map.of(), stock).assertOk();
        assertEquals(DYNAMIC_ARCHIVE, archiveMagic(archive), "stock JBang's archive is a dynamic one");
        Files.delete(onlyEntry(home));
        assertEquals(expected, run(tmp, sharedCacheEnv(home), version).assertOk().out(), "back through JBang");
        assertEquals(STATIC_ARCHIVE, archiveMagic(archive), "replaced by a static one");

        // A JDK that cannot dump an archive is not asked again on every run: the entry forgets it.
        Path javaThatCannotDump = tmp.resolve("java-that-cannot-dump");
        Files.writeString(javaThatCannotDump, "#!/bin/sh\ncase \"$*\" in *-Xshare:dump*) exit 1 ;; esac\nexec '"
                + remembered.get(0) + "' \"$@\"\n");
        Files.setPosixFilePermissions(javaThatCannotDump, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        List<String> withIt = new ArrayList<>(readEntry(onlyEntry(home)));
        withIt.set(0, javaThatCannotDump.toString());
        writeEntry(onlyEntry(home), withIt);
        Files.delete(archive);
        assertEquals(expected, run(tmp, sharedCacheEnv(home), version).assertOk().out());
        assertFalse(Files.exists(archive), "no archive could be dumped");
        List<String> forgotten = readEntry(onlyEntry(home));
        assertEquals(javaThatCannotDump.toString(), forgotten.get(0));
        assertFalse(forgotten.stream().anyMatch(a -> a.contains("SharedArchiveFile") || a.contains("DumpLoadedClassList")),
                "the archive forgotten, the class list not remembered: " + forgotten);
        try (var left = Files.list(archive.getParent())) {
            assertEquals(List.of(), left.filter(f -> f.getFileName().toString().matches(".*\\.(classlist|tmp)$")).toList(),
                    "no class list or half-written archive left behind");
        }
    }

    /**
     * A run that lists its classes for the archive runs the JVM as the launcher's child. A signal
     * to the launcher alone (a CI job's timeout, {@code kill $!}) must still stop the JVM, and
     * leave no class list or half-written archive behind.
     */
    @Test
    void aSignalToTheLauncherStopsTheJvmOfARunThatListsItsClasses() throws Exception {
        Path home = jbangHome(tmp.resolve("home-signal"));
        String umbrella = "nhs-auth@" + TestSupport.repoRoot();
        run(tmp, sharedCacheEnv(home), launcherCommand(TestSupport.repoRoot().resolve("jbang"), umbrella, "--version"))
                .assertOk();
        List<String> built = readEntry(onlyEntry(home));
        Path archive = Path.of(built.get(built.indexOf("-classpath") + 1).split(":")[0]).resolveSibling("NhsAuth.jsa");
        Files.deleteIfExists(archive);
        List<String> server = launcherCommand(TestSupport.repoRoot().resolve("jbang"), umbrella, "mock-server",
                "--port", "0", "--app", "signal-test");
        Process launcher = start(tmp, sharedCacheEnv(home), server);
        CompletableFuture<String> err = TestSupport.drain(launcher.getErrorStream());
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        assertTrue(first != null && first.startsWith("mock-server listening on"), "the server started: " + first);
        List<ProcessHandle> jvms = launcher.descendants().toList();
        assertFalse(jvms.isEmpty(), "the JVM runs as the launcher's child while it lists its classes");
        // SIGTERM to the launcher alone; Process.destroy() would also close the pipes the JVM shares.
        launcher.toHandle().destroy();
        boolean ended = launcher.waitFor(60, TimeUnit.SECONDS);
        if (!ended) {
            jvms.forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
        assertTrue(ended, "the launcher ended on SIGTERM");
        for (ProcessHandle jvm : jvms) {
            try {
                jvm.onExit().get(TestSupport.PROCESS_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                jvm.destroyForcibly();
                throw new AssertionError("the JVM outlived the launcher it was started by: " + jvm.info());
            }
        }
        assertEquals(143, launcher.exitValue(), () -> "SIGTERM's exit status; stderr: " + err.join());
        assertFalse(Files.exists(archive), "a run that was stopped dumps no archive");
        assertFalse(Files.exists(archive.resolveSibling("NhsAuth.jsa." + launcher.pid() + ".classlist")),
                "no class list left behind");
    }

    static final int STATIC_ARCHIVE = 0xf00baba2;
    static final int DYNAMIC_ARCHIVE = 0xf00baba8;

    /** The JDK's magic number at the start of a class-data archive, in the machine's byte order. */
    static int archiveMagic(Path archive) throws IOException {
        try (var in = Files.newInputStream(archive)) {
            return java.nio.ByteBuffer.wrap(in.readNBytes(4)).order(java.nio.ByteOrder.nativeOrder()).getInt();
        }
    }

    /**
     * A script's build includes the shared sources in scripts/nhsauth/: after a change there, the
     * remembered command line (the old build) must not be run. Proven without a second build:
     * with JBang's jar and Maven gone, a remembered entry is all that could still answer.
     */
    @Test
    void aChangedSharedSourceIsNotServedFromARememberedCommandLine() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(sharedJBangJar()),
                "the tests run through this launcher's own JBang, not one on PATH");
        Path repo = Files.createDirectories(tmp.resolve("repo"));
        Files.copy(TestSupport.repoRoot().resolve("jbang"), repo.resolve("jbang"), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        Files.copy(TestSupport.repoRoot().resolve("jbang-catalog.json"), repo.resolve("jbang-catalog.json"));
        try (var paths = Files.walk(TestSupport.repoRoot().resolve("scripts"))) {
            for (Path p : paths.toList()) {
                Path to = repo.resolve(TestSupport.repoRoot().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        Path launcherDir = Files.createDirectories(tmp.resolve("jbang-home/nhs-auth-launcher"));
        Path jar = launcherDir.resolve("jbang-cli-0.132.1-all.jar");
        Files.copy(sharedJBangJar(), jar);
        Path bin = bin(java.util.stream.Stream.concat(java.util.Arrays.stream(BASICS), java.util.stream.Stream.of("grep", "sort"))
                .distinct().toArray(String[]::new));
        Map<String, String> env = Map.of("PATH", bin.toString(), "JAVA_HOME", System.getProperty("java.home"),
                "JBANG_DIR", tmp.resolve("jbang-home").toString(), "JBANG_CACHE_DIR", sharedJBangDir().resolve("cache").toString(),
                "NHS_AUTH_BUNDLED_JBANG", "1");
        List<String> version = List.of(bin.resolve("bash").toString(), repo.resolve("jbang").toString(),
                "verify-keys@" + repo, "--version");
        TestSupport.process(tmp, env, null, version).assertOk();

        Files.move(jar, tmp.resolve("jar-taken-away"));
        TestSupport.process(tmp, env, null, version).assertOk();
        Files.writeString(repo.resolve("scripts/nhsauth/client/NhsJson.java"), "\n// changed\n", java.nio.file.StandardOpenOption.APPEND);
        TestSupport.process(tmp, env, null, version).assertOneLineError(2, "Maven is not on PATH");
    }

    // --- .gitattributes ------------------------------------------------------------------------

    /**
     * A checkout made with core.autocrlf=true (Windows' default) keeps the launcher, shell scripts
     * and templates LF, and the launcher runs: the committed HEAD is cloned that way.
     */
    @Test
    void aCheckoutWithAutocrlfRunsTheLauncher() throws Exception {
        Path root = TestSupport.repoRoot();
        TestSupport.Result inside;
        try {
            inside = run(root, Map.of(), List.of("git", "rev-parse", "--is-inside-work-tree", "HEAD"));
        } catch (IOException e) {
            inside = null;
        }
        Assumptions.assumeTrue(inside != null && inside.exit() == 0,
                "skipped: git is not installed or " + root + " is not a git checkout, so there is no HEAD to clone");
        String head = inside.out().lines().reduce((a, b) -> b).orElseThrow().trim();

        Path clone = tmp.resolve("crlf-clone");
        run(tmp, Map.of(), List.of("git", "clone", "-q", "--no-checkout", root.toString(), clone.toString())).assertOk();
        run(clone, Map.of(), List.of("git", "config", "core.autocrlf", "true")).assertOk();
        run(clone, Map.of(), List.of("git", "checkout", "-q", "--detach", head)).assertOk();
        assertTrue(Files.readString(clone.resolve("jbang-catalog.json")).contains("\r\n"),
                "autocrlf is in effect: other text files are CRLF");

        List<String> mustBeLf = new ArrayList<>();
        for (String file : run(clone, Map.of(), List.of("git", "ls-files")).assertOk().out().split("\n")) {
            if (file.equals("jbang") || file.endsWith(".sh") || file.equals(".ci/run")
                    || (file.startsWith("scripts/templates/") && file.endsWith(".qute"))) {
                mustBeLf.add(file);
            }
        }
        assertTrue(mustBeLf.contains("jbang") && mustBeLf.contains(".ci/run"), mustBeLf.toString());
        for (String file : mustBeLf) {
            assertFalse(Files.readString(clone.resolve(file)).contains("\r"), file + " has CR in an autocrlf checkout");
        }

        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = Map.of("JBANG_DIR", home.toString());
        assertEquals(VERSION, run(clone, env, launcherCommand(clone.resolve("jbang"), "version")).assertOk().out().trim());
    }

    // --- JBANG_RUNTIME_SHELL -------------------------------------------------------------------

    /**
     * Under Git Bash JBang would quote the command it hands back for cmd.exe; the launcher makes it
     * quote for bash, so arguments arrive as typed. JBANG_RUNTIME_SHELL=cmd stands in for Windows.
     */
    @Test
    void jbangQuotesTheCommandForBash() throws Exception {
        Path script = Files.writeString(tmp.resolve("Args.java"),
                "public class Args { public static void main(String... a) { System.out.println(String.join(\"|\", a)); } }\n");
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "JBANG_RUNTIME_SHELL", "cmd");
        String[] args = {"a b", "$HOME", "it's", "%PATH%", "x&y", "\"q\""};
        List<String> cmd = launcherCommand(TestSupport.repoRoot().resolve("jbang"), script.toString());
        cmd.addAll(List.of(args));
        assertEquals(String.join("|", args), run(tmp, env, cmd).assertOk().out().trim());
    }

    // --- parallel first runs -------------------------------------------------------------------

    /**
     * JBang 0.132.1 builds into one cache folder without a lock: without the launcher's lock, two
     * of three parallel first runs fail with "Error creating/updating jar". The JBANG_DIR here is
     * empty but for JBang's jar (fetching it is the test above) and has a space in its name, so
     * JBang's jar, class-data archive, build cache and the remembered class path are all under a
     * space. No lock is left behind.
     */
    @Test
    void parallelFirstRunsIntoAnEmptyJBangDirWithASpaceAllSucceed() throws Exception {
        Path home = jbangHome(tmp.resolve("empty jbang dir"));
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "HOME", tmp.toString());
        List<String> cmd = launcherCommand(TestSupport.repoRoot().resolve("jbang"), "get-token", "--help");
        List<Process> runs = new ArrayList<>();
        String expected = null;
        try {
            for (int i = 0; i < 3; i++) {
                runs.add(start(TestSupport.repoRoot(), env, cmd));
            }
            for (Process p : runs) {
                TestSupport.Result r = finish(p, cmd, TestSupport.PROCESS_TIMEOUT_SECONDS);
                r.assertOk();
                assertTrue(r.out().contains("Usage: get-token"), r.out());
                assertFalse(r.err().contains("ERROR"), r.err());
                expected = r.out();
            }
        } finally {
            runs.forEach(p -> {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            });
        }
        assertFalse(Files.exists(home.resolve("nhs-auth-launcher/build.lock")), "the lock is released");

        assertTrue(String.join(" ", readEntry(onlyEntry(home))).contains("empty jbang dir/cache/"), "built under the space");
        assertEquals(VERSION, run(tmp, env, launcherCommand(TestSupport.repoRoot().resolve("jbang"), "version"))
                .assertOk().out().trim(), "JBang's class-data archive under the space");
        breakJBang(home);
        assertEquals(expected, run(TestSupport.repoRoot(), env, cmd).assertOk().out(),
                "the remembered class path with a space works");
    }

    /**
     * A lock left by a run that died (its pid is gone, or it never wrote one and is old) is taken
     * over; a warm alias run takes no lock at all, so it runs while another run holds it.
     */
    @Test
    void aDeadRunsLockIsTakenOverAndWarmRunsTakeNoLock() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path lock = home.resolve("nhs-auth-launcher/build.lock");
        Map<String, String> env = sharedCacheEnv(home);
        Path launcher = TestSupport.repoRoot().resolve("jbang");
        List<String> help = launcherCommand(launcher, "verify-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();

        Process holder = new ProcessBuilder("sleep", "600").start();
        try {
            Files.createDirectory(lock);
            Files.writeString(lock.resolve("pid"), holder.pid() + "\n");
            assertEquals(expected, run(tmp, env, HANG_SECONDS, help).assertOk().out(), "a warm run ignores the lock");
        } finally {
            holder.destroyForcibly();
            holder.waitFor();
        }
        assertTrue(Files.exists(lock), "the lock of a live run is left alone");
        assertEquals(VERSION, run(tmp, env, HANG_SECONDS, launcherCommand(launcher, "version")).assertOk().out().trim(),
                "the lock of a dead run is taken over");
        assertFalse(Files.exists(lock));

        Files.createDirectory(lock);
        Files.setLastModifiedTime(lock, FileTime.fromMillis(System.currentTimeMillis() - 5 * 60_000));
        assertEquals(VERSION, run(tmp, env, HANG_SECONDS, launcherCommand(launcher, "version")).assertOk().out().trim(),
                "an old lock without a pid is taken over");
        assertFalse(Files.exists(lock));
    }

    // --- state that is not trustworthy ---------------------------------------------------------

    /**
     * The remembered command is an argument list, never read by a shell: a planted shell line makes
     * the entry invalid (JBang is asked again), and shell syntax inside an argument stays data.
     */
    @Test
    void aTamperedRememberedCommandIsNeverRunByAShell() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path pwned = tmp.resolve("PWNED");
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(TestSupport.repoRoot().resolve("jbang"),
                "verify-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = onlyEntry(home);
        List<String> good = readEntry(entry);

        List<String> withShellSyntax = new ArrayList<>(good);
        withShellSyntax.add(1, "-Dplanted=$(touch " + pwned + ");touch " + pwned + "`touch " + pwned + "`");
        writeEntry(entry, withShellSyntax);
        breakJBang(home);
        assertEquals(expected, run(tmp, env, help).assertOk().out(), "served from the entry, as data");
        assertFalse(Files.exists(pwned), "shell syntax in a remembered argument was run");
        restoreJBang(home);

        Files.writeString(entry, Files.readString(entry) + "\ntouch " + pwned + "\n");
        assertEquals(expected, run(tmp, env, help).assertOk().out());
        assertFalse(Files.exists(pwned), "a planted line was run");
        assertEquals(good, readEntry(entry), "the entry is written anew by JBang");
    }

    /**
     * A launcher folder that others may write to (or that is not private, or unreadable) is not
     * trusted: a command planted in it is not run, the folder is made private again and emptied of
     * what it remembered, and the user's command still runs.
     */
    @ParameterizedTest
    @ValueSource(strings = {"rwxrwx---", "rwxr-xr-x", "---------"})
    void aStateFolderOthersCouldChangeIsNotTrusted(String mode) throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path state = home.resolve("nhs-auth-launcher");
        Path pwned = tmp.resolve("PWNED");
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(TestSupport.repoRoot().resolve("jbang"),
                "verify-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = onlyEntry(home);
        writeEntry(entry, List.of("/bin/sh", "-c", "touch '" + pwned + "'; echo planted", "-classpath", "/"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString(mode));
        TestSupport.Result r;
        try {
            r = run(tmp, env, help).assertOk();
        } finally {
            state.toFile().setReadable(true, true);
            state.toFile().setWritable(true, true);
            state.toFile().setExecutable(true, true);
        }
        assertFalse(Files.exists(pwned), "a command planted in a folder open to others was run");
        assertEquals(expected, r.out(), "the command still runs");
        assertTrue(r.err().contains("made it private"), r.err());
        assertEquals("rwx------", TestSupport.posixMode(state));
        assertTrue(Files.exists(state.resolve(JAR)), "JBang's jar is kept (and checked again)");
        assertFalse(Files.readString(entry).contains("planted"), "what it remembered is dropped, then written anew");
        List<String> rewritten = readEntry(entry);
        assertTrue(rewritten.contains("-classpath") && rewritten.get(rewritten.size() - 1).equals("VerifyKeys"),
                rewritten.toString());
    }

    /** A launcher folder owned by someone else is not used at all; the command runs from a temporary one. */
    @Test
    void aStateFolderOfAnotherUserIsNotUsed() throws Exception {
        Assumptions.assumeTrue(isRoot(), "skipped: only root can give a folder to another user");
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path state = home.resolve("nhs-auth-launcher");
        Path pwned = tmp.resolve("PWNED");
        Path tmpdir = Files.createDirectories(tmp.resolve("tmpdir"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(TestSupport.repoRoot().resolve("jbang"),
                "verify-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = onlyEntry(home);
        writeEntry(entry, List.of("/bin/sh", "-c", "touch '" + pwned + "'; echo planted", "-classpath", "/"));
        byte[] planted = Files.readAllBytes(entry);
        run(tmp, Map.of(), List.of("chown", "-R", "65534", state.toString())).assertOk();

        env.put("TMPDIR", tmpdir.toString());
        TestSupport.Result r = run(tmp, env, help).assertOk();
        assertFalse(Files.exists(pwned), "a command planted in another user's folder was run");
        assertEquals(expected, r.out(), "the command still runs");
        assertTrue(r.err().contains("not a private folder of yours"), r.err());
        assertTrue(Arrays.equals(planted, Files.readAllBytes(entry)), "another user's folder is left alone");
        try (var files = Files.list(tmpdir)) {
            assertEquals(0, files.count(), "the temporary launcher folder is removed");
        }
    }

    // --- spaces in paths -----------------------------------------------------------------------

    /** With no JBANG_DIR, JBang and the launcher's state live under $HOME/.jbang, here with a space. */
    @Test
    void aHomeWithASpace() throws Exception {
        Path homeDir = Files.createDirectories(tmp.resolve("home dir"));
        jbangHome(homeDir.resolve(".jbang"));
        Map<String, String> env = new HashMap<>(Map.of("HOME", homeDir.toString(),
                "JBANG_CACHE_DIR", sharedJBangCache().toString()));
        Path launcher = TestSupport.repoRoot().resolve("jbang");
        for (int i = 0; i < 2; i++) {
            assertEquals(VERSION, run(tmp, env, launcherCommand(launcher, "version")).assertOk().out().trim());
        }
        String help = run(tmp, env, launcherCommand(launcher, "verify-keys@" + TestSupport.repoRoot(), "--help"))
                .assertOk().out();
        assertTrue(help.contains("Usage: verify-keys"), help);
        assertTrue(Files.isDirectory(homeDir.resolve(".jbang/nhs-auth-launcher/exec-cache")), "state under $HOME/.jbang");
    }

    /** The repository's files copied to {@code dir}, with its catalog as given. */
    static Path copyOfRepository(Path dir, String catalog) throws IOException {
        Path root = TestSupport.repoRoot();
        Files.createDirectories(dir);
        Files.copy(root.resolve("jbang"), dir.resolve("jbang"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.writeString(dir.resolve("jbang-catalog.json"), catalog);
        try (var files = Files.walk(root.resolve("scripts"))) {
            for (Path p : files.toList()) {
                Path target = dir.resolve(root.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return dir;
    }

    /**
     * A warm run from a copy of the repository in {@code clone}, inside it by plain alias name and
     * from elsewhere by path: the second run is served with JBang broken, so it proves the launcher
     * recognised the alias in the copy's catalog.
     */
    void warmAliasRunsFrom(Path clone, boolean alsoByPath) throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        Path launcher = clone.resolve("jbang");
        String expected = run(clone, env, launcherCommand(launcher, "verify-keys", "--help")).assertOk().out();
        assertTrue(expected.contains("Usage: verify-keys"), expected);
        if (alsoByPath) {
            run(tmp, env, launcherCommand(launcher, "verify-keys@" + clone, "--help")).assertOk();
        }
        breakJBang(home);
        assertEquals(expected, run(clone, env, launcherCommand(launcher, "verify-keys", "--help")).assertOk().out(),
                "plain alias served from the remembered command");
        if (alsoByPath) {
            assertEquals(expected, run(tmp, env, launcherCommand(launcher, "verify-keys@" + clone, "--help")).assertOk().out(),
                    "alias@path served from the remembered command");
        }
    }

    @Test
    void aCloneInAFolderWithASpace() throws Exception {
        String catalog = Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json"));
        warmAliasRunsFrom(copyOfRepository(tmp.resolve("my clone"), catalog), true);
    }

    /**
     * A folder laid out with links to this repository's catalog and scripts (as the README test
     * does) uses them, so its aliases are remembered; one with a linked catalog but scripts of its
     * own is not, as the remembered command's key covers only this repository's scripts.
     */
    @Test
    void aFolderLinkingToThisRepositoryIsRememberedOneWithOtherScriptsIsNot() throws Exception {
        Path root = TestSupport.repoRoot();
        Path linked = Files.createDirectories(tmp.resolve("linked"));
        for (String entry : List.of("jbang", "jbang-catalog.json", "scripts")) {
            Files.createSymbolicLink(linked.resolve(entry), root.resolve(entry));
        }
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(linked.resolve("jbang"), "verify-keys", "--help");
        String expected = run(linked, env, help).assertOk().out();
        breakJBang(home);
        assertEquals(expected, run(linked, env, help).assertOk().out(), "served from the remembered command");

        Path ownScripts = copyOfRepository(tmp.resolve("own-scripts"), "");
        Files.delete(ownScripts.resolve("jbang-catalog.json"));
        Files.createSymbolicLink(ownScripts.resolve("jbang-catalog.json"), root.resolve("jbang-catalog.json"));
        Files.delete(ownScripts.resolve("jbang"));
        Files.createSymbolicLink(ownScripts.resolve("jbang"), root.resolve("jbang"));
        run(ownScripts, env, launcherCommand(ownScripts.resolve("jbang"), "verify-keys", "--help"))
                .assertOneLineError(3, "refusing", "SHA-256");
    }

    /** Alias detection reads the catalog as JSON: a minified catalog works as well as the committed one. */
    @Test
    void aMinifiedCatalogStillHasItsAliasesRemembered() throws Exception {
        Map<String, Object> catalog = JSONObjectUtils.parse(Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json")));
        String minified = JSONObjectUtils.toJSONString(catalog);
        assertFalse(minified.contains("\n"), minified);
        warmAliasRunsFrom(copyOfRepository(tmp.resolve("minified"), minified), false);
    }

    // --- PATH loops ----------------------------------------------------------------------------

    /** PATH for the hand-over tests: the given folders, then the basic tools and java. */
    String pathWith(Path... first) throws Exception {
        Path bin = bin(BASICS);
        Files.createSymbolicLink(bin.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
        List<String> dirs = new ArrayList<>();
        for (Path p : first) {
            dirs.add(p.toString());
        }
        dirs.add(bin.toString());
        return String.join(":", dirs);
    }

    /**
     * The launcher reached through PATH entries that are symbolic links (to the repository, and to
     * the launcher itself from a bin folder) knows it is one launcher: no self-exec loop, and its
     * own folder, found by physical path, is the catalog whose aliases it remembers.
     */
    @Test
    void symbolicLinksToTheLauncherOnPathDoNotLoopAndFindItsCatalog() throws Exception {
        Path root = TestSupport.repoRoot();
        Path one = Files.createSymbolicLink(tmp.resolve("link one"), root);
        Path two = Files.createSymbolicLink(tmp.resolve("link-two"), root);
        Path userBin = Files.createDirectories(tmp.resolve("user bin"));
        Files.createSymbolicLink(userBin.resolve("jbang"), root.resolve("jbang"));
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = new HashMap<>();
        env.put("NHS_AUTH_BUNDLED_JBANG", null);
        env.put("PATH", pathWith(userBin, one, two));
        env.put("JBANG_DIR", home.toString());
        env.put("JBANG_CACHE_DIR", sharedJBangCache().toString());
        List<Path> launchers = List.of(one.resolve("jbang"), two.resolve("jbang"), userBin.resolve("jbang"));
        String expected = run(root, env, HANG_SECONDS, launcherCommand(one.resolve("jbang"), "verify-keys", "--help"))
                .assertOk().out();
        breakJBang(home);
        for (Path launcher : launchers) {
            assertEquals(expected, run(root, env, HANG_SECONDS, launcherCommand(launcher, "verify-keys", "--help"))
                    .assertOk().out(), "served from the command remembered for this repository, via " + launcher);
        }
    }

    /** Two copies of the launcher on PATH: each would hand over to the other; the guard stops that. */
    @Test
    void twoLauncherCopiesOnPathDoNotLoop() throws Exception {
        Path a = Files.createDirectories(tmp.resolve("copy-a"));
        Path b = Files.createDirectories(tmp.resolve("copy-b"));
        Files.copy(TestSupport.repoRoot().resolve("jbang"), a.resolve("jbang"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.copy(TestSupport.repoRoot().resolve("jbang"), b.resolve("jbang"), StandardCopyOption.COPY_ATTRIBUTES);
        Map<String, String> env = new HashMap<>();
        env.put("NHS_AUTH_BUNDLED_JBANG", null);
        env.put("PATH", pathWith(a, b));
        env.put("JBANG_DIR", jbangHome(tmp.resolve("jbang-home")).toString());
        TestSupport.Result r = run(tmp, env, HANG_SECONDS, launcherCommand(a.resolve("jbang"), "version")).assertOk();
        assertEquals(VERSION, r.out().trim());
    }

    // --- the script itself ---------------------------------------------------------------------

    @Test
    void theLauncherPassesShellcheck() throws Exception {
        Assumptions.assumeTrue(Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, "shellcheck"))),
                "skipped: shellcheck is not installed (Debian package shellcheck)");
        TestSupport.Result r = run(tmp, Map.of(), List.of("shellcheck", "-S", "warning",
                TestSupport.repoRoot().resolve("jbang").toString()));
        assertEquals(0, r.exit(), () -> r.out() + r.err());
    }

    static Path sharedJBangDir() {
        String dir = System.getenv("JBANG_DIR");
        return dir != null && !dir.isBlank() ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".jbang");
    }

    static Path sharedJBangCache() {
        String dir = System.getenv("JBANG_CACHE_DIR");
        return dir != null && !dir.isBlank() ? Path.of(dir) : sharedJBangDir().resolve("cache");
    }

    static Path sharedJBangJar() {
        return sharedJBangDir().resolve("nhs-auth-launcher/" + JAR);
    }
}
