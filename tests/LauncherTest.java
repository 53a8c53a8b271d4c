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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 * spaces in paths, CRLF checkouts, parallel first runs, tampered or foreign state and PATH loops.
 * It starts dozens of JVMs, some deliberately at once, so it runs alone: beside it, other classes'
 * process-heavy tests would be starved on a small machine.
 *
 * <p>Most runs use the generate-keys alias, which has no class-data archive, so JBang's answer
 * for it is remembered on its first run; {@link #anAliasIsRememberedOnlyOnceItsArchiveIsWritten}
 * covers the aliases that have one.
 */
@Isolated
class LauncherTest {

    /** A hung launcher is killed after this; a loop or a lock never taken over would otherwise never end. */
    static final long HANG_SECONDS = 90;

    static final String VERSION = "0.132.1";
    static final String JAR = "jbang-cli-" + VERSION + "-all.jar";

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

    /** What the launcher itself runs. */
    static final String[] BASICS = {"bash", "sh", "sed", "mkdir", "mktemp", "mv", "rm", "rmdir", "tail", "sha256sum",
        "readlink", "dirname", "ls", "cat", "env", "find", "sleep"};

    Path binWithJava() throws Exception {
        Path bin = bin(BASICS);
        Files.createSymbolicLink(bin.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
        return bin;
    }

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

    /** {@code ./jbang ARGS} of the repository. */
    static List<String> jbang(String... args) {
        return launcherCommand(TestSupport.repoRoot().resolve("jbang"), args);
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

    /**
     * Replaces JBang's jar with one the launcher refuses ("refusing ... SHA-256", exit 3), so a run
     * that still succeeds was served from a remembered command without JBang. (Deleting the jar
     * would not do: with Maven on PATH the launcher fetches it again.)
     */
    static void breakJBang(Path jbangDir) throws IOException {
        Files.writeString(jbangDir.resolve("nhs-auth-launcher/" + JAR), "not JBang");
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

    static Path entryOf(Path jbangDir, String alias) {
        return jbangDir.resolve("nhs-auth-launcher/" + alias + ".command");
    }

    /** A remembered command as stored: its key, its arguments and the key again, each ended by NUL. */
    static List<String> readEntry(Path entry) throws IOException {
        String text = Files.readString(entry);
        assertTrue(text.endsWith("\0"), "every element ends with NUL");
        List<String> all = Arrays.asList(text.substring(0, text.length() - 1).split("\0", -1));
        assertEquals(all.get(0), all.get(all.size() - 1), "opened and closed by its key");
        return all;
    }

    /** The command of a remembered entry, without its keys. */
    static List<String> commandOf(Path entry) throws IOException {
        List<String> all = readEntry(entry);
        return all.subList(1, all.size() - 1);
    }

    /** Writes an entry with the key of the one there and the given command. */
    static void rewriteCommand(Path entry, List<String> command) throws IOException {
        String key = readEntry(entry).get(0);
        StringBuilder text = new StringBuilder(key).append('\0');
        command.forEach(a -> text.append(a).append('\0'));
        Files.writeString(entry, text.append(key).append('\0'));
    }

    /** A script that, run in place of java, leaves a mark: what a planted command would do. */
    Path marker(Path mark) throws IOException {
        Path script = tmp.resolve("planted.sh");
        Files.writeString(script, "#!/bin/sh\ntouch '" + mark + "'\necho planted\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    /** A command that would pass every check of a remembered one, but runs {@link #marker}. */
    List<String> plantedCommand(Path entry, Path mark) throws IOException {
        List<String> good = commandOf(entry);
        int cp = good.indexOf("-classpath");
        return List.of(marker(mark).toString(), "-classpath", good.get(cp + 1), good.get(good.size() - 1));
    }

    static boolean isRoot() {
        try {
            Process p = new ProcessBuilder("id", "-u").start();
            return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim().equals("0");
        } catch (IOException e) {
            return false;
        }
    }

    /** Every file under a folder with its bytes, dotfiles included: for "nothing changed" checks. */
    static Map<String, String> contents(Path dir) throws Exception {
        Map<String, String> all = new TreeMap<>();
        try (var files = Files.walk(dir)) {
            for (Path p : files.toList()) {
                all.put(dir.relativize(p).toString(), Files.isDirectory(p) ? "<folder " + TestSupport.posixMode(p) + ">"
                        : TestSupport.posixMode(p) + " " + java.util.HexFormat.of().formatHex(
                                java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        }
        return all;
    }

    static List<String> errorLines(TestSupport.Result r) {
        return r.err().lines().filter(l -> !l.startsWith("[jbang]")).toList();
    }

    // --- bootstrap -----------------------------------------------------------------------------

    @Test
    void withoutJavaItSaysToInstallAJdk() throws Exception {
        launcher(bin(BASICS), Map.of(), "version").assertOneLineError(2, "no Java found", "JDK 17");
    }

    @Test
    void withoutJBangOrMavenItSaysToInstallMaven() throws Exception {
        launcher(binWithJava(), Map.of(), "version").assertOneLineError(2, "Maven is not on PATH", "install Maven");
    }

    @Test
    void refusesAJBangJarWithTheWrongChecksum() throws Exception {
        Path state = Files.createDirectories(tmp.resolve("jbang-home/nhs-auth-launcher"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        Files.writeString(state.resolve(JAR), "not the real jar");
        launcher(binWithJava(), Map.of(), "version").assertOneLineError(3, "refusing", "SHA-256");
    }

    @Test
    void aJBangDirThatCannotBeCreatedIsOneLine() throws Exception {
        Files.writeString(tmp.resolve("a-file"), "");
        Map<String, String> env = Map.of("JBANG_DIR", tmp.resolve("a-file/jbang").toString());
        run(tmp, env, jbang("version")).assertOneLineError(2, "cannot create", "JBANG_DIR");
    }

    /** A JBANG_DIR the launcher creates, with every folder above it that it creates, is the user's alone. */
    @Test
    void aFreshJBangDirIsPrivateWhateverTheUmask() throws Exception {
        Path bin = binWithJava();
        Path fresh = tmp.resolve("new/nested/jbang");
        List<String> cmd = List.of(bin.resolve("sh").toString(), "-c", "umask 0 && exec \"$0\" \"$@\"",
                bin.resolve("bash").toString(), TestSupport.repoRoot().resolve("jbang").toString(), "version");
        TestSupport.process(tmp, Map.of("PATH", bin.toString(), "JAVA_HOME", "", "JBANG_DIR", fresh.toString(),
                "HOME", tmp.toString()), null, cmd).assertOneLineError(2, "Maven is not on PATH");
        for (Path dir : List.of(tmp.resolve("new"), tmp.resolve("new/nested"), fresh, fresh.resolve("nhs-auth-launcher"))) {
            assertEquals("rwx------", TestSupport.posixMode(dir), dir.toString());
        }
    }

    @Test
    void bootstrapsJBangWithMavenIntoAnEmptyJBangDir() throws Exception {
        Path home = tmp.resolve("fresh-home");
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "NHS_AUTH_BUNDLED_JBANG", "1",
                "JBANG_CACHE_DIR", sharedJBangCache().toString());
        TestSupport.Result r = TestSupport.process(tmp, env, null, jbang("version")).assertOk();
        assertEquals(VERSION, r.out().trim());
        TestSupport.process(tmp, env, null, jbang("generate-keys@" + TestSupport.repoRoot(), "--output-dir", "fresh",
                "--key-size", "2048")).assertOk();
        assertTrue(Files.exists(tmp.resolve("fresh/int-1.pem")));
        assertTrue(Files.exists(home.resolve("nhs-auth-launcher/" + JAR)));
        try (var files = Files.list(home.resolve("nhs-auth-launcher"))) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".")), "temporary files left");
        }
    }

    /** HOME unset: the default JBANG_DIR comes from the user's home folder as bash knows it. */
    @Test
    void runsWithoutHome() throws Exception {
        Map<String, String> bare = new HashMap<>();
        bare.put("HOME", null);
        bare.put("JBANG_DIR", null);
        bare.put("JAVA_HOME", null);
        bare.put("PATH", bin(BASICS).toString());
        run(tmp, bare, jbang("version")).assertOneLineError(2, "no Java found");

        Map<String, String> env = sharedCacheEnv(jbangHome(tmp.resolve("jbang-home")));
        env.put("HOME", null);
        String help = run(tmp, env, jbang("generate-keys", "--help")).assertOk().out();
        assertTrue(help.contains("Usage: generate-keys"), help);
    }

    // --- aliases and remembered commands -------------------------------------------------------

    /**
     * The catalog's aliases work from any folder, by name or as NAME@<repository>, and the user's
     * relative paths resolve against their own folder. The second run of each is served from the
     * remembered command: it runs with JBang's jar broken.
     */
    @Test
    void aliasesWorkFromAnyFolderWithPathsRelativeToIt() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        Path work = Files.createDirectories(tmp.resolve("elsewhere"));
        List<String> kids = List.of("a", "b", "c", "d");
        List<String> aliases = List.of("generate-keys", "generate-keys@" + TestSupport.repoRoot());
        for (int i = 0; i < aliases.size(); i++) {
            Files.deleteIfExists(entryOf(home, "generate-keys"));
            run(work, env, jbang(aliases.get(i), "--output-dir", "my keys", "--kid", kids.get(2 * i), "--key-size", "2048"))
                    .assertOk();
            breakJBang(home);
            run(work, env, jbang(aliases.get(i), "--output-dir", "my keys", "--kid", kids.get(2 * i + 1), "--key-size", "2048"))
                    .assertOk();
            restoreJBang(home);
        }
        for (String kid : kids) {
            assertTrue(Files.exists(work.resolve("my keys/" + kid + ".pem")), "written where the user is: " + kid);
        }
        assertFalse(Files.exists(TestSupport.repoRoot().resolve("my keys")), "nothing written in the repository");
    }

    /**
     * Warm runs skip JBang's JVM: proven by breaking JBang's jar after the first run, which only a
     * remembered command survives. An entry whose class path is gone goes back to JBang.
     */
    @Test
    void aWarmAliasRunNeedsNoJBangAndAStaleEntryFallsBackToJBang() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = jbang("generate-keys@" + TestSupport.repoRoot(), "--help");
        String first = run(tmp, env, help).assertOk().out();
        assertTrue(first.contains("Usage: generate-keys"), first);
        Path entry = entryOf(home, "generate-keys");
        List<String> good = commandOf(entry);

        breakJBang(home);
        assertEquals(first, run(tmp, env, help).assertOk().out(), "served without JBang");

        List<String> stale = new ArrayList<>(good);
        int cp = stale.indexOf("-classpath") + 1;
        assertTrue(cp > 0, "a class path: " + stale);
        stale.set(cp, "/gone" + stale.get(cp));
        rewriteCommand(entry, stale);
        run(tmp, env, help).assertOneLineError(3, "refusing", "SHA-256");
        restoreJBang(home);
        assertEquals(first, run(tmp, env, help).assertOk().out(), "a stale entry goes back to JBang");
        assertEquals(good, commandOf(entry), "and is written anew");

        Map<String, String> off = new HashMap<>(env);
        off.put("NHS_AUTH_LAUNCHER_CACHE", "0");
        Files.delete(entry);
        run(tmp, off, help).assertOk();
        assertFalse(Files.exists(entry), "NHS_AUTH_LAUNCHER_CACHE=0 remembers nothing");
    }

    /**
     * An entry cut short anywhere (at each argument's end or inside it), or without its main class,
     * is not run: the demo alias has an argument after its class, so an entry cut before it would
     * still start a JVM, the wrong command. With JBang's jar broken, a run that goes back to JBang
     * is refused; one that ran the entry would not be.
     */
    @Test
    void aRememberedEntryCutShortOrWithoutItsMainClassIsRebuiltNeverRun() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = jbang("demo@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = entryOf(home, "demo");
        byte[] whole = Files.readAllBytes(entry);
        List<String> command = commandOf(entry);
        assertEquals("demo", command.get(command.size() - 1), "the alias's argument comes last: " + command);

        breakJBang(home);
        List<Integer> cuts = new ArrayList<>();
        for (int i = 0; i < whole.length - 1; i++) {
            if (whole[i] == 0) {
                cuts.add(i);
                cuts.add(i + 1);
            }
        }
        for (int cut : cuts) {
            Files.write(entry, Arrays.copyOf(whole, cut));
            run(tmp, env, help).assertOneLineError(3, "refusing", "SHA-256");
        }
        List<String> noMain = new ArrayList<>(command);
        noMain.remove(noMain.size() - 2);
        Files.write(entry, whole);
        rewriteCommand(entry, noMain);
        run(tmp, env, help).assertOneLineError(3, "refusing", "SHA-256");

        restoreJBang(home);
        assertEquals(expected, run(tmp, env, help).assertOk().out());
        assertTrue(Arrays.equals(whole, Files.readAllBytes(entry)), "the entry is rebuilt whole");
    }

    /**
     * A file in the working folder named like an alias is neither run nor remembered: the alias is
     * resolved in the repository's folder. Even a file so named in the repository's own folder,
     * which JBang would then run, is not remembered under the alias: the command must name the
     * catalog's script.
     */
    @Test
    void aFilePlantedUnderAnAliasNameIsNotRemembered() throws Exception {
        String planted = "class Planted { public static void main(String... a) { System.out.println(\"planted\"); } }\n";
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        Path work = Files.createDirectories(tmp.resolve("work"));
        Files.writeString(work.resolve("generate-keys"), planted);
        String help = run(work, env, jbang("generate-keys", "--help")).assertOk().out();
        assertTrue(help.contains("Usage: generate-keys") && !help.contains("planted"), help);
        List<String> remembered = commandOf(entryOf(home, "generate-keys"));
        assertEquals("GenerateKeys", remembered.get(remembered.size() - 1), remembered.toString());

        Path clone = copyOfRepository(tmp.resolve("clone"), Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json")));
        Files.writeString(clone.resolve("generate-keys"), planted);
        Path cloneHome = jbangHome(tmp.resolve("clone-home"));
        run(clone, sharedCacheEnv(cloneHome), launcherCommand(clone.resolve("jbang"), "generate-keys", "--help"));
        assertFalse(Files.exists(entryOf(cloneHome, "generate-keys")), "the planted file's command was remembered");
    }

    /**
     * Aliases with {@code "cds": true}: JBang answers a run whose archive is missing with
     * {@code -XX:ArchiveClassesAtExit}, which is run but not remembered (each warm run would write
     * the archive again); the next answer maps it and is remembered. A remembered archive gone
     * missing goes back to JBang.
     */
    @Test
    void anAliasIsRememberedOnlyOnceItsArchiveIsWritten() throws Exception {
        WarmVerifyKeys warm = warmVerifyKeysWithoutItsArchive();
        Path home = warm.home();
        Map<String, String> env = warm.env();
        List<String> version = warm.version();
        String expected = warm.expected();
        Path archive = warm.archive();
        Files.delete(entryOf(home, "verify-keys"));

        assertEquals(expected, run(tmp, env, version).assertOk().out());
        assertTrue(Files.isRegularFile(archive), "JBang's run wrote the archive");
        assertFalse(Files.exists(entryOf(home, "verify-keys")), "a command that writes the archive is not remembered");
        assertEquals(expected, run(tmp, env, version).assertOk().out());
        assertTrue(commandOf(entryOf(home, "verify-keys")).contains("-XX:SharedArchiveFile=" + archive));

        breakJBang(home);
        assertEquals(expected, run(tmp, env, version).assertOk().out(), "served without JBang");
        Files.delete(archive);
        run(tmp, env, version).assertOneLineError(3, "refusing", "SHA-256");
        restoreJBang(home);
        assertEquals(expected, run(tmp, env, version).assertOk().out());
    }

    record WarmVerifyKeys(Path home, Map<String, String> env, List<String> version, String expected, Path archive) {
    }

    /** verify-keys --version run until remembered with its class-data archive, which is then deleted. */
    WarmVerifyKeys warmVerifyKeysWithoutItsArchive() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> version = jbang("verify-keys@" + TestSupport.repoRoot(), "--version");
        run(tmp, env, version).assertOk();
        String expected = run(tmp, env, version).assertOk().out();
        Path archive = archiveOf(home);
        Files.delete(archive);
        return new WarmVerifyKeys(home, env, version, expected, archive);
    }

    /** The class-data archive of verify-keys, beside its jar in JBang's cache (a run remembered mapping it). */
    static Path archiveOf(Path home) throws IOException {
        List<String> command = commandOf(entryOf(home, "verify-keys"));
        return Path.of(command.get(command.indexOf("-classpath") + 1).split(":")[0]).resolveSibling("VerifyKeys.jsa");
    }

    /**
     * A run whose class-data archive cannot be written (a full disk, here a file size limit) prints
     * nothing but the command's output on stdout: the JVM's complaint goes to stderr.
     */
    @Test
    void anArchiveThatCannotBeWrittenLeavesStdoutToTheCommand() throws Exception {
        WarmVerifyKeys warm = warmVerifyKeysWithoutItsArchive();
        Map<String, String> env = warm.env();
        List<String> version = warm.version();
        String expected = warm.expected();
        List<String> limited = new ArrayList<>(List.of("bash", "-c", "ulimit -f 100 && exec \"$0\" \"$@\""));
        limited.addAll(version);
        TestSupport.Result r = run(tmp, env, limited);
        assertEquals(expected, r.out(), () -> "stdout holds the command's output alone; stderr:\n" + r.err());
        run(tmp, env, version).assertOk();
    }

    /**
     * A warm run is the script's JVM itself (the launcher execs it), so there is no parent process
     * whose death could leave the JVM orphaned, and a signal reaches the JVM directly.
     */
    @Test
    void aWarmRunIsTheJvmItselfSoNoJvmOutlivesTheLauncher() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        String alias = "mock-server@" + TestSupport.repoRoot();
        run(tmp, env, jbang(alias, "--help")).assertOk();
        assertTrue(Files.exists(entryOf(home, "mock-server")), "remembered");
        List<String> server = jbang(alias, "--port", "0", "--app", "signal-test");
        Process launcher = start(tmp, env, server);
        CompletableFuture<String> err = TestSupport.drain(launcher.getErrorStream());
        try {
            var out = new java.io.BufferedReader(new java.io.InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine();
            assertTrue(first != null && first.startsWith("mock-server listening on"), "the server started: " + first);
            assertEquals(List.of(), launcher.descendants().toList(), "no process under the launcher's pid");
            assertTrue(launcher.info().command().orElse("").endsWith("java"), "the launcher's pid is the JVM: "
                    + launcher.info());
            launcher.toHandle().destroy();
            assertTrue(launcher.waitFor(HANG_SECONDS, TimeUnit.SECONDS), "SIGTERM stops it");
        } finally {
            launcher.descendants().forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
        assertEquals(143, launcher.exitValue(), () -> "SIGTERM's exit status; stderr: " + err.join());
    }

    /**
     * A signal while JBang's JVM runs (a long first build) stops that JVM too, and the build lock is
     * released only then. A stand-in for java that sleeps plays JBang's JVM.
     */
    @Test
    void aSignalDuringJBangsRunStopsItsJvmAndReleasesTheLock() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path jdk = Files.createDirectories(tmp.resolve("slow jdk/bin")).getParent();
        Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"17.0.1\"\n");
        Path pid = tmp.resolve("jbang-jvm.pid");
        Path java = Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\necho $$ > '" + pid + "'\nexec sleep 600\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
        Map<String, String> env = sharedCacheEnv(home);
        env.put("JAVA_HOME", jdk.toString());
        Process launcher = start(tmp, env, jbang("version"));
        ProcessHandle jvm = null;
        try {
            for (int i = 0; i < HANG_SECONDS * 10 && (jvm == null || !jvm.isAlive()); i++) {
                Thread.sleep(100);
                String text = Files.exists(pid) ? Files.readString(pid).trim() : "";
                jvm = text.isEmpty() ? null : ProcessHandle.of(Long.parseLong(text)).orElse(null);
            }
            assertTrue(jvm != null && jvm.isAlive(), "JBang's stand-in JVM started");
            assertTrue(Files.isDirectory(home.resolve("nhs-auth-launcher.lock")), "under the build lock");
            launcher.toHandle().destroy();
            assertTrue(launcher.waitFor(HANG_SECONDS, TimeUnit.SECONDS), "SIGTERM stops the launcher");
            assertEquals(143, launcher.exitValue());
            jvm.onExit().get(HANG_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("JBang's JVM outlived the launcher that started it");
        } finally {
            if (jvm != null) {
                jvm.destroyForcibly();
            }
            launcher.destroyForcibly();
        }
        assertFalse(Files.exists(home.resolve("nhs-auth-launcher.lock")), "the lock is released");
    }

    // --- state that is not trustworthy ---------------------------------------------------------

    /**
     * The remembered command is an argument list, never read by a shell: shell syntax inside an
     * argument stays data, and a line planted after the entry makes it invalid (JBang is asked again).
     */
    @Test
    void aTamperedRememberedCommandIsNeverRunByAShell() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path pwned = tmp.resolve("PWNED");
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = jbang("generate-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = entryOf(home, "generate-keys");
        List<String> good = commandOf(entry);

        List<String> withShellSyntax = new ArrayList<>(good);
        withShellSyntax.add(1, "-Dplanted=$(touch " + pwned + ");touch " + pwned + "`touch " + pwned + "`");
        rewriteCommand(entry, withShellSyntax);
        breakJBang(home);
        assertEquals(expected, run(tmp, env, help).assertOk().out(), "served from the entry, as data");
        assertFalse(Files.exists(pwned), "shell syntax in a remembered argument was run");
        restoreJBang(home);

        Files.writeString(entry, Files.readString(entry) + "\ntouch " + pwned + "\n");
        assertEquals(expected, run(tmp, env, help).assertOk().out());
        assertFalse(Files.exists(pwned), "a planted line was run");
        assertEquals(good, commandOf(entry), "the entry is written anew by JBang");
    }

    /**
     * A state folder that is a symbolic link is foreign, whatever it links to: nothing in it is
     * read, changed or deleted (dotfiles included), its mode stays, and the command still runs,
     * from a temporary folder that is removed afterwards.
     */
    @Test
    void aLinkedStateFolderIsForeignAndNothingInItChanges() throws Exception {
        Path target = Files.createDirectories(tmp.resolve("someone's folder"));
        Files.writeString(target.resolve(".profile"), "keep me\n");
        Files.writeString(target.resolve("notes.txt"), "keep me too\n");
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-x---"));
        Path home = Files.createDirectories(tmp.resolve("jbang-home"));
        Files.createSymbolicLink(home.resolve("nhs-auth-launcher"), target);
        Map<String, String> before = contents(target);
        Path tmpdir = Files.createDirectories(tmp.resolve("tmpdir"));
        Map<String, String> env = sharedCacheEnv(home);
        env.put("TMPDIR", tmpdir.toString());
        for (int i = 0; i < 2; i++) {
            TestSupport.Result r = run(tmp, env, jbang("generate-keys", "--help")).assertOk();
            assertTrue(r.out().contains("Usage: generate-keys"), r.out());
            assertTrue(r.err().contains("not using '" + home.resolve("nhs-auth-launcher") + "'"), r.err());
        }
        assertEquals(before, contents(target), "nothing in the linked folder changed");
        assertEquals("rwxr-x---", TestSupport.posixMode(target));
        assertTrue(Files.isSymbolicLink(home.resolve("nhs-auth-launcher")));
        try (var files = Files.list(tmpdir)) {
            assertEquals(List.of(), files.toList(), "the temporary launcher folder is removed");
        }
    }

    /**
     * A state folder that others can change is foreign: a command planted in it (one that passes
     * every check of a remembered one) is not run, the folder is left as it is, and the user's
     * command still runs.
     */
    @ParameterizedTest
    @ValueSource(strings = {"rwxrwx---", "rwx---rwx"})
    void aStateFolderOthersCanChangeIsNotUsed(String mode) throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path state = home.resolve("nhs-auth-launcher");
        Path pwned = tmp.resolve("PWNED");
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = jbang("generate-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = entryOf(home, "generate-keys");
        rewriteCommand(entry, plantedCommand(entry, pwned));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString(mode));
        Map<String, String> before = contents(state);

        TestSupport.Result r = run(tmp, env, help).assertOk();
        assertFalse(Files.exists(pwned), "a command planted in a folder open to others was run");
        assertEquals(expected, r.out(), "the command still runs");
        assertTrue(r.err().contains("not using"), r.err());
        assertEquals(before, contents(state), "the folder is left as it is");

        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
        assertEquals("planted\n", run(tmp, env, help).assertOk().out(), "the planted entry would have run");
    }

    /**
     * Where others can change JBANG_DIR or JBang's cache (and so what a remembered command runs),
     * the launcher says so in one line and uses no remembered command, nor writes one.
     */
    @ParameterizedTest
    @ValueSource(strings = {"JBANG_DIR", "cache"})
    void aJBangDirOrCacheOthersCanChangeIsWarnedAndNothingRememberedIsUsed(String which) throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        // A cache folder of this test's own, whose contents are the test run's cache.
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        try (var shared = Files.list(sharedJBangCache())) {
            for (Path p : shared.toList()) {
                Files.createSymbolicLink(cache.resolve(p.getFileName().toString()), p);
            }
        }
        Map<String, String> env = sharedCacheEnv(home);
        env.put("JBANG_CACHE_DIR", cache.toString());
        List<String> help = jbang("generate-keys", "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = entryOf(home, "generate-keys");
        assertTrue(Files.exists(entry), "remembered while it is trusted");

        Files.setPosixFilePermissions(which.equals("JBANG_DIR") ? home : cache, PosixFilePermissions.fromString("rwxrwxr-x"));
        breakJBang(home);
        TestSupport.Result r = run(tmp, env, help);
        assertEquals(3, r.exit(), () -> "not served from the remembered command: " + r);
        List<String> lines = errorLines(r);
        assertEquals(2, lines.size(), () -> "the warning and JBang's refusal: " + r.err());
        assertTrue(lines.get(0).contains("can be changed by others"), lines.get(0));
        assertTrue(lines.get(1).contains("refusing"), lines.get(1));

        if (which.equals("JBANG_DIR")) {
            restoreJBang(home);
            Files.delete(entry);
            assertEquals(expected, run(tmp, env, help).assertOk().out());
            assertFalse(Files.exists(entry), "nothing is remembered there");
        }
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
        List<String> help = jbang("generate-keys@" + TestSupport.repoRoot(), "--help");
        String expected = run(tmp, env, help).assertOk().out();
        Path entry = entryOf(home, "generate-keys");
        rewriteCommand(entry, plantedCommand(entry, pwned));
        byte[] planted = Files.readAllBytes(entry);
        run(tmp, Map.of(), List.of("chown", "-R", "65534", state.toString())).assertOk();

        env.put("TMPDIR", tmpdir.toString());
        TestSupport.Result r = run(tmp, env, help).assertOk();
        assertFalse(Files.exists(pwned), "a command planted in another user's folder was run");
        assertEquals(expected, r.out(), "the command still runs");
        assertTrue(r.err().contains("not using"), r.err());
        assertTrue(Arrays.equals(planted, Files.readAllBytes(entry)), "another user's folder is left alone");
        try (var files = Files.list(tmpdir)) {
            assertEquals(0, files.count(), "the temporary launcher folder is removed");
        }
    }

    /**
     * A script's build includes every file under scripts/: after a change to a shared one, the
     * remembered command (the old build) must not be run. Proven without a second build: with
     * JBang's jar and Maven gone, a remembered entry is all that could still answer.
     */
    @Test
    void aChangedSharedSourceIsNotServedFromARememberedCommand() throws Exception {
        Path repo = copyOfRepository(tmp.resolve("repo"), Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json")));
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path bin = bin(BASICS);
        Map<String, String> env = Map.of("PATH", bin.toString(), "JAVA_HOME", System.getProperty("java.home"),
                "JBANG_DIR", home.toString(), "JBANG_CACHE_DIR", sharedJBangCache().toString(),
                "NHS_AUTH_BUNDLED_JBANG", "1");
        List<String> help = List.of(bin.resolve("bash").toString(), repo.resolve("jbang").toString(),
                "generate-keys@" + repo, "--help");
        TestSupport.process(tmp, env, null, help).assertOk();

        Files.move(home.resolve("nhs-auth-launcher/" + JAR), tmp.resolve("jar-taken-away"));
        TestSupport.process(tmp, env, null, help).assertOk();
        Path shared;
        try (var files = Files.walk(repo.resolve("scripts"), 3)) {
            shared = files.filter(p -> p.toString().endsWith(".java") && !p.getParent().equals(repo.resolve("scripts")))
                    .findFirst().orElseThrow();
        }
        Files.writeString(shared, "\n// changed\n", java.nio.file.StandardOpenOption.APPEND);
        TestSupport.process(tmp, env, null, help).assertOneLineError(2, "Maven is not on PATH");
    }

    // --- spaces in paths, copies and links of the repository ------------------------------------

    /** With no JBANG_DIR, JBang and the launcher's state live under $HOME/.jbang, here with a space. */
    @Test
    void aHomeWithASpace() throws Exception {
        Path homeDir = Files.createDirectories(tmp.resolve("home dir"));
        jbangHome(homeDir.resolve(".jbang"));
        Map<String, String> env = new HashMap<>(Map.of("HOME", homeDir.toString(),
                "JBANG_CACHE_DIR", sharedJBangCache().toString()));
        for (int i = 0; i < 2; i++) {
            assertEquals(VERSION, run(tmp, env, jbang("version")).assertOk().out().trim());
        }
        String help = run(tmp, env, jbang("generate-keys", "--help")).assertOk().out();
        assertTrue(help.contains("Usage: generate-keys"), help);
        assertTrue(Files.exists(entryOf(homeDir.resolve(".jbang"), "generate-keys")), "state under $HOME/.jbang");
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
     * A warm run from a copy of the repository, inside it by plain alias name and from elsewhere
     * by path: served with JBang broken, it proves the launcher recognised the alias in the copy's
     * catalog.
     */
    void warmAliasRunsFrom(Path clone) throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        Path launcher = clone.resolve("jbang");
        String expected = run(clone, env, launcherCommand(launcher, "generate-keys", "--help")).assertOk().out();
        assertTrue(expected.contains("Usage: generate-keys"), expected);
        breakJBang(home);
        assertEquals(expected, run(clone, env, launcherCommand(launcher, "generate-keys", "--help")).assertOk().out(),
                "plain alias served from the remembered command");
        assertEquals(expected, run(tmp, env, launcherCommand(launcher, "generate-keys@" + clone, "--help")).assertOk().out(),
                "alias@path served from the remembered command");
    }

    @Test
    void aCloneInAFolderWithASpace() throws Exception {
        String catalog = Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json"));
        warmAliasRunsFrom(copyOfRepository(tmp.resolve("my clone"), catalog));
    }

    /** Aliases are found however the catalog is formatted: a minified catalog works as well as the committed one. */
    @Test
    void aMinifiedCatalogStillHasItsAliasesRemembered() throws Exception {
        Map<String, Object> catalog = JSONObjectUtils.parse(Files.readString(TestSupport.repoRoot().resolve("jbang-catalog.json")));
        String minified = JSONObjectUtils.toJSONString(catalog);
        assertFalse(minified.contains("\n"), minified);
        warmAliasRunsFrom(copyOfRepository(tmp.resolve("minified"), minified));
    }

    /** A folder laid out with links to this repository (as the README test does) uses its aliases, remembered. */
    @Test
    void aFolderLinkingToThisRepositoryHasItsAliasesRemembered() throws Exception {
        Path root = TestSupport.repoRoot();
        Path linked = Files.createDirectories(tmp.resolve("linked"));
        for (String entry : List.of("jbang", "jbang-catalog.json", "scripts")) {
            Files.createSymbolicLink(linked.resolve(entry), root.resolve(entry));
        }
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = launcherCommand(linked.resolve("jbang"), "generate-keys", "--help");
        String expected = run(linked, env, help).assertOk().out();
        breakJBang(home);
        assertEquals(expected, run(linked, env, help).assertOk().out(), "served from the remembered command");
    }

    // --- PATH loops ----------------------------------------------------------------------------

    /** PATH for the hand-over tests: the given folders, then the basic tools and java. */
    String pathWith(Path... first) throws Exception {
        Path bin = binWithJava();
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
        String expected = run(tmp, env, HANG_SECONDS, launcherCommand(one.resolve("jbang"), "generate-keys", "--help"))
                .assertOk().out();
        breakJBang(home);
        for (Path launcher : launchers) {
            assertEquals(expected, run(tmp, env, HANG_SECONDS, launcherCommand(launcher, "generate-keys", "--help"))
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
        List<String> cmd = jbang(script.toString());
        cmd.addAll(List.of(args));
        assertEquals(String.join("|", args), run(tmp, env, cmd).assertOk().out().trim());
    }

    // --- the build lock ------------------------------------------------------------------------

    /**
     * JBang 0.132.1 builds into one cache folder without a lock: without the launcher's lock, two
     * of three parallel first runs fail with "Error creating/updating jar". The JBANG_DIR here is
     * empty but for JBang's jar (fetching it is the test above) and has a space in its name, so
     * JBang's jar, build cache and the remembered class path are all under a space. No lock is
     * left behind.
     */
    @Test
    void parallelFirstRunsIntoAnEmptyJBangDirWithASpaceAllSucceed() throws Exception {
        Path home = jbangHome(tmp.resolve("empty jbang dir"));
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "HOME", tmp.toString());
        List<String> cmd = jbang("get-token", "--help");
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
        assertFalse(Files.exists(home.resolve("nhs-auth-launcher.lock")), "the lock is released");

        // The first runs wrote get-token's class-data archive; this one is remembered mapping it.
        assertEquals(expected, run(TestSupport.repoRoot(), env, cmd).assertOk().out());
        assertTrue(String.join(" ", commandOf(entryOf(home, "get-token"))).contains("empty jbang dir/cache/"),
                "built under the space");
        breakJBang(home);
        assertEquals(expected, run(TestSupport.repoRoot(), env, cmd).assertOk().out(),
                "the remembered class path with a space works");
    }

    /**
     * A lock left by a run that died (its pid is gone) is taken over; a warm alias run takes no
     * lock at all, so it runs while another run holds it.
     */
    @Test
    void aDeadRunsLockIsTakenOverAndWarmRunsTakeNoLock() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path lock = home.resolve("nhs-auth-launcher.lock");
        Map<String, String> env = sharedCacheEnv(home);
        List<String> help = jbang("generate-keys@" + TestSupport.repoRoot(), "--help");
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
        assertEquals(VERSION, run(tmp, env, HANG_SECONDS, jbang("version")).assertOk().out().trim(),
                "the lock of a dead run is taken over");
        assertFalse(Files.exists(lock));
    }

    /**
     * A lock whose pid now belongs to another, live process (the run that took it died and the pid
     * was reused) is taken over once it is older than any build, instead of waiting for that process.
     */
    @Test
    void aLockHeldByAReusedPidIsTakenOverOnceOld() throws Exception {
        Path home = jbangHome(tmp.resolve("jbang-home"));
        Path lock = home.resolve("nhs-auth-launcher.lock");
        Map<String, String> env = sharedCacheEnv(home);
        Process reused = new ProcessBuilder("sleep", "600").start();
        try {
            Files.createDirectories(lock);
            Files.writeString(lock.resolve("pid"), reused.pid() + "\n");
            Files.setLastModifiedTime(lock, FileTime.from(Instant.now().minus(Duration.ofMinutes(10))));
            assertEquals(VERSION, run(tmp, env, HANG_SECONDS, jbang("version")).assertOk().out().trim(),
                    "an old lock is taken over although its pid is alive");
            assertFalse(Files.exists(lock), "and released after the run");
        } finally {
            reused.destroyForcibly();
            reused.waitFor();
        }
    }

    // --- the script itself ---------------------------------------------------------------------

    @Test
    void theLauncherPassesShellcheckAndStaysSmall() throws Exception {
        Path launcher = TestSupport.repoRoot().resolve("jbang");
        long lines = Files.readAllLines(launcher).size();
        assertTrue(lines <= 250, "the launcher does bootstrap only, in at most 250 lines: " + lines);
        Assumptions.assumeTrue(Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, "shellcheck"))),
                "skipped: shellcheck is not installed (Debian package shellcheck)");
        // The other bash the project ships or runs: the installed fast path and CI.
        TestSupport.Result r = run(tmp, Map.of(), List.of("shellcheck", launcher.toString(),
                TestSupport.repoRoot().resolve("scripts/install.sh").toString(), TestSupport.repoRoot().resolve(".ci/run").toString()));
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
