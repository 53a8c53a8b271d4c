///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87
//SOURCES NhsClient.java
//DESCRIPTION A local NHS identity service: the signed-JWT token endpoint and a protected sample API

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "mock-server", mixinStandardHelpOptions = true, sortOptions = false,
        version = "nhs-auth mock-server 1.0",
        description = {"Run a local NHS identity service: the signed-JWT token endpoint (POST /oauth2/token) "
                + "and a protected sample API (GET /hello-world/hello/application, any method on /echo/**).",
                "Client assertions are checked in the real endpoint's order and refused with its exact "
                        + "errors. Listens on loopback only unless --host says otherwise; stop it with Ctrl-C."},
        footer = {"%nExamples:", "  mock-server --app MY_API_KEY=int-1.json",
                "  mock-server --app MY_API_KEY=https://example.org/jwks.json --port 9001",
                "%nEnvironment: NHS_MOCK_PORT supplies --port.%n", NhsClient.ExitCode.TABLE})
public class MockServer implements Callable<Integer> {

    static final String TOKEN_PATH = "/oauth2/token";
    static final String HELLO_PATH = "/hello-world/hello/application";
    static final String ECHO_PATH = "/echo";
    static final int MAX_BODY_BYTES = 256 * 1024;
    static final int MAX_JWKS_BYTES = 1024 * 1024;
    static final Duration JWKS_FETCH_TIMEOUT = Duration.ofSeconds(5);
    /** The endpoint allows 310 s, not the documented 300, to forgive a little clock skew. */
    static final long MAX_EXP_AHEAD_MS = 310_000;
    static final long IAT_NBF_ALLOWANCE_MS = 10_000;
    static final long TOKEN_LIFETIME_MS = 600_000;

    @Spec
    CommandSpec spec;

    @Option(names = "--app", paramLabel = "API_KEY[=JWKS]",
            description = "Register an app with application-restricted access. JWKS is a file or an "
                    + "http(s) URL; without '=JWKS' the app has no public key. Repeat for more apps.")
    List<String> apps = new ArrayList<>();

    @Option(names = "--app-without-level-3", paramLabel = "API_KEY[=JWKS]",
            description = "Register an app that lacks application-restricted (level 3) access.")
    List<String> appsWithoutLevel3 = new ArrayList<>();

