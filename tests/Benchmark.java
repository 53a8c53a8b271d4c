///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../scripts/NhsAuth.java
//DESCRIPTION nhs-auth against the Python tool, side by side: start-up on every path, memory, key generation, mock-server load

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.security.interfaces.RSAPrivateCrtKey;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import picocli.CommandLine;

/**
 * One command, {@code ./jbang tests/Benchmark.java [--runs N] [--load-requests N] [--load-only | --levers | --phases]},
 * prints a table of medians and the ratios of the speed issue's targets. Commands are run alternately
 * (A, B, A, B, ...) so that drift of a shared machine hits every side alike; the load average at
 * the start and the end is printed with the table. Everything talks to a mock server on loopback;
 * the run is bounded and stops by itself. Not part of the tests.
 *
 * <p>Paths measured: the repository's launcher ({@code ./jbang}, warm), stock JBang (its jar run
 * as JBang's own {@code jbang} script runs it: JBang's JVM, then on exit code 255 the command line
 * it printed, so two JVMs), and the one-JVM fast path of {@code scripts/install.sh}.
 * {@code --levers} compares JVM options on those paths instead; {@code --phases} times the steps
 * of one get-token inside a fresh JVM.
 */
public class Benchmark {

    static final String API_KEY = "bench-api-key";
    static final String KID = "bench-1";
    /** The JBang version the launcher pins, whose jar is the "stock JBang" measured here. */
    static final String JBANG_VERSION = "0.132.1";

    final Path root;
    final Path work;
    final int runs;
    final int loadRequests;
    final String mode;
    final boolean gnuTime = Files.isExecutable(Path.of("/usr/bin/time"));
    final List<String[]> rows = new ArrayList<>();
    final List<String> notes = new ArrayList<>();
    /** JBang answers already checked against bash's own reading of them. */
    final Set<String> checkedAnswers = new HashSet<>();
    String loadAtStart;

    Benchmark(Path root, Path work, int runs, int loadRequests, String mode) {
        this.root = root;
        this.work = work;
        this.runs = runs;
        this.loadRequests = loadRequests;
        this.mode = mode;
    }

