import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ./jbang launcher on machines that lack things: no JBang, no Maven, no Java, a bad jar. */
class LauncherTest {

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

    static final String[] BASICS = {"bash", "sh", "sed", "cut", "mkdir", "mktemp", "mv", "rm", "tail", "sha256sum", "readlink", "ls", "cksum",
        "cat", "env", "dirname", "basename"};

    TestSupport.Result launcher(Path bin, Map<String, String> extraEnv, String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of(bin.resolve("bash").toString(),
                TestSupport.repoRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        Map<String, String> env = new java.util.HashMap<>(Map.of("PATH", bin.toString(), "JAVA_HOME", "",
                "JBANG_DIR", tmp.resolve("jbang-home").toString(), "HOME", tmp.toString()));
        env.putAll(extraEnv);
        return TestSupport.process(tmp, env, null, cmd);
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
        Path jar = Files.createDirectories(tmp.resolve("jbang-home/nhs-auth-launcher")).resolve("jbang-cli-0.132.1-all.jar");
        Files.writeString(jar, "not the real jar");
        launcher(bin, Map.of(), "version").assertOneLineError(3, "refusing", "SHA-256");
    }

    @Test
    void bootstrapsJBangWithMavenIntoAnEmptyJBangDir() throws Exception {
        Path home = tmp.resolve("fresh-home");
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "NHS_AUTH_BUNDLED_JBANG", "1");
        TestSupport.Result r = TestSupport.process(tmp, env, null,
                List.of(TestSupport.repoRoot().resolve("jbang").toString(), "version")).assertOk();
        assertEquals("0.132.1", r.out().trim());
        TestSupport.process(tmp, env, null, List.of(TestSupport.repoRoot().resolve("jbang").toString(),
                "generate-keys@" + TestSupport.repoRoot(), "--output-dir", "fresh", "--key-size", "2048")).assertOk();
        assertTrue(Files.exists(tmp.resolve("fresh/int-1.pem")));
        assertTrue(Files.exists(home.resolve("nhs-auth-launcher/jbang-cli-0.132.1-all.jar")));
        try (var files = Files.list(home.resolve("nhs-auth-launcher"))) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith(".download")), "temp folder left");
        }
    }

    /**
     * Warm runs of the repository's aliases skip JBang's JVM: proven by taking JBang's jar away
     * after the first run, which only a remembered command line survives.
     */
    @Test
    void aWarmAliasRunNeedsNoJBangAndAStaleEntryFallsBackToJBang() throws Exception {
        Path home = tmp.resolve("jbang-home");
        Path launcherDir = Files.createDirectories(home.resolve("nhs-auth-launcher"));
        Path jar = launcherDir.resolve("jbang-cli-0.132.1-all.jar");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(sharedJBangJar()),
                "the tests run through this launcher's own JBang, not one on PATH");
        Files.copy(sharedJBangJar(), jar);
        Map<String, String> env = Map.of("JBANG_DIR", home.toString(), "JBANG_CACHE_DIR", sharedJBangDir().resolve("cache").toString(),
                "NHS_AUTH_BUNDLED_JBANG", "1");
        String alias = "verify-keys@" + TestSupport.repoRoot();
        List<String> help = List.of(TestSupport.repoRoot().resolve("jbang").toString(), alias, "--help");
        String first = TestSupport.process(tmp, env, null, help).assertOk().out();
        Path entries = launcherDir.resolve("exec-cache");
        try (var files = Files.list(entries)) {
            assertEquals(1, files.count(), "one remembered command line");
        }

        Files.move(jar, tmp.resolve("jar-taken-away"));
        assertEquals(first, TestSupport.process(tmp, env, null, help).assertOk().out(), "served without JBang");

        Path entry;
        try (var files = Files.list(entries)) {
            entry = files.findFirst().orElseThrow();
        }
        Files.writeString(entry, Files.readString(entry).replaceFirst("-classpath /", "-classpath /gone/"));
        Files.move(tmp.resolve("jar-taken-away"), jar);
        assertEquals(first, TestSupport.process(tmp, env, null, help).assertOk().out(), "a stale entry goes back to JBang");
        assertFalse(Files.readString(entry).contains("/gone/"), "and is written anew");

        Map<String, String> off = new java.util.HashMap<>(env);
        off.put("NHS_AUTH_LAUNCHER_CACHE", "0");
        Files.delete(entry);
        TestSupport.process(tmp, off, null, help).assertOk();
        try (var files = Files.list(entries)) {
            assertEquals(0, files.count(), "NHS_AUTH_LAUNCHER_CACHE=0 remembers nothing");
        }
    }

    /**
     * A script's build includes the shared sources in scripts/lib/: after a change there, the
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
                .toArray(String[]::new));
        Map<String, String> env = Map.of("PATH", bin.toString(), "JAVA_HOME", System.getProperty("java.home"),
                "JBANG_DIR", tmp.resolve("jbang-home").toString(), "JBANG_CACHE_DIR", sharedJBangDir().resolve("cache").toString(),
                "NHS_AUTH_BUNDLED_JBANG", "1");
        List<String> version = List.of(bin.resolve("bash").toString(), repo.resolve("jbang").toString(),
                "verify-keys@" + repo, "--version");
        TestSupport.process(tmp, env, null, version).assertOk();

        Files.move(jar, tmp.resolve("jar-taken-away"));
        TestSupport.process(tmp, env, null, version).assertOk();
        Files.writeString(repo.resolve("scripts/lib/NhsJson.java"), "\n// changed\n", java.nio.file.StandardOpenOption.APPEND);
        TestSupport.process(tmp, env, null, version).assertOneLineError(2, "Maven is not on PATH");
    }

    static Path sharedJBangDir() {
        String dir = System.getenv("JBANG_DIR");
        return dir != null && !dir.isBlank() ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".jbang");
    }

    static Path sharedJBangJar() {
        return sharedJBangDir().resolve("nhs-auth-launcher/jbang-cli-0.132.1-all.jar");
    }
}
