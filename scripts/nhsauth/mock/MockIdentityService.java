//SOURCES ../client/NhsClient.java
//SOURCES MockTokenEndpoint.java
//SOURCES MockAccessTokens.java
//SOURCES MockJwks.java
//SOURCES MockTokenExchange.java
//SOURCES MockRequestLog.java

package nhsauth.mock;

import nhsauth.client.*;
import nhsauth.mock.MockTokenEndpoint.Refusal;

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.*;

/**
 * A local NHS identity service as an engine, for mock-server, the demo and the tests: the signed-JWT token endpoint
 * (POST /oauth2/token) with the exact errors of the real one, the token exchange of an ID token with a test issuer of
 * ID tokens, and a sample API: Hello World and an echo. {@link #start} runs one; {@link #close()} stops it.
 */
public final class MockIdentityService implements AutoCloseable {
    static final String TOKEN_PATH = "/oauth2/token";
    static final String HELLO_PATH = "/hello-world/hello/application";
    static final String HELLO_WORLD_PATH = "/hello-world/hello/world";
    static final String ECHO_PATH = "/echo";
    static final int MAX_BODY_BYTES = 256 * 1024;
    static final int READ_TIMEOUT_SECONDS = 10;

    /** An app as the NHS developer portal knows it: API key, registered JWKS, access level. */
    public record App(String apiKey, String jwks /* path or URL, null = no key registered */, boolean level3) {
    }