    public static void main(String... args) throws Exception {
        if (args.length > 0 && args[0].equals("--phases-child")) {
            phasesChild(args[1], args[2], args[3]);
            return;
        }
        int runs = 10;
        int load = 6000;
        String mode = "all";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--load-only" -> mode = "load";
                case "--levers" -> mode = "levers";
                case "--phases" -> mode = "phases";
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--load-requests" -> load = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: Benchmark [--runs N] [--load-requests N] [--load-only | --levers | --phases]");
                    System.exit(2);
                }
            }
        }
        Path root = repoRoot();
        Path work = Files.createTempDirectory("nhs-auth-bench-");
        try {
            new Benchmark(root, work, runs, load, mode).run();
        } finally {
            NhsAuth.Demo.deleteRecursively(work);
        }
    }

    void run() throws Exception {
        loadAtStart = loadAverage();
        String python = pythonWithLibraries();
        log("machine: " + Runtime.getRuntime().availableProcessors() + " cores, Java " + System.getProperty("java.version")
                + (python == null ? ", Python column skipped: python3 with jwt, requests and cryptography not found "
                        + "(Debian: apt-get install python3-jwt python3-requests python3-cryptography)" : ", " + python)
                + ", load average " + loadAtStart);
        String[] keys = {"--output-dir", work.toString(), "--kid", KID};
        int made = NhsCli.commandLine(new GenerateKeys(), keys).setOut(new java.io.PrintWriter(java.io.Writer.nullWriter()))
                .setErr(new java.io.PrintWriter(java.io.Writer.nullWriter())).execute(keys);
        if (made != 0) {
            throw new IllegalStateException("generate-keys failed: exit " + made);
        }
        Path pem = work.resolve(KID + ".pem");
        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App(API_KEY, work.resolve(KID + ".json").toString(), true)), 3600, null)) {
            switch (mode) {
                case "load" -> loadRows(mock, pem);
                case "phases" -> phases(mock, pem);
                case "levers" -> levers(mock, pem, python);
                default -> everything(mock, pem, python);
            }
        }
        printTable();
    }

    /** The issue's table: every get-token path against the Python client, then key generation and the mock server. */
    void everything(MockIdentityService mock, Path pem, String python) throws Exception {
        List<String> tokenArgs = getTokenArgs(mock, pem);
        Way py = python == null ? null : Way.of(root, python, root.resolve("tests/python_reference.py").toString(),
                "get-token", API_KEY, pem.toString(), KID, mock.tokenUrl());
        Way alias = Way.of(root, root.resolve("jbang").toString(), "get-token").plus(tokenArgs);
        Way umbrella = Way.of(root, root.resolve("jbang").toString(), "nhs-auth", "get-token").plus(tokenArgs);
        Way stockUmbrella = stockJBang(List.of("nhs-auth@" + root, "get-token"), tokenArgs);
        Way stockAlias = stockJBang(List.of("get-token@" + root), tokenArgs);
        Path fast = installFastPath("fast");
        Way installed = fast == null ? null : Way.of(work, fast.toString(), "get-token").plus(tokenArgs);

        log("get-token: " + runs + " runs each of 6 ways, alternating");
        Sample[] gt = alternate(runs, py, alias, umbrella, stockUmbrella, stockAlias, installed);
        Sample sPy = gt[0];
        Sample sAlias = gt[1];
        Sample sUmbrella = gt[2];
        Sample sStockUmbrella = gt[3];
        Sample sStockAlias = gt[4];
        Sample sInstalled = gt[5];
        ratioRow("`./jbang get-token` (launcher, warm)", sAlias, sPy, 1.4);
        ratioRow("`jbang nhs-auth@<repo> get-token`, stock JBang " + JBANG_VERSION + ", two JVMs", sStockUmbrella, sPy, 2.5);
        rows.add(new String[] {"  of which JBang's own JVM", fmt(sStockUmbrella.firstMedian()) + " s",
            "-", "-", "(info)", ""});
        ratioRow("  of which the script's JVM", sStockUmbrella.afterFirst(), sPy, 1.2);
        ratioRow("`nhs-auth get-token`, installed by scripts/install.sh", sInstalled, sPy, 0.85);
        memoryRow("peak RSS, installed `nhs-auth get-token`", sInstalled, sPy, 1.5);
        memoryRow("peak RSS, `./jbang get-token`", sAlias, sPy, Double.NaN);
        memoryRow("peak RSS, stock JBang (largest of its two JVMs)", sStockUmbrella, sPy, Double.NaN);
        withinRow("`./jbang nhs-auth get-token` vs `./jbang get-token`", sUmbrella, sAlias, 0.10);
        withinRow("`nhs-auth@<repo> get-token` vs `get-token@<repo>`, stock JBang", sStockUmbrella, sStockAlias, 0.10);
        ratioRow("`./jbang nhs-auth get-token` (launcher, warm)", sUmbrella, sPy, Double.NaN);
        ratioRow("`jbang get-token@<repo>`, stock JBang", sStockAlias, sPy, Double.NaN);
        notes.add("umbrella vs alias: the 'Python' column holds the alias's median; 'within 10 %' means "
                + "|umbrella / alias - 1| <= 0.10. The installed path has only the umbrella, so it has no such row.");
        notes.add("stock JBang: its jar run as its own bash script runs it (JBANG_RUNTIME_SHELL=bash, no JBANG_JAVA_OPTIONS), "
                + "the daily version check off (JBANG_NO_VERSION_CHECK=true, nothing leaves loopback); the script's "
                + "own bash start (a few ms) is not included.");

        log("generate-keys: " + runs + " runs each, alternating");
        AtomicInteger kid = new AtomicInteger();
        Sample[] gk = alternateFresh(runs,
                python == null ? null : () -> Way.of(root, python, root.resolve("tests/python_reference.py").toString(),
                        "generate-keys", "py-" + kid.incrementAndGet(), work.toString()),
                () -> Way.of(root, root.resolve("jbang").toString(), "generate-keys", "--kid", "jb-" + kid.incrementAndGet(),
                        "--output-dir", work.toString()));
        ratioRow("`./jbang generate-keys`, 4096-bit", gk[1], gk[0], 1.0);

        tokenCacheRow(mock, pem);
        loadRows(mock, pem);
    }

    List<String> getTokenArgs(MockIdentityService mock, Path pem) {
        return List.of("--api-key", API_KEY, "--private-key", pem.toString(), "--token-url", mock.tokenUrl(),
                "--format", "token");
    }

    // ------------------------------------------------------------------ ways of running a command

    /**
     * One way of running a command: its argument vector, folder and extra environment; with
     * {@code viaJBang}, the arguments go to JBang's jar and the command it answers with is run after.
     */
    record Way(List<String> command, Path dir, Map<String, String> env, boolean viaJBang) {
        static Way of(Path dir, String... command) {
            return new Way(List.of(command), dir, Map.of(), false);
        }

        Way plus(List<String> more) {
            List<String> all = new ArrayList<>(command);
            all.addAll(more);
            return new Way(List.copyOf(all), dir, env, viaJBang);
        }

        Way withEnv(String name, String value) {
            Map<String, String> all = new LinkedHashMap<>(env);
            all.put(name, value);
            return new Way(command, dir, Map.copyOf(all), viaJBang);
        }
    }

    /** {@code jbang ARGS...} with stock JBang, from a folder outside the repository. */
    Way stockJBang(List<String> jbangArgs, List<String> more) {
        return new Way(jbangArgs, work, Map.of(), true).plus(more);
    }

    /** Wall times, CPU times (user + system, all processes) and peak resident set sizes of repeated runs of one command. */
    static final class Sample {
        final List<Double> seconds = new ArrayList<>();
        final List<Double> cpuSeconds = new ArrayList<>();
        final List<Long> peakKb = new ArrayList<>();
        /** With JBang's protocol: the time of JBang's own JVM alone. */
        final List<Double> firstSeconds = new ArrayList<>();

        double median() {
            return medianOf(seconds);
        }

        double firstMedian() {
            return medianOf(firstSeconds);
        }

        /** With JBang's protocol: the script's JVM alone, run by run (the whole less JBang's own JVM). */
        Sample afterFirst() {
            Sample after = new Sample();
            for (int i = 0; i < firstSeconds.size(); i++) {
                after.seconds.add(seconds.get(i) - firstSeconds.get(i));
            }
            return after;
        }

        double cpuMedian() {
            return medianOf(cpuSeconds);
        }

        double medianMb() {
            return peakKb.isEmpty() ? Double.NaN : medianOf(peakKb.stream().map(k -> k / 1024.0).toList());
        }
    }

    interface Next {
        Way next();
    }

    Sample[] alternate(int n, Way... ways) throws Exception {
        Next[] lines = new Next[ways.length];
        for (int i = 0; i < ways.length; i++) {
            Way w = ways[i];
            lines[i] = w == null ? null : () -> w;
        }
        return alternateFresh(n, lines);
    }

    /** Two warm-up runs of each, then n rounds of A, B, C, ...: drift of the machine hits all alike. */
    Sample[] alternateFresh(int n, Next... commands) throws Exception {
        Sample[] samples = new Sample[commands.length];
        for (int i = 0; i < commands.length; i++) {
            if (commands[i] != null) {
                samples[i] = new Sample();
                time(commands[i].next(), null);
                time(commands[i].next(), null);
            }
        }
        for (int round = 0; round < n; round++) {
            for (int i = 0; i < commands.length; i++) {
                if (commands[i] != null) {
                    time(commands[i].next(), samples[i]);
                }
            }
        }
        return samples;
    }

    /** One finished process: exit code, wall seconds, peak RSS in KiB and CPU seconds (0 and NaN without GNU time). */
    record Ran(int exit, double seconds, long peakKb, double cpu) {
    }

    /** Runs a way to completion; records its wall time and the largest process's peak RSS (GNU time). */
    void time(Way way, Sample into) throws Exception {
        long start = System.nanoTime();
        long peak;
        double cpu;
        double first = Double.NaN;
        if (way.viaJBang()) {
            // What JBang's bash script does: output=$(java $JBANG_JAVA_OPTIONS -classpath jbang.jar dev.jbang.Main "$@");
            // on exit 255, eval "exec $output".
            List<String> jbang = new ArrayList<>();
            jbang.add(javaCommand());
            String options = way.env().getOrDefault("JBANG_JAVA_OPTIONS", "").trim();
            if (!options.isEmpty()) {
                jbang.addAll(Arrays.asList(options.split("\\s+")));
            }
            jbang.addAll(List.of("-classpath", jbangJar().toString(), "dev.jbang.Main"));
            jbang.addAll(way.command());
            Path answer = work.resolve("jbang-answer.txt");
            Ran ran = exec(jbang, way, answer);
            first = ran.seconds();
            String line = Files.readString(answer).trim();
            if (ran.exit() == 255) {
                Ran second = exec(asArguments(line), way, null);
                peak = Math.max(ran.peakKb(), second.peakKb());
                cpu = ran.cpu() + second.cpu();
            } else if (ran.exit() == 0) {
                peak = ran.peakKb();
                cpu = ran.cpu();
            } else {
                throw new IllegalStateException("exit " + ran.exit() + " from JBang for " + way.command() + ":\n"
                        + Files.readString(work.resolve("stderr.txt")) + line);
            }
        } else {
            Ran ran = exec(way.command(), way, null);
            peak = ran.peakKb();
            cpu = ran.cpu();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (into != null) {
            into.seconds.add(seconds);
            if (!Double.isNaN(first)) {
                into.firstSeconds.add(first);
            }
            if (gnuTime) {
                into.peakKb.add(peak);
                into.cpuSeconds.add(cpu);
            }
        }
    }

    /**
     * Runs one process: stdout discarded or into {@code stdout}; a non-zero exit is a failure,
     * except JBang's 255 when its answer is captured.
     */
    Ran exec(List<String> command, Way way, Path stdout) throws Exception {
        Path rss = work.resolve("rss.txt");
        Files.deleteIfExists(rss);
        List<String> full = new ArrayList<>();
        if (gnuTime) {
            full.addAll(List.of("/usr/bin/time", "-f", "%M %U %S", "-o", rss.toString()));
        }
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full).directory(way.dir().toFile())
                .redirectOutput(stdout == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(stdout.toFile()))
                .redirectError(work.resolve("stderr.txt").toFile());
        Map<String, String> env = pb.environment();
        // A run's settings are its own: none from the shell the benchmark was started in.
        env.keySet().removeIf(k -> k.startsWith("NHS_") || k.equals("JDK_JAVA_OPTIONS") || k.equals("JAVA_TOOL_OPTIONS")
                || k.equals("_JAVA_OPTIONS") || k.equals("JBANG_JAVA_OPTIONS") || k.equals("JBANG_RUNTIME_SHELL"));
        if (way.viaJBang()) {
            env.put("CLICOLOR_FORCE", "1");
            env.put("JBANG_RUNTIME_SHELL", "bash");
            env.put("JBANG_NO_VERSION_CHECK", "true");
        }
        env.putAll(way.env());
        long start = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("hung, stopped after 180 s: " + command);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        int exit = p.exitValue();
        if (exit != 0 && !(exit == 255 && stdout != null && way.viaJBang())) {
            throw new IllegalStateException("exit " + exit + " from " + command + ":\n"
                    + Files.readString(work.resolve("stderr.txt")));
        }
        String[] usage = gnuTime && Files.exists(rss) ? lastLine(Files.readString(rss)).split(" ") : null;
        return usage == null ? new Ran(exit, seconds, 0, Double.NaN)
                : new Ran(exit, seconds, Long.parseLong(usage[0]), Double.parseDouble(usage[1]) + Double.parseDouble(usage[2]));
    }

    /**
     * The argument vector of a command line JBang printed for bash. Its quoting (words in single
     * quotes, {@code '\''} for a quote) is read here; anything needing a shell (expansions,
     * operators) goes to {@code bash -c "exec ..."} instead. Each distinct answer is checked once
     * against bash's own reading of it.
     */
    List<String> asArguments(String line) throws Exception {
        List<String> words = bashWords(line);
        if (words == null) {
            return List.of("bash", "-c", "exec " + line);
        }
        if (checkedAnswers.add(line)) {
            Process p = new ProcessBuilder("bash", "-c", "printf '%s\\0' " + line).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(30, TimeUnit.SECONDS);
            List<String> bash = out.isEmpty() ? List.of() : Arrays.asList(out.substring(0, out.length() - 1).split("\0", -1));
            if (!bash.equals(words)) {
                throw new IllegalStateException("JBang's answer reads differently here and in bash:\n" + line
                        + "\nhere: " + words + "\nbash: " + bash);
            }
        }
        return words;
    }

    /** Words of a bash command line with plain, single-quoted, double-quoted and backslash-escaped text; null if it needs a shell. */
    static List<String> bashWords(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder word = null;
        int n = line.length();
        for (int i = 0; i < n; i++) {
            char c = line.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n') {
                if (word != null) {
                    words.add(word.toString());
                    word = null;
                }
                continue;
            }
            if (word == null) {
                word = new StringBuilder();
                if (c == '~' || c == '#') {
                    return null;
                }
            }
            if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) {
                    return null;
                }
                word.append(line, i + 1, end);
                i = end;
            } else if (c == '"') {
                for (i++; ; i++) {
                    if (i >= n) {
                        return null;
                    }
                    char d = line.charAt(i);
                    if (d == '"') {
                        break;
                    } else if (d == '\\' && i + 1 < n && "$`\"\\".indexOf(line.charAt(i + 1)) >= 0) {
                        word.append(line.charAt(++i));
                    } else if (d == '$' || d == '`' || d == '!') {
                        return null;
                    } else {
                        word.append(d);
                    }
                }
            } else if (c == '\\') {
                if (i + 1 >= n || line.charAt(i + 1) == '\n') {
                    return null;
                }
                word.append(line.charAt(++i));
            } else if ("$`;&|<>(){}*?[]!".indexOf(c) >= 0) {
                return null;
            } else {
                word.append(c);
            }
        }
        if (word != null) {
            words.add(word.toString());
        }
        return words.isEmpty() ? null : words;
    }

    /** The java that JBang's script picks without network: JAVA_HOME's, else the one on PATH. */
    static String javaCommand() {
        String home = System.getenv("JAVA_HOME");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "java"))) {
            return Path.of(home, "bin", "java").toString();
        }
        return "java";
    }

    private Path jbangJar;

    /** The launcher's copy of JBang's jar (it fetches it on first use). */
    Path jbangJar() throws Exception {
        if (jbangJar == null) {
            String dir = System.getenv("JBANG_DIR");
            Path jar = Path.of(dir != null ? dir : System.getProperty("user.home") + "/.jbang", "nhs-auth-launcher",
                    "jbang-cli-" + JBANG_VERSION + "-all.jar");
            if (!Files.isRegularFile(jar)) {
                log("fetching JBang's jar once: ./jbang version");
                Process p = new ProcessBuilder(root.resolve("jbang").toString(), "version").directory(root.toFile())
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                p.waitFor(600, TimeUnit.SECONDS);
            }
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException("no JBang jar at " + jar + " (run ./jbang version once)");
            }
            jbangJar = jar;
        }
        return jbangJar;
    }

    Path installFastPath(String name) throws Exception {
        Path prefix = work.resolve(name);
        log("installing the fast path into a scratch prefix (scripts/install.sh)");
        Process p = new ProcessBuilder(root.resolve("scripts/install.sh").toString(), "--prefix", prefix.toString())
                .directory(root.toFile()).redirectErrorStream(true).redirectOutput(work.resolve("install.txt").toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            log("fast path not measured: install failed:\n" + Files.readString(work.resolve("install.txt")));
            return null;
        }
        return prefix.resolve("bin/nhs-auth");
    }

    // ------------------------------------------------------------------ rows

    /** ours / against, met when at most {@code limit} (NaN: information only). */
    void ratioRow(String what, Sample ours, Sample against, double limit) {
        String target = Double.isNaN(limit) ? "(info)" : "<= " + limit + "x";
        if (ours == null) {
            rows.add(new String[] {what, "-", "-", "-", target, "not measured"});
            return;
        }
        if (against == null) {
            rows.add(new String[] {what, fmt(ours.median()) + " s", "-", "-", target, "no Python column"});
            return;
        }
        double ratio = ours.median() / against.median();
        rows.add(new String[] {what, fmt(ours.median()) + " s", fmt(against.median()) + " s", fmt(ratio) + "x", target,
            Double.isNaN(limit) ? "" : ratio <= limit ? "met" : "missed", cpuRatio(ours, against)});
    }

    /** The CPU times' medians and their ratio: less sensitive to a busy machine than wall time. */
    String cpuRatio(Sample ours, Sample against) {
        if (!gnuTime || ours.cpuSeconds.isEmpty() || against.cpuSeconds.isEmpty()) {
            return "-";
        }
        return fmt(ours.cpuMedian()) + " / " + fmt(against.cpuMedian()) + " s = " + fmt(ours.cpuMedian() / against.cpuMedian()) + "x";
    }

    /** ours / against within {@code 1 ± tolerance}. */
    void withinRow(String what, Sample ours, Sample against, double tolerance) {
        double ratio = ours.median() / against.median();
        rows.add(new String[] {what, fmt(ours.median()) + " s", fmt(against.median()) + " s", fmt(ratio) + "x",
            "within " + Math.round(tolerance * 100) + " %", Math.abs(ratio - 1) <= tolerance ? "met" : "missed",
            cpuRatio(ours, against)});
    }

    void memoryRow(String what, Sample ours, Sample python, double limit) {
        String target = Double.isNaN(limit) ? "(info)" : "<= " + limit + "x";
        if (ours == null || !gnuTime || python == null) {
            rows.add(new String[] {what, ours != null && gnuTime ? fmt(ours.medianMb()) + " MiB" : "-", "-", "-", target,
                !gnuTime ? "needs /usr/bin/time" : ours == null ? "not measured" : "no Python column"});
            return;
        }
        double ratio = ours.medianMb() / python.medianMb();
        rows.add(new String[] {what, fmt(ours.medianMb()) + " MiB", fmt(python.medianMb()) + " MiB", fmt(ratio) + "x",
            target, Double.isNaN(limit) ? "" : ratio <= limit ? "met" : "missed"});
    }

    void tokenCacheRow(MockIdentityService mock, Path pem) throws Exception {
        Way call = Way.of(root, root.resolve("jbang").toString(), "call-api", "--api-key", API_KEY, "--private-key",
                pem.toString(), "--token-url", mock.tokenUrl(), "--token-cache", "--token-cache-dir",
                work.resolve("token-cache").toString(), "--url", mock.baseUrl() + "/hello-world/hello/application");
        time(call, null);
        long before = mock.tokensIssued();
        time(call, null);
        long requests = mock.tokensIssued() - before;
        rows.add(new String[] {"second call-api with --token-cache", requests + " token requests", "-", "-", "0 requests",
            requests == 0 ? "met" : "missed"});
    }

    // ------------------------------------------------------------------ levers

    /**
     * JVM options on each path, each group alternating its variants against the group's first.
     * Figures for the speed issue's levers; nothing here changes a product file.
     */
    void levers(MockIdentityService mock, Path pem, String python) throws Exception {
        List<String> tokenArgs = getTokenArgs(mock, pem);
        rows.add(new String[] {"lever / variant", "median", "JBang's JVM", "vs first", "CPU user+sys", "peak RSS", "runs",
            "load before -> after"});

        // a. JBang's own JVM on the stock path: C1 and Serial GC, and a CDS archive of JBang's jar
        //    (made once, as a user would: -XX:ArchiveClassesAtExit on one run of the same command).
        Path jsa = work.resolve("jbang.jsa");
        Way stock = stockJBang(List.of("nhs-auth@" + root, "get-token"), tokenArgs);
        List<String> dump = new ArrayList<>(List.of(javaCommand(), "-XX:ArchiveClassesAtExit=" + jsa, "-Xlog:cds=off",
                "-classpath", jbangJar().toString(), "dev.jbang.Main"));
        dump.addAll(stock.command());
        exec(dump, stock, work.resolve("jbang-answer.txt"));
        String quick = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
        String cds = "-XX:SharedArchiveFile=" + jsa + " -Xshare:auto";
        String[] options = {"", quick, cds, quick + " " + cds, quick + " " + cds + " -XX:-UsePerfData"};
        String[] names = new String[options.length];
        Way[] ways = new Way[options.length];
        for (int i = 0; i < options.length; i++) {
            names[i] = options[i].isEmpty() ? "no JBANG_JAVA_OPTIONS" : options[i].replace(jsa.toString(), "jbang.jsa");
            ways[i] = options[i].isEmpty() ? stock : stock.withEnv("JBANG_JAVA_OPTIONS", options[i]);
        }
        leverGroup("a. stock `jbang nhs-auth@<repo> get-token`, JBANG_JAVA_OPTIONS", names, ways);
        Way launcherWarm = Way.of(root, root.resolve("jbang").toString(), "nhs-auth@" + root, "get-token").plus(tokenArgs);
        leverGroup("a'. the same through ./jbang", new String[] {"remembered answer (default)",
            "NHS_AUTH_LAUNCHER_CACHE=0: JBang's JVM as the launcher starts it (C1, Serial)", "stock JBang, no options"},
                launcherWarm, launcherWarm.withEnv("NHS_AUTH_LAUNCHER_CACHE", "0"), stock);

        // c. picocli's probe for Groovy closures (one failed Class.forName), on the installed path and the warm launcher.
        Path fast = installFastPath("fast");
        Path lib = work.resolve("fast/lib/nhs-auth");
        Way installed = Way.of(work, fast.toString(), "get-token").plus(tokenArgs).withEnv("JDK_JAVA_OPTIONS", "-Dnhs.bench=0");
        leverGroup("c. installed `nhs-auth get-token`, JDK_JAVA_OPTIONS", new String[] {"-Dnhs.bench=0 (neutral)",
            "-Dpicocli.disable.closures=true"},
                installed, installed.withEnv("JDK_JAVA_OPTIONS", "-Dpicocli.disable.closures=true"));
        Way launcher = Way.of(root, root.resolve("jbang").toString(), "get-token").plus(tokenArgs)
                .withEnv("JDK_JAVA_OPTIONS", "-Dnhs.bench=0");
        leverGroup("c'. `./jbang get-token` (warm), JDK_JAVA_OPTIONS", new String[] {"-Dnhs.bench=0 (neutral)",
            "-Dpicocli.disable.closures=true"},
                launcher, launcher.withEnv("JDK_JAVA_OPTIONS", "-Dpicocli.disable.closures=true"));

        // f. The umbrella alias keeps C2 and G1 (only class-data sharing is added): what C1 and Serial GC
        //    would do to it, for get-token and for generate-keys (which needs C2's big-number speed).
        String c1 = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmn8m";
        Way umbrella = Way.of(root, root.resolve("jbang").toString(), "nhs-auth", "get-token").plus(tokenArgs)
                .withEnv("JDK_JAVA_OPTIONS", "-Dnhs.bench=0");
        leverGroup("f. `./jbang nhs-auth get-token` (warm), JDK_JAVA_OPTIONS", new String[] {"-Dnhs.bench=0 (neutral)", c1,
            "`./jbang get-token` (its alias has them), neutral"},
                umbrella, umbrella.withEnv("JDK_JAVA_OPTIONS", c1), launcher);
        AtomicInteger kid = new AtomicInteger();
        Next keys = () -> Way.of(root, root.resolve("jbang").toString(), "nhs-auth", "generate-keys", "--kid",
                "lever-" + kid.incrementAndGet(), "--output-dir", work.toString()).withEnv("JDK_JAVA_OPTIONS", "-Dnhs.bench=0");
        leverGroup("f'. `./jbang nhs-auth generate-keys` (warm), JDK_JAVA_OPTIONS", new String[] {"-Dnhs.bench=0 (neutral)", c1},
                keys, () -> keys.next().withEnv("JDK_JAVA_OPTIONS", c1));

        // e. The installed path's java command, written out here as scripts/install.sh's shim has it
        //    for get-token, then varied.
        List<String> shim = List.of("-XX:SharedArchiveFile=" + lib.resolve("nhs-auth.jsa"), "-Xshare:auto", "-Xlog:disable",
                "-Xlog:all=off", "-XX:+UseSerialGC", "-Djdk.http.auth.tunneling.disabledSchemes=",
                "-Dpicocli.disable.closures=true", "-XX:TieredStopAtLevel=1", "-Xmn4m");
        List<String> strict = new ArrayList<>(shim);
        strict.set(strict.indexOf("-Xshare:auto"), "-Xshare:on");
        exec(installedJava(lib, strict, List.of("--version")), Way.of(work), null);
        notes.add("e. the installed archive maps: with -Xshare:on (which fails when it cannot) nhs-auth --version exits 0");
        String[][] variants = {
            {},
            {"-XX:-UsePerfData"},
            {"-Xss256k"},
            {"-Xms8m", "-Xmx64m"},
            {"-Xmn8m"},
            {"-Xmn2m"},
            {"-XX:TieredStopAtLevel=4"},
            {"-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0"},
            {"-Xshare:off"},
        };
        names = new String[variants.length + 1];
        ways = new Way[variants.length + 1];
        names[0] = "the shim itself";
        ways[0] = Way.of(work, fast.toString(), "get-token").plus(tokenArgs);
        for (int i = 0; i < variants.length; i++) {
            List<String> flags = new ArrayList<>(shim);
            for (String v : variants[i]) {
                if (v.startsWith("-Xmn")) {
                    flags.set(flags.indexOf("-Xmn4m"), v);
                } else {
                    flags.add(v);
                }
            }
            names[i + 1] = variants[i].length == 0 ? "same flags, written out"
                    : variants[i][0].startsWith("-Xmn") ? variants[i][0] + " instead of -Xmn4m"
                    : variants[i][0].equals("-XX:TieredStopAtLevel=4") ? "C2 too (-XX:TieredStopAtLevel=4 after =1)"
                    : String.join(" ", variants[i]);
            ways[i + 1] = Way.of(work).plus(installedJava(lib, flags, List.of("get-token"))).plus(tokenArgs);
        }
        leverGroup("e. installed `nhs-auth get-token`, JVM options", names, ways);
    }

    List<String> installedJava(Path lib, List<String> flags, List<String> args) {
        List<String> all = new ArrayList<>();
        all.add(javaCommand());
        all.addAll(flags);
        all.addAll(List.of("-jar", lib.resolve("nhs-auth.jar").toString()));
        all.addAll(args);
        return all;
    }

    void leverGroup(String title, String[] names, Way... ways) throws Exception {
        Next[] next = new Next[ways.length];
        for (int i = 0; i < ways.length; i++) {
            Way w = ways[i];
            next[i] = () -> w;
        }
        leverGroup(title, names, next);
    }

    void leverGroup(String title, String[] names, Next... ways) throws Exception {
        log(title + ": " + runs + " runs each of " + ways.length + " variants, alternating");
        String before = loadAverage();
        Sample[] s = alternateFresh(runs, ways);
        String after = loadAverage();
        rows.add(new String[] {title});
        for (int i = 0; i < ways.length; i++) {
            double delta = s[i].median() - s[0].median();
            rows.add(new String[] {"  " + names[i], fmt(s[i].median()) + " s",
                s[i].firstSeconds.isEmpty() ? "-" : fmt(s[i].firstMedian()) + " s",
                i == 0 ? "-" : String.format(Locale.ROOT, "%+.3f s (%+.0f %%)", delta, 100 * delta / s[0].median()),
                gnuTime ? fmt(s[i].cpuMedian()) + " s" : "-", gnuTime ? fmt(s[i].medianMb()) + " MiB" : "-", String.valueOf(s[i].seconds.size()), before + " -> " + after});
        }
    }

    // ------------------------------------------------------------------ phases

    /** The variants of one get-token that {@link #phasesChild} runs, and what each row is called. */
    static final Map<String, String> PHASE_VARIANTS = phaseVariants();

    private static Map<String, String> phaseVariants() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("noop", "empty JVM (main returns at once), same class path");
        v.put("nimbus", "as get-token: nimbus signs, NhsHttp");
        v.put("jdk", "java.security.Signature signs, NhsHttp");
        return v;
    }

    /**
     * Where one get-token's time goes inside its JVM: each step timed in a fresh JVM started with
     * the short aliases' options (C1, Serial GC, -Xmn8m) and a static CDS archive trained on the same
     * steps, as install.sh makes one, and the classes each step loads (from the archive or not).
     */
    void phases(MockIdentityService mock, Path pem) throws Exception {
        String cp = System.getProperty("java.class.path");
        List<String> jvm = List.of(javaCommand(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmn8m",
                "-Xlog:disable", "-Xlog:all=off");
        List<String> child = List.of("-cp", cp, "Benchmark", "--phases-child");
        for (String variant : PHASE_VARIANTS.keySet()) {
            // A static archive dumped from the classes one run loads, as install.sh makes one.
            Path classList = work.resolve("phases-" + variant + ".classlist");
            List<String> train = new ArrayList<>(jvm);
            train.add("-XX:DumpLoadedClassList=" + classList);
            train.addAll(child);
            train.addAll(List.of(variant, pem.toString(), mock.tokenUrl()));
            exec(train, Way.of(work), null);
            dumpStaticArchive(classList, work.resolve("phases-" + variant + ".jsa"), cp);
        }
        String before = loadAverage();
        log("phases: " + runs + " rounds of " + PHASE_VARIANTS.size() * 2 + " fresh JVMs, alternating");
        Map<String, List<Double>> times = new LinkedHashMap<>();
        Map<String, List<Double>> totals = new LinkedHashMap<>();
        Map<String, List<Double>> peaks = new LinkedHashMap<>();
        for (int round = -2; round < runs; round++) {
            for (String variant : PHASE_VARIANTS.keySet()) {
                for (boolean shared : List.of(true, false)) {
                    List<String> cmd = new ArrayList<>(jvm);
                    cmd.add(shared ? "-XX:SharedArchiveFile=" + work.resolve("phases-" + variant + ".jsa") : "-Xshare:off");
                    cmd.addAll(child);
                    cmd.addAll(List.of(variant, pem.toString(), mock.tokenUrl()));
                    Path out = work.resolve("phases.txt");
                    long start = System.nanoTime();
                    Ran ran = exec(cmd, Way.of(work), out);
                    double wall = (System.nanoTime() - start) / 1e9;
                    if (round < 0) {
                        continue;
                    }
                    String key = variant + (shared ? ", CDS" : ", no CDS");
                    totals.computeIfAbsent(key, k -> new ArrayList<>()).add(wall);
                    peaks.computeIfAbsent(key, k -> new ArrayList<>()).add(ran.peakKb() / 1024.0);
                    for (String line : Files.readAllLines(out)) {
                        if (line.startsWith("phase ")) {
                            String[] f = line.split(" ", 3);
                            times.computeIfAbsent(key + "|" + f[2], k -> new ArrayList<>()).add(Long.parseLong(f[1]) / 1e6);
                        }
                    }
                }
            }
        }
        String after = loadAverage();
        rows.add(new String[] {"one get-token in a fresh JVM: variant, step", "median ms", "classes (CDS / elsewhere)",
            "peak RSS", "runs", "load before -> after"});
        for (Map.Entry<String, String> variant : PHASE_VARIANTS.entrySet()) {
            for (boolean shared : List.of(true, false)) {
                String key = variant.getKey() + (shared ? ", CDS" : ", no CDS");
                Map<String, int[]> classes = classLoads(jvm, child, shared ? work.resolve("phases-" + variant.getKey() + ".jsa")
                        : null, variant.getKey(), pem, mock);
                int[] all = classes.getOrDefault("", new int[2]);
                rows.add(new String[] {variant.getValue() + (shared ? ", CDS" : ", no CDS"),
                    fmt(medianOf(totals.get(key)) * 1000) + " wall", all[0] + " / " + all[1] + " in all",
                    gnuTime ? fmt(medianOf(peaks.get(key))) + " MiB" : "-", String.valueOf(runs), before + " -> " + after});
                for (Map.Entry<String, List<Double>> e : times.entrySet()) {
                    if (e.getKey().startsWith(key + "|")) {
                        String phase = e.getKey().substring(key.length() + 1);
                        int[] c = classes.getOrDefault(phase, new int[2]);
                        rows.add(new String[] {"  " + phase, fmt(medianOf(e.getValue())), c[0] + " / " + c[1], "", "", ""});
                    }
                }
            }
        }
        notes.add("phases: wall is the whole process as the parent sees it; the steps are timed inside main, so the rest "
                + "is the JVM's start before main and its exit ('empty JVM' is that alone). 'In all' counts every class "
                + "the JVM loaded, its own start-up included.");
    }

    /** A static class-data archive dumped from a class list, as install.sh makes one. */
    void dumpStaticArchive(Path classList, Path archive, String classPath) throws Exception {
        exec(List.of(javaCommand(), "-Xshare:dump", "-XX:SharedClassListFile=" + classList, "-XX:SharedArchiveFile=" + archive,
                "-Xlog:disable", "-Xlog:all=off", "-cp", classPath), Way.of(work), null);
    }

    /** Classes loaded in each phase of one child run ([from the CDS archive, from elsewhere]); key "" holds the totals. */
    Map<String, int[]> classLoads(List<String> jvm, List<String> child, Path archive, String variant, Path pem,
            MockIdentityService mock) throws Exception {
        List<String> cmd = new ArrayList<>(jvm);
        cmd.add(archive != null ? "-XX:SharedArchiveFile=" + archive : "-Xshare:off");
        cmd.add("-Xlog:class+load=info:stdout");
        cmd.addAll(child);
        cmd.addAll(List.of(variant, pem.toString(), mock.tokenUrl()));
        Path out = work.resolve("classes.txt");
        exec(cmd, Way.of(work), out);
        Map<String, int[]> counts = new LinkedHashMap<>();
        int[] total = new int[2];
        counts.put("", total);
        int[] current = new int[2];
        for (String line : Files.readAllLines(out)) {
            if (line.startsWith("phase ")) {
                counts.put(line.split(" ", 3)[2], current);
                current = new int[2];
            } else if (line.contains("[class,load]")) {
                int from = line.contains("shared objects file") ? 0 : 1;
                current[from]++;
                total[from]++;
            }
        }
        return counts;
    }

    /**
     * Runs get-token's steps in this fresh JVM, printing {@code phase NANOS NAME} after each:
     * picocli's model and parse, the key read, the first and second RS512 signatures, the
     * SSLContext and HttpClient, the token exchange. Variants: see {@link #PHASE_VARIANTS}.
     */
    static void phasesChild(String variant, String pem, String tokenUrl) throws Exception {
        if (variant.equals("noop")) {
            return;
        }
        long t = System.nanoTime();
        String[] args = {"get-token", "--api-key", API_KEY, "--private-key", pem, "--token-url", tokenUrl, "--format", "token"};
        CommandLine cl = NhsCli.commandLine(new NhsAuth(), args);
        cl.parseArgs(args);
        t = phase(t, "picocli: model and parse (umbrella, get-token)");
        RSAPrivateCrtKey key = NhsKeys.readPrivateKey(Path.of(pem), null);
        t = phase(t, "private key read (JDK PEM)");
        String assertion;
        if (!variant.equals("jdk")) {
            // Signed as get-token signs, through the client (whose build reads the key file again).
            NhsClient signing = NhsClient.builder().apiKey(API_KEY).privateKey(Path.of(pem), null).kid(KID)
                    .tokenUrl(tokenUrl).notices(null).build();
            signing.clientAssertion();
            t = phase(t, "first RS512 signature");
            assertion = signing.clientAssertion();
        } else {
            jdkAssertion(key, tokenUrl);
            t = phase(t, "first RS512 signature");
            assertion = jdkAssertion(key, tokenUrl);
        }
        t = phase(t, "second RS512 signature");
        NhsClient client = NhsClient.builder().apiKey(API_KEY).privateKey(Path.of(pem), null).kid(KID)
                .tokenUrl(tokenUrl).notices(null).build();
        t = phase(t, "client build (key read again, settings checked)");
        if (client.requestToken().value().isEmpty()) {
            throw new IllegalStateException("an empty token");
        }
        t = phase(t, "token exchange (a third signature, JDK HttpClient, loopback)");
        t = phase(t, "answer read");
        System.exit(0);
    }

    static long phase(long since, String name) {
        long now = System.nanoTime();
        System.out.println("phase " + (now - since) + " " + name);
        System.out.flush();
        return System.nanoTime();
    }

    /** The same client assertion as NhsClient's, with the JDK's Signature and hand-written JSON. */
    static String jdkAssertion(RSAPrivateCrtKey key, String audience) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = "{\"kid\":\"" + KID + "\",\"typ\":\"JWT\",\"alg\":\"RS512\"}";
        String claims = "{\"iss\":\"" + API_KEY + "\",\"sub\":\"" + API_KEY + "\",\"aud\":\"" + audience + "\",\"exp\":"
                + (Instant.now().getEpochSecond() + 240) + ",\"jti\":\"" + UUID.randomUUID() + "\"}";
        String input = b64.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
        Signature rsa = Signature.getInstance("SHA512withRSA");
        rsa.initSign(key);
        rsa.update(input.getBytes(StandardCharsets.US_ASCII));
        return input + "." + b64.encodeToString(rsa.sign());
    }

    // ------------------------------------------------------------------ mock-server load

    /**
     * Token exchanges against the mock with 4096-bit keys. Assertions are signed beforehand (each
     * jti must be fresh), so the timed part is the server's: parse, check, verify, issue.
     */
    void loadRows(MockIdentityService mock, Path pem) throws Exception {
        NhsClient client = NhsClient.builder().apiKey(API_KEY).privateKey(pem, null).tokenUrl(mock.tokenUrl())
                .notices(null).build();
        log("signing " + loadRequests + " unique client assertions (4096-bit)");
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService signers = Executors.newFixedThreadPool(threads);
        List<Future<String>> signed = new ArrayList<>();
        for (int i = 0; i < loadRequests; i++) {
            signed.add(signers.submit(client::clientAssertion));
        }
        List<String> forms = new ArrayList<>();
        for (Future<String> f : signed) {
            forms.add(tokenForm(f.get()));
        }
        signers.shutdown();

        // The load generator speaks HTTP/1.1 over plain keep-alive sockets: the JDK HttpClient costs
        // the shared two cores more than the server does. A quarter of the requests warm the JIT.
        int clients = 8;
        int warmUp = loadRequests / 4;
        log("load: " + clients + " clients, " + warmUp + " warm-up then " + (loadRequests - warmUp) + " measured token requests");
        Set<String> tokens = ConcurrentHashMap.newKeySet();
        AtomicInteger errors = new AtomicInteger();
        runLoad(mock, forms.subList(0, warmUp), clients, new long[warmUp], tokens, errors);
        String before = loadAverage();
        long[] latencyNanos = new long[loadRequests - warmUp];
        double seconds = runLoad(mock, forms.subList(warmUp, loadRequests), clients, latencyNanos, tokens, errors);
        long[] sorted = latencyNanos.clone();
        Arrays.sort(sorted);
        double perSecond = latencyNanos.length / seconds;
        double p50 = sorted[sorted.length / 2] / 1e6;
        double p99 = sorted[(int) Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] / 1e6;
        boolean met = perSecond >= 3000 && p99 <= 20 && errors.get() == 0 && tokens.size() == loadRequests;
        rows.add(new String[] {"mock-server token exchanges (4096-bit, " + clients + " clients, same machine)",
            String.format(Locale.ROOT, "%.0f/s, p50 %.1f ms, p99 %.1f ms, %d errors, %d distinct tokens", perSecond, p50,
                    p99, errors.get(), tokens.size()), "-", "-", ">= 3000/s, p99 <= 20 ms", met ? "met" : "missed"});
        notes.add("mock-server load measured with load average " + before + " -> " + loadAverage());
    }

    /** The token request's form as NHS documents it. */
    static String tokenForm(String assertion) {
        return "grant_type=client_credentials&client_assertion_type="
                + java.net.URLEncoder.encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", StandardCharsets.UTF_8)
                + "&client_assertion=" + java.net.URLEncoder.encode(assertion, StandardCharsets.UTF_8);
    }

    static Map<String, Object> parseObject(String json) {
        try {
            return com.nimbusds.jose.util.JSONObjectUtils.parse(json);
        } catch (java.text.ParseException e) {
            return null;
        }
    }

    /** Sends every form once over {@code clients} keep-alive connections; returns the wall seconds. */
    static double runLoad(MockIdentityService mock, List<String> forms, int clients, long[] latencyNanos,
            Set<String> tokens, AtomicInteger errors) throws Exception {
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> done = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            done.add(pool.submit(() -> {
                try (java.net.Socket socket = new java.net.Socket("127.0.0.1", mock.port())) {
                    socket.setTcpNoDelay(true);
                    var out = new java.io.BufferedOutputStream(socket.getOutputStream());
                    var in = new java.io.BufferedInputStream(socket.getInputStream());
                    for (int i = next.getAndIncrement(); i < forms.size(); i = next.getAndIncrement()) {
                        byte[] body = forms.get(i).getBytes(StandardCharsets.US_ASCII);
                        long t0 = System.nanoTime();
                        out.write(("POST /oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:" + mock.port()
                                + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + body.length
                                + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                        out.write(body);
                        out.flush();
                        String[] answer = readResponse(in);
                        latencyNanos[i] = System.nanoTime() - t0;
                        Map<String, Object> json = answer[0].equals("200") ? parseObject(answer[1]) : null;
                        Object token = json == null ? null : json.get("access_token");
                        if (!(token instanceof String) || !tokens.add((String) token)) {
                            errors.incrementAndGet();
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            try {
                f.get(300, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                errors.incrementAndGet();
            }
        }
        pool.shutdownNow();
        return (System.nanoTime() - start) / 1e9;
    }

    /** Status code and body of one HTTP/1.1 response with a Content-Length. */
    static String[] readResponse(java.io.InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed mid-response");
            }
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return new String[] {head.substring(9, 12), new String(in.readNBytes(length), StandardCharsets.UTF_8)};
    }

    // ------------------------------------------------------------------ the table

    void printTable() {
        boolean ownHead = !rows.isEmpty() && (mode.equals("levers") || mode.equals("phases"));
        String[] head = ownHead ? rows.get(0) : new String[] {"path", "nhs-auth", "Python", "ratio", "target", "verdict",
            "CPU user+sys (info)"};
        List<String[]> all = new ArrayList<>();
        all.add(head);
        for (String[] r : ownHead ? rows.subList(1, rows.size()) : rows) {
            String[] padded = Arrays.copyOf(r, head.length);
            Arrays.setAll(padded, i -> padded[i] == null ? "" : padded[i]);
            all.add(padded);
        }
        int[] width = new int[head.length];
        for (String[] r : all) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(Math.max(width[i], 1), r[i].length());
            }
        }
        System.out.println();
        System.out.println("nhs-auth benchmark, " + LocalDate.now() + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, Java " + System.getProperty("java.version") + ", medians of " + runs + " alternating runs; "
                + "load average (1, 5, 15 min) at start " + loadAtStart + ", at end " + loadAverage());
        for (String[] r : all) {
            StringBuilder line = new StringBuilder("|");
            for (int i = 0; i < r.length; i++) {
                line.append(' ').append(String.format("%-" + width[i] + "s", r[i])).append(" |");
            }
            System.out.println(line);
            if (r == head) {
                StringBuilder rule = new StringBuilder("|");
                for (int w : width) {
                    rule.append("-".repeat(w + 2)).append('|');
                }
                System.out.println(rule);
            }
        }
        double busiest = Math.max(firstLoad(loadAtStart), firstLoad(loadAverage()));
        if (busiest > Runtime.getRuntime().availableProcessors()) {
            notes.add(0, "the machine was busy (1-minute load average above its " + Runtime.getRuntime().availableProcessors()
                    + " cores): absolute times are inflated; the alternating ratios hold up better");
        }
        for (String note : notes) {
            System.out.println("- " + note);
        }
    }

    // ------------------------------------------------------------------ small things

    static String pythonWithLibraries() {
        for (String python : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(python, "-c", "import jwt, requests, cryptography, sys; print(sys.version.split()[0])")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return python;
                }
            } catch (IOException | InterruptedException e) {
                // try the next one
            }
        }
        return null;
    }

    /** The 1, 5 and 15 minute load averages, as uptime prints them. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    static double firstLoad(String load) {
        try {
            return Double.parseDouble(load.split(" ")[0]);
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    static String lastLine(String text) {
        String[] lines = text.trim().split("\n");
        return lines[lines.length - 1].trim();
    }

    static double medianOf(List<Double> values) {
        List<Double> s = new ArrayList<>(values);
        s.sort(null);
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    static String fmt(double d) {
        return String.format(Locale.ROOT, "%.2f", d);
    }

    static void log(String line) {
        System.err.println("benchmark: " + line);
    }

    static Path repoRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("jbang-catalog.json")) && Files.isRegularFile(d.resolve("jbang"))) {
                return d;
            }
        }
        throw new IllegalStateException("run the benchmark from inside the nhs-auth repository");
    }
}