    @Option(names = "--port", paramLabel = "PORT",
            defaultValue = "${env:NHS_MOCK_PORT:-" + NhsClient.Environment.LOCAL_PORT + "}",
            description = "Port to listen on, 0 for any free one (default: ${DEFAULT-VALUE}, "
                    + "which --env local points at).")
    String port;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only).")
    String host;

    @Option(names = "--jwks-cache-seconds", paramLabel = "SECONDS", defaultValue = "3600",
            description = "How long a JWKS fetched from a URL is reused, as NHS does (default: ${DEFAULT-VALUE}).")
    String jwksCacheSeconds;

    @Option(names = "--verbose", description = "Log why each request was refused, and stack traces.")
    boolean verbose;

    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    volatile Server running;

    public static void main(String... args) {
        NhsClient.Cli.main(new MockServer(), args);
    }

    @Override
    public Integer call() throws Exception {
        List<App> registered = parseApps();
        int portNumber = parsePort(port);
        long cacheSeconds = parseCacheSeconds(jwksCacheSeconds);
        PrintWriter out = NhsClient.Cli.out(spec);
        Server server = start(host, portNumber, registered, cacheSeconds, NhsClient.Cli.err(spec), verbose);
        running = server;
        // Ctrl-C and SIGTERM run shutdown hooks, not finally blocks: the hook itself must close.
        Thread hook = new Thread(this::stop, "mock-server-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            out.println("mock-server listening on " + server.baseUrl());
            out.println("token endpoint: " + server.tokenUrl());
            for (App app : registered) {
                out.println("app " + app.apiKey() + ": " + (app.jwks() == null ? "no public key registered"
                        : "JWKS " + app.jwks()) + (app.level3() ? "" : " (no application-restricted access)"));
            }
            out.flush();
            stopped.await();
        } finally {
            stop();
            server.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook is what brought us here
            }
        }
        return NhsClient.ExitCode.OK;
    }

    /** Ends a running {@link #call()}: from the shutdown hook, or from a test. */
    void stop() {
        if (stopping.compareAndSet(false, true)) {
            Server server = running;
            if (server != null) {
                server.close();
                PrintWriter err = NhsClient.Cli.err(spec);
                err.println("mock-server stopped");
                err.flush();
            }
        }
        stopped.countDown();
    }

    // ------------------------------------------------------------------ command-line values

    private List<App> parseApps() {
        List<App> all = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String value : apps) {
            all.add(parseApp("--app", value, true, seen));
        }
        for (String value : appsWithoutLevel3) {
            all.add(parseApp("--app-without-level-3", value, false, seen));
        }
        if (all.isEmpty()) {
            throw new NhsClient.UsageException("no app registered: give --app API_KEY=JWKS (a JWKS file or "
                    + "URL), once per app");
        }
        return all;
    }

    static App parseApp(String option, String value, boolean level3, Set<String> seen) {
        int eq = value.indexOf('=');
        String apiKey = (eq < 0 ? value : value.substring(0, eq)).trim();
        String jwks = eq < 0 ? null : value.substring(eq + 1).trim();
        if (!apiKey.matches("[\\x21-\\x7E]{1,256}")) {
            throw new NhsClient.UsageException(option + " '" + value + "' has no usable API key: use "
                    + option + " API_KEY=JWKS, the key without spaces");
        }
        if (!seen.add(apiKey)) {
            throw new NhsClient.UsageException("API key '" + apiKey + "' is registered twice: give each app once");
        }
        if (jwks != null) {
            if (jwks.isEmpty()) {
                throw new NhsClient.UsageException(option + " '" + value + "' has nothing after '=': give a "
                        + "JWKS file or URL, or drop the '=' to register the app without a public key");
            }
            if (isUrl(jwks)) {
                checkJwksUrl(option, jwks);
            } else if (jwks.matches("(?i)^[a-z][a-z0-9+.-]*://.*")) {
                // Not a file either: Path.of would quietly turn ftp://host into ftp:/host.
                throw new NhsClient.UsageException(option + ": the JWKS URL '" + jwks + "' must start with "
                        + "https:// (or http:// for a local server)");
            } else {
                checkJwksFile(jwks);
            }
        }
        return new App(apiKey, jwks, level3);
    }

    private static void checkJwksUrl(String option, String url) {
        try {
            URI uri = new URI(url);
            if (uri.getHost() == null) {
                throw new URISyntaxException(url, "no host");
            }
        } catch (URISyntaxException e) {
            throw new NhsClient.UsageException(option + ": '" + url + "' is not a valid JWKS URL: use "
                    + "https://host/path/jwks.json");
        }
    }

    private static void checkJwksFile(String file) {
        try {
            NhsClient.readJwksFile(Path.of(file));
        } catch (InvalidPathException e) {
            throw new NhsClient.UsageException("JWKS file '" + file + "' is not a valid path: check it");
        }
    }

    static int parsePort(String value) {
        try {
            int p = Integer.parseInt(value.trim());
            if (p >= 0 && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new NhsClient.UsageException("--port '" + value + "' is not a port number: use 0-65535 "
                + "(0 picks any free port)");
    }

    static long parseCacheSeconds(String value) {
        try {
            long s = Long.parseLong(value.trim());
            if (s >= 0 && s <= 86_400 * 365L) {
                return s;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new NhsClient.UsageException("--jwks-cache-seconds '" + value + "' is not a number of seconds: "
                + "use 0 (fetch every time) up to a year; NHS uses 3600");
    }

    static boolean isUrl(String jwks) {
        String lower = jwks.toLowerCase(Locale.ROOT);
        return lower.startsWith("http://") || lower.startsWith("https://");
    }

    // ------------------------------------------------------------------ programmatic API

    /** An app as the NHS developer portal knows it: API key, registered JWKS, access level. */
    public record App(String apiKey, String jwks /* path or URL, null = no key registered */, boolean level3) {
    }

    /** Starts a server; {@code port} 0 picks a free port; {@code log} null is silent. */
    public static Server start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log)
            throws IOException {
        return start(host, port, apps, jwksCacheSeconds, log, false);
    }

    static Server start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log,
            boolean verbose) throws IOException {
        if (port < 0 || port > 65535) {
            throw new NhsClient.UsageException("port " + port + " is out of range: use 0-65535");
        }
        if (jwksCacheSeconds < 0) {
            throw new NhsClient.UsageException("JWKS cache of " + jwksCacheSeconds + " s: use 0 or more");
        }
        // The JDK server sends a reply's headers and body as two TCP segments; with Nagle's algorithm
        // on, the client's delayed ACK then adds ~40 ms to every reply (10x fewer token exchanges/s).
        // Read once, when the JVM's first HttpServer is created, so it must be set before that.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new NhsClient.UsageException("--host '" + host + "' cannot be resolved: use an IP address "
                    + "such as 127.0.0.1");
        }
        HttpServer http;
        try {
            http = HttpServer.create(address, 1024);
        } catch (BindException e) {
            if (String.valueOf(e.getMessage()).contains("in use")) {
                throw new NhsClient.UsageException("port " + port + " on " + host + " is already in use: stop "
                        + "the other server or choose another with --port (0 picks a free one)", e);
            }
            throw new NhsClient.UsageException("cannot listen on " + host + ":" + port + " (" + e.getMessage()
                    + "): use an address of this machine with --host, or another --port", e);
        }
        return new Server(http, host, Registry.of(apps, jwksCacheSeconds), log, verbose);
    }

    /** A running mock identity service; {@link #close()} stops it and its threads. */
    public static final class Server implements AutoCloseable {
        private final HttpServer http;
        private final String baseUrl;
        private final ExecutorService workers;
        private final ScheduledExecutorService sweeper;
        private final TokenEndpoint tokenEndpoint;
        private final SampleApi sampleApi;
        private final JtiRegister jtis = new JtiRegister();
        private final AccessTokens tokens = new AccessTokens();
        private final PrintWriter log;
        private final boolean verbose;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Server(HttpServer http, String host, Registry registry, PrintWriter log, boolean verbose) {
            this.http = http;
            this.log = log;
            this.verbose = verbose;
            String shownHost = host.contains(":") ? "[" + host + "]" : host;
            this.baseUrl = "http://" + shownHost + ":" + http.getAddress().getPort();
            this.tokenEndpoint = new TokenEndpoint(registry, jtis, tokens);
            this.sampleApi = new SampleApi(tokens);
            int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
            this.workers = Executors.newFixedThreadPool(threads, daemonThreads("mock-server-http"));
            this.sweeper = Executors.newSingleThreadScheduledExecutor(daemonThreads("mock-server-sweeper"));
            http.setExecutor(workers);
            http.createContext("/", this::handle);
            http.start();
            sweeper.scheduleWithFixedDelay(this::forgetExpired, 1, 1, TimeUnit.SECONDS);
        }

        public String baseUrl() {
            return baseUrl;
        }

        public String tokenUrl() {
            return baseUrl + TOKEN_PATH;
        }

        public int port() {
            return http.getAddress().getPort();
        }

        /** jtis still remembered; each is forgotten once its assertion's exp has passed. */
        public int rememberedJtiCount() {
            jtis.forgetExpired(System.currentTimeMillis());
            return jtis.size();
        }

        public int liveTokenCount() {
            tokens.forgetExpired(System.currentTimeMillis());
            return tokens.size();
        }

        /** Access tokens issued since start: how a test or benchmark sees that a token was reused. */
        public long tokensIssued() {
            return tokens.issued();
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            http.stop(0);
            sweeper.shutdownNow();
            workers.shutdown();
            try {
                if (!workers.awaitTermination(2, TimeUnit.SECONDS)) {
                    workers.shutdownNow();
                }
            } catch (InterruptedException e) {
                workers.shutdownNow();
                Thread.currentThread().interrupt();
            }
        }

        private void forgetExpired() {
            long now = System.currentTimeMillis();
            jtis.forgetExpired(now);
            tokens.forgetExpired(now);
        }

        private void handle(HttpExchange exchange) {
            long started = System.nanoTime();
            Reply reply;
            RequestBody body = new RequestBody(exchange);
            try {
                reply = route(exchange, body);
            } catch (Exception | StackOverflowError e) {
                // Anything unforeseen is the endpoint's row 27, never a dropped connection.
                reply = Reply.refusal(Refusal.UNKNOWN_ERROR, String.valueOf(e));
                if (verbose && log != null) {
                    e.printStackTrace(log);
                }
            }
            send(exchange, body, reply);
            if (log != null) {
                String path = exchange.getRequestURI().getRawPath();
                String line = exchange.getRequestMethod() + " " + (path == null ? "" : abbreviate(path, 200)) + " "
                        + reply.status() + " " + (System.nanoTime() - started) / 1_000_000 + " ms"
                        + (verbose && reply.note() != null ? " (" + reply.note() + ")" : "");
                log.println(line);
                log.flush();
            }
        }

        private Reply route(HttpExchange exchange, RequestBody body) throws IOException, GeneralSecurityException {
            String path = exchange.getRequestURI().getRawPath();
            if (TOKEN_PATH.equals(path)) {
                return tokenEndpoint.handle(exchange, body, baseUrl);
            }
            if (HELLO_PATH.equals(path)) {
                return sampleApi.hello(exchange);
            }
            if (path != null && (path.equals(ECHO_PATH) || path.startsWith(ECHO_PATH + "/"))) {
                return sampleApi.echo(exchange, body);
            }
            return Reply.refusal(Refusal.UNKNOWN_ROUTE, null);
        }

        private static void send(HttpExchange exchange, RequestBody requestBody, Reply reply) {
            try (exchange) {
                Headers request = exchange.getRequestHeaders();
                Headers response = exchange.getResponseHeaders();
                // Callers trace a request through NHS by these, so every answer carries them back.
                for (String name : List.of("X-Request-ID", "X-Correlation-ID")) {
                    String value = request.getFirst(name);
                    if (value != null) {
                        response.set(name, value);
                    }
                }
                reply.headers().forEach(response::set);
                if (!requestBody.finish()) {
                    // The JDK server drops a connection with an unread body; say so, or the client
                    // reuses a dead connection for its next request.
                    response.set("Connection", "close");
                }
                byte[] body = reply.body();
                boolean noBody = body.length == 0 || "HEAD".equals(exchange.getRequestMethod());
                exchange.sendResponseHeaders(reply.status(), noBody ? -1 : body.length);
                if (!noBody) {
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(body);
                    }
                }
            } catch (IOException clientWentAway) {
                // nothing to tell a client that is gone; the log line still records the status
            }
        }
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...";
    }

    // ------------------------------------------------------------------ replies and refusals

    /** The token endpoint's refusals, in its order of checking: first failure wins. */
    enum Refusal {
        UNKNOWN_ROUTE(1, 404, "invalid_request", "Not Found"),
        WRONG_CONTENT_TYPE(3, 415, "invalid_request",
                "Content-Type header must be application/x-www-form-urlencoded"),
        GRANT_TYPE_MISSING(4, 400, "invalid_request", "grant_type is missing"),
        GRANT_TYPE_INVALID(5, 400, "unsupported_grant_type", "grant_type is invalid"),
        ASSERTION_TYPE_INVALID(6, 400, "invalid_request", "Missing or invalid client_assertion_type - must be "
                + "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'"),
        ASSERTION_MISSING(7, 400, "invalid_request", "Missing client_assertion"),
        MALFORMED_JWT(8, 400, "invalid_request", "Malformed JWT in client_assertion"),
        ALG_NOT_RS512(9, 400, "invalid_request",
                "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'"),
        EXP_PASSED(10, 400, "invalid_request", "Invalid 'exp' claim in client_assertion JWT - JWT has expired"),
        KID_MISSING(11, 400, "invalid_request", "Missing 'kid' header in client_assertion JWT"),
        TYP_INVALID(12, 400, "invalid_request", "Invalid 'typ' header in client_assertion JWT - must be 'JWT'"),
        EXP_MISSING(13, 400, "invalid_request", "Missing 'exp' claim in client_assertion JWT"),
        EXP_NOT_NUMBER(14, 400, "invalid_request", "Invalid 'exp' claim in client_assertion JWT - must be an integer"),
        ISS_SUB_INVALID(15, 400, "invalid_request",
                "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT"),
        JTI_MISSING(16, 400, "invalid_request", "Missing 'jti' claim in client_assertion JWT"),
        JTI_NOT_STRING(17, 400, "invalid_request",
                "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID"),
        JTI_REUSED(18, 400, "invalid_request", "Non-unique 'jti' claim in client_assertion JWT"),
        EXP_TOO_FAR(19, 400, "invalid_request",
                "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future"),
        UNKNOWN_APP(20, 401, "invalid_request", "Invalid 'iss'/'sub' claims in client_assertion JWT"),
        NO_PUBLIC_KEY(21, 403, "public_key error", "You need to register a public key to use this "
                + "authentication method - please contact support to configure"),
        JWKS_UNREACHABLE(22, 403, "public_key error", "The JWKS endpoint, for your client_assertion can't be reached"),
        NO_MATCHING_KID(23, 401, "invalid_request",
                "Invalid 'kid' header in client_assertion JWT - no matching public key"),
        SIGNATURE_INVALID(24, 401, "public_key error", "JWT signature verification failed"),
        AUD_INVALID(25, 401, "invalid_request", "Missing or invalid 'aud' claim in client_assertion JWT"),
        NOT_LEVEL_3(26, 401, "unauthorized_client", "you have tried to request authorization but your "
                + "application is not configured to use this authorization grant type"),
        UNKNOWN_ERROR(27, 500, "unknown_error", "An unknown error occurred processing this request. Contact us "
                + "for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support "
                + "quoting Message ID"),
        /** Not in the reference table: our own guard, in the same shape. */
        BODY_TOO_LARGE(0, 413, "invalid_request", "Request body too large");

        final int row;
        final int status;
        final String error;
        final String description;

        Refusal(int row, int status, String error, String description) {
            this.row = row;
            this.status = status;
            this.error = error;
            this.description = description;
        }
    }

    /** Validation stops at the first failed check; no stack trace, it is not a fault. */
    static final class Refused extends Exception {
        final Refusal refusal;
        final String detail;

        Refused(Refusal refusal, String detail) {
            super(refusal.description, null, false, false);
            this.refusal = refusal;
            this.detail = detail;
        }

        Refused(Refusal refusal) {
            this(refusal, null);
        }
    }

    /** One whole answer, built before anything is sent so that a late fault can still become row 27. */
    record Reply(int status, Map<String, String> headers, byte[] body, String note) {
        private static final AtomicLong SEQUENCE = new AtomicLong();

        static Reply json(int status, Map<String, ?> members, String note) {
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Content-Type", "application/json");
            headers.put("Cache-Control", "no-store");
            return new Reply(status, headers,
                    JSONObjectUtils.toJSONString(members).getBytes(StandardCharsets.UTF_8), note);
        }

        static Reply error(int status, String error, String description, String note) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("error", error);
            body.put("error_description", description);
            body.put("message_id", messageId());
            return json(status, body, note == null ? description : note);
        }

        static Reply refusal(Refusal r, String detail) {
            String note = "row " + r.row + ": " + r.description + (detail == null ? "" : " [" + detail + "]");
            return error(r.status, r.error, r.description, note);
        }

        static Reply empty(int status, String header, String value) {
            return new Reply(status, Map.of(header, value), new byte[0], null);
        }

        /** Shaped like Apigee's message ids, which NHS support asks for. */
        static String messageId() {
            return "rrt-" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()) + "-"
                    + SEQUENCE.incrementAndGet();
        }
    }

    /**
     * One request's body. Read at most once and at most {@code MAX_BODY_BYTES}; whatever a handler
     * left unread is dropped before the reply, because the JDK server closes a connection whose
     * body is not at its end, and a client then reuses a dead connection.
     */
    static final class RequestBody {
        /** Up to this much unread body is read and dropped; more is left unread and the connection closed. */
        static final long DISCARD_LIMIT = 1024 * 1024;

        private final HttpExchange exchange;
        private boolean atEnd;

        RequestBody(HttpExchange exchange) {
            this.exchange = exchange;
        }

        private long declaredLength() {
            String declared = exchange.getRequestHeaders().getFirst("Content-Length");
            try {
                return declared == null ? -1 : Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        /** The body, or null when it is larger than {@code MAX_BODY_BYTES}: then not read it all. */
        byte[] read() throws IOException {
            if (declaredLength() > MAX_BODY_BYTES) {
                return null;
            }
            // Not closed: closing makes the server drain it, and finish() may drop the rest itself.
            byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) {
                return null;
            }
            atEnd = true;
            return body;
        }

        /** False when the rest is too big to drop, or could not be: the connection must then close. */
        boolean finish() {
            Headers request = exchange.getRequestHeaders();
            if (atEnd || (!request.containsKey("Content-Length") && !request.containsKey("Transfer-Encoding"))) {
                return true;
            }
            if (declaredLength() > DISCARD_LIMIT) {
                return false;
            }
            try {
                InputStream in = exchange.getRequestBody();
                byte[] buffer = new byte[16 * 1024];
                long dropped = 0;
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    dropped += n;
                    if (dropped > DISCARD_LIMIT) {
                        return false;
                    }
                }
                return true;
            } catch (IOException e) {
                return false;
            }
        }
    }

    // ------------------------------------------------------------------ the token endpoint

    /** POST /oauth2/token: a client assertion in, an access token out. */
    static final class TokenEndpoint {
        private final Registry registry;
        private final JtiRegister jtis;
        private final AccessTokens tokens;

        TokenEndpoint(Registry registry, JtiRegister jtis, AccessTokens tokens) {
            this.registry = registry;
            this.jtis = jtis;
            this.tokens = tokens;
        }

        Reply handle(HttpExchange exchange, RequestBody requestBody, String fallbackBase)
                throws IOException, GeneralSecurityException {
            if (!"POST".equals(exchange.getRequestMethod())) {
                return Reply.empty(405, "Allow", "POST");
            }
            // Compared as a plain string, as the reference infers: a charset suffix is refused.
            if (!NhsClient.FORM_CONTENT_TYPE.equals(exchange.getRequestHeaders().getFirst("Content-Type"))) {
                return Reply.refusal(Refusal.WRONG_CONTENT_TYPE, null);
            }
            byte[] body = requestBody.read();
            if (body == null) {
                return Reply.refusal(Refusal.BODY_TOO_LARGE, null);
            }
            String host = exchange.getRequestHeaders().getFirst("Host");
            // The aud must be the URL the client posted to, as it wrote it.
            String tokenUrl = host == null ? fallbackBase + TOKEN_PATH : "http://" + host + TOKEN_PATH;
            try {
                return grant(Form.parse(new String(body, StandardCharsets.UTF_8)), tokenUrl,
                        System.currentTimeMillis());
            } catch (Refused r) {
                return Reply.refusal(r.refusal, r.detail);
            }
        }

        private Reply grant(Map<String, String> form, String tokenUrl, long now)
                throws Refused, GeneralSecurityException {
            String grantType = form.get("grant_type");
            if (grantType == null || grantType.isEmpty()) {
                throw new Refused(Refusal.GRANT_TYPE_MISSING);
            }
            if (!"client_credentials".equals(grantType)) {
                throw new Refused(Refusal.GRANT_TYPE_INVALID);
            }
            if (!NhsClient.ASSERTION_TYPE.equals(form.get("client_assertion_type"))) {
                throw new Refused(Refusal.ASSERTION_TYPE_INVALID);
            }
            String jwt = form.get("client_assertion");
            if (jwt == null || jwt.isEmpty()) {
                throw new Refused(Refusal.ASSERTION_MISSING);
            }
            ClientAssertion assertion = ClientAssertion.decode(jwt);
            assertion.checkClaims(now);
            // Burnt here, before the app and its keys are looked at, as the real endpoint does:
            // a replayed assertion is refused even if its first use failed a later check.
            jtis.burn(assertion.subject(), assertion.jti(), assertion.expMillis(), now);

            Registry.Registration app = registry.app(assertion.subject());
            if (app == null) {
                throw new Refused(Refusal.UNKNOWN_APP);
            }
            if (app.jwks() == null) {
                throw new Refused(Refusal.NO_PUBLIC_KEY);
            }
            Map<String, RSAPublicKey> keys;
            try {
                keys = app.jwks().keysByKid();
            } catch (JwksUnavailable e) {
                throw new Refused(Refusal.JWKS_UNREACHABLE, e.getMessage());
            }
            RSAPublicKey key = assertion.kid() == null ? null : keys.get(assertion.kid());
            if (key == null) {
                throw new Refused(Refusal.NO_MATCHING_KID);
            }
            assertion.verifySignature(key, now);
            if (!assertion.isFor(tokenUrl)) {
                throw new Refused(Refusal.AUD_INVALID, "expected aud " + tokenUrl);
            }
            if (!app.level3()) {
                throw new Refused(Refusal.NOT_LEVEL_3);
            }
            return issue(form.get("_access_token_expiry_ms"), now);
        }

        private Reply issue(String requestedLifetime, long now) {
            long lifetime = TOKEN_LIFETIME_MS;
            if (requestedLifetime != null) {
                try {
                    long requested = Long.parseLong(requestedLifetime.trim());
                    if (requested > 0) {
                        lifetime = Math.min(requested, TOKEN_LIFETIME_MS);
                    }
                } catch (NumberFormatException ignored) {
                    // a test-only knob: nonsense leaves the normal lifetime
                }
            }
            String token = tokens.issue(now, lifetime);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("access_token", token);
            // 600 s shows as "599", as NHS shows it; a shortened lifetime never shows as 0.
            body.put("expires_in", Long.toString(Math.max(1, (lifetime - 1) / 1000)));
            body.put("token_type", "Bearer");
            body.put("issued_at", Long.toString(now));
            return Reply.json(200, body, null);
        }
    }

    /**
     * A form body. Duplicate fields: the first value wins, as Apigee's {@code request.formparam.x}
     * returns the first; a field that cannot be percent-decoded is kept as sent (it then fails its
     * own check instead of becoming a 500).
     */
    static final class Form {
        private Form() {
        }

        static Map<String, String> parse(String body) {
            Map<String, String> fields = new HashMap<>();
            for (String pair : body.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                fields.putIfAbsent(name, value);
            }
            return fields;
        }

        private static String decode(String s) {
            try {
                return URLDecoder.decode(s, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return s;
            }
        }
    }

    /** The signed JWT a client sends instead of a secret; decoded but not yet trusted. */
    static final class ClientAssertion {
        private static final ThreadLocal<Signature> RS512 = ThreadLocal.withInitial(() -> {
            try {
                return Signature.getInstance("SHA512withRSA");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("this JDK lacks SHA512withRSA", e);
            }
        });

        private final Map<String, Object> header;
        private final Map<String, Object> claims;
        private final byte[] signingInput;
        private final byte[] signature;

        private ClientAssertion(Map<String, Object> header, Map<String, Object> claims, byte[] signingInput,
                byte[] signature) {
            this.header = header;
            this.claims = claims;
            this.signingInput = signingInput;
            this.signature = signature;
        }

        /** Row 8: three base64url parts, the first two UTF-8 JSON objects. */
        static ClientAssertion decode(String jwt) throws Refused {
            int dot1 = jwt.indexOf('.');
            int dot2 = dot1 < 0 ? -1 : jwt.indexOf('.', dot1 + 1);
            if (dot2 < 0 || jwt.indexOf('.', dot2 + 1) >= 0) {
                throw new Refused(Refusal.MALFORMED_JWT, "not three dot-separated parts");
            }
            try {
                Map<String, Object> header = jsonObject(jwt.substring(0, dot1));
                Map<String, Object> claims = jsonObject(jwt.substring(dot1 + 1, dot2));
                byte[] signature = Base64.getUrlDecoder().decode(jwt.substring(dot2 + 1));
                return new ClientAssertion(header, claims,
                        jwt.substring(0, dot2).getBytes(StandardCharsets.US_ASCII), signature);
            } catch (java.text.ParseException | CharacterCodingException | RuntimeException
                     | StackOverflowError e) {
                throw new Refused(Refusal.MALFORMED_JWT, e.getClass().getSimpleName());
            }
        }

        private static Map<String, Object> jsonObject(String part)
                throws java.text.ParseException, CharacterCodingException {
            byte[] bytes = Base64.getUrlDecoder().decode(part);
            String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            Map<String, Object> object = JSONObjectUtils.parse(text);
            if (object == null) {
                throw new java.text.ParseException("null is not a JSON object", 0);
            }
            return object;
        }

        /** Rows 9 to 17, in the reference's order (rows 18 and 19 need the jti register). */
        void checkClaims(long now) throws Refused {
            if (!"RS512".equals(header.get("alg"))) {
                throw new Refused(Refusal.ALG_NOT_RS512);
            }
            Object exp = claims.get("exp");
            if (exp instanceof Number n && n.doubleValue() * 1000 < now) {
                throw new Refused(Refusal.EXP_PASSED);
            }
            Object kid = header.get("kid");
            if (kid == null || "".equals(kid)) {
                throw new Refused(Refusal.KID_MISSING);
            }
            if (!(header.get("typ") instanceof String typ && typ.equalsIgnoreCase("JWT"))) {
                throw new Refused(Refusal.TYP_INVALID);
            }
            if (exp == null) {
                throw new Refused(Refusal.EXP_MISSING);
            }
            if (!(exp instanceof Number)) {
                throw new Refused(Refusal.EXP_NOT_NUMBER);
            }
            if (!(claims.get("iss") instanceof String iss && !iss.isEmpty() && iss.equals(claims.get("sub")))) {
                throw new Refused(Refusal.ISS_SUB_INVALID);
            }
            Object jti = claims.get("jti");
            if (jti == null) {
                throw new Refused(Refusal.JTI_MISSING);
            }
            if (!(jti instanceof String s) || s.isEmpty()) {
                throw new Refused(Refusal.JTI_NOT_STRING);
            }
        }

        String subject() {
            return (String) claims.get("sub");
        }

        String jti() {
            return (String) claims.get("jti");
        }

        /** A kid that is not a string can match no key: there is no such thing as a non-string kid. */
        String kid() {
            return header.get("kid") instanceof String s ? s : null;
        }

        double expMillis() {
            return ((Number) claims.get("exp")).doubleValue() * 1000;
        }

        /**
         * Row 24, with iat and nbf. They are optional and allowed 10 s of clock skew; one further
         * ahead fails here because the real endpoint checks them in the same Apigee VerifyJWT step
         * that checks the signature (inferred), so the jti is burnt first, as with a bad signature.
         */
        void verifySignature(RSAPublicKey key, long now) throws Refused, GeneralSecurityException {
            Signature verifier = RS512.get();
            verifier.initVerify(key);
            verifier.update(signingInput);
            boolean valid;
            try {
                valid = verifier.verify(signature);
            } catch (SignatureException wrongLength) {
                valid = false;
            }
            if (!valid) {
                throw new Refused(Refusal.SIGNATURE_INVALID);
            }
            for (String claim : List.of("iat", "nbf")) {
                if (claims.get(claim) instanceof Number n && n.doubleValue() * 1000 > now + IAT_NBF_ALLOWANCE_MS) {
                    throw new Refused(Refusal.SIGNATURE_INVALID, "'" + claim + "' is more than 10 s in the future");
                }
            }
        }

        /** Row 25: aud as the token URL, or a JSON array holding it (RFC 7519 allows both). */
        boolean isFor(String tokenUrl) {
            Object aud = claims.get("aud");
            return tokenUrl.equals(aud) || (aud instanceof List<?> list && list.contains(tokenUrl));
        }
    }

    /**
     * The jtis each app has used. NHS remembers them for 30 days; we forget one once its
     * assertion's exp has passed, since row 10 already refuses any replay of that assertion.
     */
    static final class JtiRegister {
        private record Used(String sub, String jti) {
        }

        private final ConcurrentHashMap<Used, Long> forgetAfter = new ConcurrentHashMap<>();

        /** Rows 18 and 19; on success the jti is burnt for this sub. */
        void burn(String sub, String jti, double expMillis, long now) throws Refused {
            Used used = new Used(sub, jti);
            Long previous = forgetAfter.get(used);
            if (previous != null && previous >= now) {
                throw new Refused(Refusal.JTI_REUSED);
            }
            if (expMillis > now + MAX_EXP_AHEAD_MS) {
                throw new Refused(Refusal.EXP_TOO_FAR);
            }
            long until = (long) Math.ceil(expMillis);
            boolean[] reused = {false};
            forgetAfter.compute(used, (k, old) -> {
                if (old != null && old >= now) {
                    reused[0] = true;
                    return old;
                }
                return until;
            });
            if (reused[0]) {
                throw new Refused(Refusal.JTI_REUSED, "lost a race with a concurrent request");
            }
        }

        void forgetExpired(long now) {
            forgetAfter.values().removeIf(until -> until < now);
        }

        int size() {
            return forgetAfter.size();
        }
    }

    /** Issued access tokens and when each expires. */
    static final class AccessTokens {
        enum Check { VALID, EXPIRED, UNKNOWN }

        private static final SecureRandom RANDOM = new SecureRandom();
        private final ConcurrentHashMap<String, Long> expiresAt = new ConcurrentHashMap<>();
        private final AtomicLong issued = new AtomicLong();

        /** 168 random bits: 28 URL-safe characters, the length NHS tokens have. */
        String issue(long now, long lifetimeMs) {
            byte[] bytes = new byte[21];
            RANDOM.nextBytes(bytes);
            String token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
            expiresAt.put(token, now + lifetimeMs);
            issued.incrementAndGet();
            return token;
        }

        Check check(String token, long now) {
            Long until = expiresAt.get(token);
            return until == null ? Check.UNKNOWN : until > now ? Check.VALID : Check.EXPIRED;
        }

        void forgetExpired(long now) {
            expiresAt.values().removeIf(until -> until <= now);
        }

        int size() {
            return expiresAt.size();
        }

        long issued() {
            return issued.get();
        }
    }

    // ------------------------------------------------------------------ apps and their JWKS

    /** The registered apps by API key, each with its JWKS source. */
    static final class Registry {
        record Registration(App app, Jwks jwks) {
            boolean level3() {
                return app.level3();
            }
        }

        private final Map<String, Registration> byApiKey;

        private Registry(Map<String, Registration> byApiKey) {
            this.byApiKey = byApiKey;
        }

        static Registry of(List<App> apps, long cacheSeconds) {
            Map<String, Registration> byKey = new HashMap<>();
            HttpClient client = null;
            for (App app : apps) {
                Jwks jwks = null;
                if (app.jwks() != null && isUrl(app.jwks())) {
                    if (client == null) {
                        client = HttpClient.newBuilder()
                                .version(HttpClient.Version.HTTP_1_1)
                                .connectTimeout(JWKS_FETCH_TIMEOUT)
                                .followRedirects(HttpClient.Redirect.NEVER)
                                .proxy(ProxySelector.getDefault())
                                .build();
                    }
                    jwks = new JwksUrl(URI.create(app.jwks()), cacheSeconds, client);
                } else if (app.jwks() != null) {
                    jwks = new JwksFile(Path.of(app.jwks()));
                }
                if (byKey.putIfAbsent(app.apiKey(), new Registration(app, jwks)) != null) {
                    throw new NhsClient.UsageException("API key '" + app.apiKey() + "' is registered twice: "
                            + "give each app once");
                }
            }
            return new Registry(Map.copyOf(byKey));
        }

        Registration app(String apiKey) {
            return byApiKey.get(apiKey);
        }
    }

    /** Why an app's keys cannot be had right now: the endpoint's row 22. */
    static final class JwksUnavailable extends Exception {
        JwksUnavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * An app's public keys by kid. Only RSA keys with a kid can ever match; a key that cannot be
     * turned into a public key is skipped, so it simply matches no kid (row 23). A document that is
     * not a JWKS at all counts as unreachable (row 22), not as "no matching key": the endpoint never
     * got keys to compare the kid with, and row 23 would send the user checking the wrong thing.
     */
    interface Jwks {
        Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable;

        static Map<String, RSAPublicKey> parse(byte[] document, String source) throws JwksUnavailable {
            try {
                String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(document)).toString();
                Map<String, RSAPublicKey> keys = new HashMap<>();
                for (JWK jwk : JWKSet.parse(text).getKeys()) {
                    if (jwk instanceof RSAKey rsa && rsa.getKeyID() != null) {
                        try {
                            keys.putIfAbsent(rsa.getKeyID(), rsa.toRSAPublicKey());
                        } catch (JOSEException unusable) {
                            // skipped: see above
                        }
                    }
                }
                return Map.copyOf(keys);
            } catch (java.text.ParseException | CharacterCodingException | RuntimeException e) {
                throw new JwksUnavailable(source + " is not a JWKS (" + e.getMessage() + ")");
            }
        }
    }

    /** A JWKS file, as if uploaded on the portal: re-read only when its time or size changes. */
    static final class JwksFile implements Jwks {
        private record Snapshot(FileTime modified, long size, Map<String, RSAPublicKey> keys, String problem) {
        }

        private final Path path;
        private volatile Snapshot snapshot;

        JwksFile(Path path) {
            this.path = path;
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(path, BasicFileAttributes.class);
            } catch (IOException e) {
                throw new JwksUnavailable("cannot read JWKS file " + path + " (" + e + ")");
            }
            Snapshot s = snapshot;
            if (s == null || !s.modified().equals(attributes.lastModifiedTime()) || s.size() != attributes.size()) {
                s = load(attributes);
                snapshot = s;
            }
            if (s.keys() == null) {
                throw new JwksUnavailable(s.problem());
            }
            return s.keys();
        }

        private Snapshot load(BasicFileAttributes attributes) throws JwksUnavailable {
            FileTime modified = attributes.lastModifiedTime();
            if (attributes.size() > MAX_JWKS_BYTES) {
                return new Snapshot(modified, attributes.size(), null, "JWKS file " + path + " is over 1 MiB");
            }
            byte[] document;
            try {
                document = Files.readAllBytes(path);
            } catch (IOException e) {
                throw new JwksUnavailable("cannot read JWKS file " + path + " (" + e + ")");
            }
            try {
                return new Snapshot(modified, attributes.size(), Jwks.parse(document, path.toString()), null);
            } catch (JwksUnavailable e) {
                return new Snapshot(modified, attributes.size(), null, e.getMessage());
            }
        }
    }

    /** A JWKS URL, fetched as APIM fetches it and then reused for the cache period, even for an unknown kid. */
    static final class JwksUrl implements Jwks {
        private record Fetched(long atNanos, Map<String, RSAPublicKey> keys) {
        }

        private final URI uri;
        private final long cacheNanos;
        private final HttpClient client;
        private final Object fetching = new Object();
        private volatile Fetched fetched;

        JwksUrl(URI uri, long cacheSeconds, HttpClient client) {
            this.uri = uri;
            this.cacheNanos = TimeUnit.SECONDS.toNanos(cacheSeconds);
            this.client = client;
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            Fetched f = fetched;
            if (fresh(f)) {
                return f.keys();
            }
            // One fetch at a time: a burst of token requests must not become a burst of fetches.
            synchronized (fetching) {
                f = fetched;
                if (fresh(f)) {
                    return f.keys();
                }
                Map<String, RSAPublicKey> keys = Jwks.parse(fetch(), uri.toString());
                fetched = new Fetched(System.nanoTime(), keys);
                return keys;
            }
        }

        private boolean fresh(Fetched f) {
            return f != null && System.nanoTime() - f.atNanos() < cacheNanos;
        }

        private byte[] fetch() throws JwksUnavailable {
            HttpRequest request = HttpRequest.newBuilder(uri)
                    .timeout(JWKS_FETCH_TIMEOUT)
                    .header("User-Agent", "APIM")
                    .header("Accept", "application/json")
                    .GET()
                    .build();
            CompletableFuture<HttpResponse<byte[]>> call =
                    client.sendAsync(request, info -> new LimitedBody(MAX_JWKS_BYTES));
            HttpResponse<byte[]> response;
            try {
                // A bound on the whole exchange: the request timeout covers only the headers.
                response = call.get(JWKS_FETCH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                call.cancel(true);
                throw new JwksUnavailable(uri + " did not answer within " + JWKS_FETCH_TIMEOUT.toSeconds() + " s");
            } catch (ExecutionException e) {
                throw new JwksUnavailable("cannot fetch " + uri + " (" + e.getCause() + ")");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new JwksUnavailable("interrupted fetching " + uri);
            }
            if (response.statusCode() != 200) {
                throw new JwksUnavailable(uri + " answered HTTP " + response.statusCode());
            }
            return response.body();
        }
    }

    /** A response body collected up to a size limit; a larger one fails instead of filling memory. */
    static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final int limit;
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        LimitedBody(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer item : items) {
                if (body.isDone()) {
                    return;
                }
                if (buffer.size() + item.remaining() > limit) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("JWKS larger than " + limit + " bytes"));
                    return;
                }
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                buffer.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(buffer.toByteArray());
        }
    }

    // ------------------------------------------------------------------ the protected sample API

    /** What an access token unlocks: NHS's hello-world sample and an echo for inspecting requests. */
    static final class SampleApi {
        private final AccessTokens tokens;

        SampleApi(AccessTokens tokens) {
            this.tokens = tokens;
        }

        Reply hello(HttpExchange exchange) {
            String method = exchange.getRequestMethod();
            if (!"GET".equals(method) && !"HEAD".equals(method)) {
                return Reply.empty(405, "Allow", "GET");
            }
            Reply denied = authorise(exchange);
            return denied != null ? denied : Reply.json(200, Map.of("message", "Hello Application!"), null);
        }

        Reply echo(HttpExchange exchange, RequestBody requestBody) throws IOException {
            Reply denied = authorise(exchange);
            if (denied != null) {
                return denied;
            }
            byte[] body = requestBody.read();
            if (body == null) {
                return Reply.refusal(Refusal.BODY_TOO_LARGE, null);
            }
            Map<String, String> headers = new TreeMap<>();
            exchange.getRequestHeaders().forEach((name, values) -> headers.put(name,
                    name.equalsIgnoreCase("Authorization") ? redact(values) : String.join(", ", values)));
            URI uri = exchange.getRequestURI();
            Map<String, Object> echoed = new LinkedHashMap<>();
            echoed.put("method", exchange.getRequestMethod());
            echoed.put("path", uri.getRawPath());
            echoed.put("query", uri.getRawQuery() == null ? "" : uri.getRawQuery());
            echoed.put("headers", headers);
            echoed.put("body", new String(body, StandardCharsets.UTF_8));
            return Reply.json(200, echoed, null);
        }

        private static String redact(List<String> values) {
            return values.stream().anyMatch(v -> v.regionMatches(true, 0, "Bearer ", 0, 7)) ? "Bearer ****" : "****";
        }

        /** Null when the bearer token is live; else the 401 to send. */
        private Reply authorise(HttpExchange exchange) {
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            String problem;
            if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                    || authorization.substring(7).isBlank()) {
                problem = "Missing access token: send 'Authorization: Bearer <access token>'";
            } else {
                switch (tokens.check(authorization.substring(7).trim(), System.currentTimeMillis())) {
                    case VALID:
                        return null;
                    case EXPIRED:
                        problem = "Access token expired: get a new one from " + TOKEN_PATH;
                        break;
                    default:
                        problem = "Invalid access token";
                }
            }
            Reply reply = Reply.error(401, "invalid_token", problem, null);
            Map<String, String> headers = new LinkedHashMap<>(reply.headers());
            headers.put("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return new Reply(reply.status(), headers, reply.body(), reply.note());
        }
    }
}
