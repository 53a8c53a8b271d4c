///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES ../scripts/NhsAuth.java
//DESCRIPTION nhs-auth against the Python tool, side by side: start-up, memory, key generation, mock-server load

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One command, {@code ./jbang tests/Benchmark.java [--runs N] [--load-requests N] [--load-only]}, prints a
 * table of medians and the ratios of the speed issue's targets. Commands are run alternately
 * (A, B, A, B, ...) so that drift of a shared machine hits both sides alike. Everything talks
 * to a mock server on loopback; the run is bounded and stops by itself. Not part of the tests.
 */
public class Benchmark {

    static final String API_KEY = "bench-api-key";

    final Path root;
    final Path work;
    final int runs;
    final int loadRequests;
    final boolean loadOnly;
    final boolean gnuTime = Files.isExecutable(Path.of("/usr/bin/time"));
    final List<String[]> rows = new ArrayList<>();

    Benchmark(Path root, Path work, int runs, int loadRequests, boolean loadOnly) {
        this.root = root;
        this.work = work;
        this.runs = runs;
        this.loadRequests = loadRequests;
        this.loadOnly = loadOnly;
    }

    public static void main(String... args) throws Exception {
        int runs = 10;
        int load = 6000;
        boolean loadOnly = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--load-only")) {
                loadOnly = true;
            } else if (args[i].equals("--runs")) {
                runs = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--load-requests")) {
                load = Integer.parseInt(args[++i]);
            } else {
                System.err.println("usage: Benchmark [--runs N] [--load-requests N] [--load-only]");
                System.exit(2);
            }
        }
        Path root = repoRoot();
        Path work = Files.createTempDirectory("nhs-auth-bench-");
        try {
            new Benchmark(root, work, runs, load, loadOnly).run();
        } finally {
            Demo.deleteRecursively(work);
        }
    }

    void run() throws Exception {
        String python = pythonWithLibraries();
        log("machine: " + Runtime.getRuntime().availableProcessors() + " cores, Java " + System.getProperty("java.version")
                + (python == null ? ", Python column skipped: python3 with jwt, requests and cryptography not found "
                        + "(Debian: apt-get install python3-jwt python3-requests python3-cryptography)" : ", " + python));
        NhsCli.run(new GenerateKeys(), "--output-dir", work.toString(), "--kid", "bench-1");
        Path pem = work.resolve("bench-1.pem");
        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App(API_KEY, work.resolve("bench-1.json").toString(), true)), 3600, null)) {
            if (loadOnly) {
                loadRows(mock, pem);
                printTable();
                return;
            }
            List<String> jbangGetToken = List.of(root.resolve("jbang").toString(), "get-token", "--api-key", API_KEY,
                    "--private-key", pem.toString(), "--token-url", mock.tokenUrl(), "--format", "token");
            List<String> pythonGetToken = python == null ? null : List.of(python, root.resolve("tests/python_reference.py").toString(),
                    "get-token", API_KEY, pem.toString(), "bench-1", mock.tokenUrl());
            Path fast = installFastPath();
            List<String> fastGetToken = fast == null ? null : List.of(fast.toString(), "get-token", "--api-key", API_KEY,
                    "--private-key", pem.toString(), "--token-url", mock.tokenUrl(), "--format", "token");

            log("get-token: " + runs + " runs each, alternating");
            Sample[] gt = alternate(runs, pythonGetToken, jbangGetToken, fastGetToken);
            ratioRow("get-token, warm ./jbang alias", gt[1], gt[0], "<= 1.0x wall");
            if (gt[2] != null) {
                ratioRow("get-token, fast path (scripts/install.sh)", gt[2], gt[0], "<= 0.5x wall");
            }
            memoryRow("get-token peak RSS, largest process (alias)", gt[1], gt[0]);
            if (gt[2] != null) {
                memoryRow("get-token peak RSS (fast path)", gt[2], gt[0]);
            }

            log("generate-keys: " + runs + " runs each, alternating");
            AtomicInteger kid = new AtomicInteger();
            Sample[] gk = alternateFresh(runs,
                    python == null ? null : () -> List.of(python, root.resolve("tests/python_reference.py").toString(),
                            "generate-keys", "py-" + kid.incrementAndGet(), work.toString()),
                    () -> List.of(root.resolve("jbang").toString(), "generate-keys", "--kid", "jb-" + kid.incrementAndGet(),
                            "--output-dir", work.toString()));
            ratioRow("generate-keys, 4096-bit, median", gk[1], gk[0], "<= 1.0x wall");

            tokenCacheRow(mock, pem);
            loadRows(mock, pem);
        }
        printTable();
    }

    // ------------------------------------------------------------------ command runs

    /** Wall times and peak resident set sizes of repeated runs of one command. */
    static final class Sample {
        final List<Double> seconds = new ArrayList<>();
        final List<Long> peakKb = new ArrayList<>();

        double median() {
            return medianOf(seconds);
        }

        double medianMb() {
            return peakKb.isEmpty() ? Double.NaN : medianOf(peakKb.stream().map(k -> k / 1024.0).toList());
        }
    }

    interface CommandLine {
        List<String> next();
    }

    Sample[] alternate(int n, List<String>... commands) throws Exception {
        CommandLine[] lines = new CommandLine[commands.length];
        for (int i = 0; i < commands.length; i++) {
            List<String> c = commands[i];
            lines[i] = c == null ? null : () -> c;
        }
        return alternateFresh(n, lines);
    }

    /** Two warm-up runs of each, then n rounds of A, B, C, ...: drift of the machine hits all alike. */
    Sample[] alternateFresh(int n, CommandLine... commands) throws Exception {
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

    /** Runs a command to completion; records wall time and, with GNU time, the largest process's peak RSS. */
    void time(List<String> command, Sample into) throws Exception {
        Path rss = work.resolve("rss.txt");
        List<String> full = new ArrayList<>();
        if (gnuTime) {
            full.addAll(List.of("/usr/bin/time", "-f", "%M", "-o", rss.toString()));
        }
        full.addAll(command);
        ProcessBuilder pb = new ProcessBuilder(full).directory(root.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(work.resolve("stderr.txt").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("NHS_"));
        long start = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + command);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (p.exitValue() != 0) {
            throw new IllegalStateException("exit " + p.exitValue() + " from " + command + ":\n"
                    + Files.readString(work.resolve("stderr.txt")));
        }
        if (into != null) {
            into.seconds.add(seconds);
            if (gnuTime) {
                into.peakKb.add(Long.parseLong(Files.readString(rss).trim()));
            }
        }
    }

    Path installFastPath() throws Exception {
        Path prefix = work.resolve("fast");
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

    void ratioRow(String what, Sample ours, Sample python, String target) {
        if (python == null) {
            rows.add(new String[] {what, fmt(ours.median()) + " s", "-", "-", target, "no Python column"});
            return;
        }
        double ratio = ours.median() / python.median();
        double limit = Double.parseDouble(target.replaceAll("[^0-9.]", ""));
        rows.add(new String[] {what, fmt(ours.median()) + " s", fmt(python.median()) + " s", fmt(ratio) + "x", target,
            ratio <= limit ? "met" : "missed"});
    }

    void memoryRow(String what, Sample ours, Sample python) {
        if (!gnuTime || python == null) {
            rows.add(new String[] {what, gnuTime ? fmt(ours.medianMb()) + " MiB" : "-", "-", "-", "<= 2.0x",
                gnuTime ? "no Python column" : "needs /usr/bin/time"});
            return;
        }
        double ratio = ours.medianMb() / python.medianMb();
        rows.add(new String[] {what, fmt(ours.medianMb()) + " MiB", fmt(python.medianMb()) + " MiB", fmt(ratio) + "x",
            "<= 2.0x", ratio <= 2.0 ? "met" : "missed"});
    }

    void tokenCacheRow(MockIdentityService mock, Path pem) throws Exception {
        List<String> call = List.of(root.resolve("jbang").toString(), "call-api", "--api-key", API_KEY, "--private-key",
                pem.toString(), "--token-url", mock.tokenUrl(), "--token-cache", "--token-cache-dir",
                work.resolve("token-cache").toString(), "--url", mock.baseUrl() + "/hello-world/hello/application");
        time(call, null);
        long before = mock.tokensIssued();
        time(call, null);
        long requests = mock.tokensIssued() - before;
        rows.add(new String[] {"second call-api with --token-cache", requests + " token requests", "-", "-", "0 requests",
            requests == 0 ? "met" : "missed"});
    }

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
            forms.add(NhsClient.tokenForm(f.get()));
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
                        Map<String, Object> json = answer[0].equals("200") ? NhsTokenAnswers.parseObject(answer[1]) : null;
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

    void printTable() {
        String[] head = {"what", "nhs-auth", "python", "ratio", "target", "verdict"};
        int[] width = new int[head.length];
        List<String[]> all = new ArrayList<>();
        all.add(head);
        all.addAll(rows);
        for (String[] r : all) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        System.out.println();
        System.out.println("nhs-auth benchmark, " + LocalDate.now() + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, medians of " + runs + " alternating runs");
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
    }

    // ------------------------------------------------------------------ small things

    static String pythonWithLibraries() {
        for (String python : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(python, "-c", "import jwt, requests, cryptography, sys; print(sys.version.split()[0])")
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                if (p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return python.equals("python3") ? "python3" : python;
                }
            } catch (IOException | InterruptedException e) {
                // try the next one
            }
        }
        return null;
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