    /** Starts a server; {@code port} 0 picks a free port; {@code log} null is silent. */
    public static MockIdentityService start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log)
            throws IOException {
        return start(host, port, apps, jwksCacheSeconds, log, false, List.of());
    }

    /** {@code idTokenJwks}: the JWKS files or URLs of ID-token issuers trusted besides the mock's own test issuer. */
    public static MockIdentityService start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log,
            boolean verbose, List<String> idTokenJwks) throws IOException {
        if (jwksCacheSeconds < 0) {
            throw new IllegalArgumentException("JWKS cache of " + jwksCacheSeconds + " s: use 0 or more");
        }
        // Read once, at the JVM's first HttpServer. Headers and body go as two TCP segments: with Nagle's algorithm
        // the client's delayed ACK adds ~40 ms to every reply. A client slow to send may hold a worker, not forever.
        System.getProperties().putIfAbsent("sun.net.httpserver.nodelay", "true");
        System.getProperties().putIfAbsent("sun.net.httpserver.maxReqTime", String.valueOf(READ_TIMEOUT_SECONDS));
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new UsageException("--host '" + host + "' cannot be resolved: use an IP address "
                    + "such as 127.0.0.1");
        }
        HttpServer http;
        try {
            http = HttpServer.create(address, 1024);
        } catch (BindException e) {
            if (String.valueOf(e.getMessage()).contains("in use")) {
                throw new UsageException("port " + port + " on " + host + " is already in use: stop "
                        + "the other server or choose another with --port (0 picks a free one)", e);
            }
            throw new UsageException("cannot listen on " + host + ":" + port + " (" + e.getMessage()
                    + "): use an address of this machine with --host, or another --port", e);
        }
        MockTokenExchange exchanges = new MockTokenExchange(idTokenJwks.stream()
                .map(jwks -> new MockJwks.Jwks(jwks, jwksCacheSeconds)).toList());
        return new MockIdentityService(http, host, MockJwks.registry(apps, jwksCacheSeconds), exchanges, log, verbose);
    }

    private final HttpServer http;
    private final String baseUrl;
    private final ExecutorService workers;
    private final ScheduledExecutorService sweeper;
    private final MockTokenEndpoint tokenEndpoint;
    private final SampleApi sampleApi;
    private final MockTokenEndpoint.JtiRegister jtis = new MockTokenEndpoint.JtiRegister();
    private final MockAccessTokens tokens = new MockAccessTokens();
    private final MockRequestLog requests = new MockRequestLog();
    private final PrintWriter log;
    private final boolean verbose;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MockIdentityService(HttpServer http, String host, Map<String, MockJwks.Registration> registry,
            MockTokenExchange exchanges, PrintWriter log, boolean verbose) {
        this.http = http;
        this.log = log;
        this.verbose = verbose;
        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        this.baseUrl = "http://" + shownHost + ":" + http.getAddress().getPort();
        this.tokenEndpoint = new MockTokenEndpoint(registry, jtis, tokens, exchanges);
        this.sampleApi = new SampleApi(tokens, registry);
        // A worker per request under way: one waiting on a slow client or a JWKS URL holds no one else up.
        this.workers = Executors.newCachedThreadPool(daemonThreads("mock-server-http"));
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
        String path = exchange.getRequestURI().getRawPath();
        // Listed before the answer goes out, so a client that has its answer finds it on the page.
        // The page's own requests (it refreshes itself) would push out the ones it is there to show.
        if (path == null || !path.startsWith("/_mock/")) {
            requests.record(exchange, System.currentTimeMillis(), body.bytes, reply);
        }
        send(exchange, body, reply);
        if (log != null) {
            log.println(loggable(exchange.getRequestMethod(), 20) + " " + loggable(path == null ? "" : path, 200) + " "
                    + reply.status() + " " + (System.nanoTime() - started) / 1_000_000 + " ms"
                    + (verbose && reply.note() != null ? " (" + loggable(reply.note(), 500) + ")" : ""));
            log.flush();
        }
    }

    private Reply route(HttpExchange exchange, RequestBody body) throws Exception {
        String path = String.valueOf(exchange.getRequestURI().getRawPath());
        if (READ_ONLY_PATHS.contains(path) && !List.of("GET", "HEAD").contains(exchange.getRequestMethod())) {
            return Reply.methodNotAllowed("GET");
        }
        return switch (path) {
            case TOKEN_PATH -> tokenEndpoint.handle(exchange, body, baseUrl);
            case HELLO_PATH -> sampleApi.hello(exchange);
            case HELLO_WORLD_PATH -> Reply.json(200, Map.of("message", "Hello World!"), null); // open access
            case MockTokenExchange.ID_TOKEN_PATH -> MockTokenExchange.idToken(exchange);
            case MockRequestLog.PAGE_PATH, MockRequestLog.JSON_PATH -> requests.page(exchange);
            default -> path.equals(ECHO_PATH) || path.startsWith(ECHO_PATH + "/") ? sampleApi.echo(exchange, body)
                    : Reply.refusal(Refusal.UNKNOWN_ROUTE, null);
        };
    }

    private static final Set<String> READ_ONLY_PATHS = Set.of(HELLO_PATH, HELLO_WORLD_PATH, MockRequestLog.PAGE_PATH,
            MockRequestLog.JSON_PATH);

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
                // Closed here, before the exchange: its close() closes the request body first, which JDK 25 reads
                // to its end, so an oversized body's 413 would wait on bytes the client never sends.
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        } catch (IOException clientWentAway) {
            // nothing to tell a client that is gone; the log line still records the status
        }
    }

    private static ThreadFactory daemonThreads(String name) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** What a client sent, as one log line shows it: cut to {@code max} characters, control characters escaped. */
    static String loggable(String s, int max) {
        StringBuilder out = new StringBuilder();
        s.chars().limit(max).forEach(c -> out.append(Character.isISOControl(c) ? String.format("\\x%02x", c) : (char) c));
        return s.length() > max ? out + "..." : out.toString();
    }

    // ------------------------------------------------------------------ replies and refusals

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
            String note = (r.row == 0 ? "" : "row " + r.row + ": ") + r.description + (detail == null ? "" : " [" + detail + "]");
            return error(r.status, r.error, r.description, note);
        }

        static Reply methodNotAllowed(String allowed) {
            return new Reply(405, Map.of("Allow", allowed), new byte[0], null);
        }

        /** Shaped like Apigee's message ids, which NHS support asks for. */
        static String messageId() {
            return "rrt-" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()) + "-"
                    + SEQUENCE.incrementAndGet();
        }
    }

    /** One request's body, read at most once; what a handler left unread is dropped before the reply (see send). */
    static final class RequestBody {
        /** Up to this much unread body is read and dropped; more is left unread and the connection closed. */
        static final long DISCARD_LIMIT = 1024 * 1024;

        private final HttpExchange exchange;
        private boolean atEnd;
        /** What read() returned, for the request log. */
        byte[] bytes;

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
            return bytes = body;
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
                for (int n; dropped <= DISCARD_LIMIT && (n = in.read(buffer)) >= 0; ) {
                    dropped += n;
                }
                return dropped <= DISCARD_LIMIT;
            } catch (IOException e) {
                return false;
            }
        }
    }

    // ------------------------------------------------------------------ the protected sample API

    /** What an access token unlocks: NHS's hello-world sample and an echo for inspecting requests. */
    record SampleApi(MockAccessTokens tokens, Map<String, MockJwks.Registration> apps) {
        /** Application-restricted: a live bearer token, or the API key of a registered app (the api-key pattern). */
        Reply hello(HttpExchange exchange) {
            Reply denied = authorise(exchange);
            if (denied != null) {
                String apiKey = exchange.getRequestHeaders().getFirst("apikey");
                if (apiKey == null) {
                    return denied;
                }
                if (apps.get(apiKey.trim()) == null) {
                    // The platform's gateway answers an unknown apikey with its own fault, not the NHS error shape.
                    Map<String, Object> fault = new LinkedHashMap<>();
                    fault.put("faultstring", "Invalid ApiKey");
                    fault.put("detail", Map.of("errorcode", "oauth.v2.InvalidApiKey"));
                    return Reply.json(401, Map.of("fault", fault), "unknown apikey");
                }
            }
            return Reply.json(200, Map.of("message", "Hello Application!"), null);
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
            // Masked as the client's traces mask them, so an echo can be pasted where a trace can.
            exchange.getRequestHeaders().forEach((name, values) -> headers.put(name, String.join(", ",
                    values.stream().map(value -> NhsCommands.redactedHeader(name, value)).toList())));
            URI uri = exchange.getRequestURI();
            Map<String, Object> echoed = new LinkedHashMap<>();
            echoed.put("method", exchange.getRequestMethod());
            echoed.put("path", uri.getRawPath());
            echoed.put("query", uri.getRawQuery() == null ? "" : uri.getRawQuery());
            echoed.put("headers", headers);
            echoed.put("body", new String(body, StandardCharsets.UTF_8));
            return Reply.json(200, echoed, null);
        }

        /** Null when the bearer token is live; else the 401 to send. */
        private Reply authorise(HttpExchange exchange) {
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            String token = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                    ? authorization.substring(7).trim() : "";
            MockAccessTokens.Check check = token.isEmpty() ? null : tokens.check(token, System.currentTimeMillis());
            if (check == MockAccessTokens.Check.VALID) {
                return null;
            }
            Reply reply = Reply.error(401, "invalid_token", check == null
                    ? "Missing access token: send 'Authorization: Bearer <access token>'"
                    : check == MockAccessTokens.Check.EXPIRED ? "Access token expired: get a new one from " + TOKEN_PATH
                    : "Invalid access token", null);
            reply.headers().put("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return reply;
        }
    }
}
