//SOURCES ../client/NhsClient.java
//SOURCES MockTokenEndpoint.java
//SOURCES MockJwks.java

package nhsauth.mock;

import nhsauth.client.*;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import nhsauth.mock.MockTokenEndpoint.Refusal;
import nhsauth.mock.MockTokenEndpoint.Refused;

/**
 * A local NHS identity service as an engine, for mock-server, the demo and the tests: the
 * signed-JWT token endpoint (POST /oauth2/token, see {@link MockTokenEndpoint}) and a sample API:
 * Hello World (its application endpoint takes a bearer token or a registered app's {@code apikey},
 * its world endpoint is open) and an echo.
 * {@link #start} runs one; {@link #close()} stops it and its threads.
 */
public final class MockIdentityService implements AutoCloseable {
    static final String TOKEN_PATH = "/oauth2/token";
    static final String HELLO_PATH = "/hello-world/hello/application";
    static final String HELLO_WORLD_PATH = "/hello-world/hello/world";
    static final String ECHO_PATH = "/echo";
    static final int MAX_BODY_BYTES = 256 * 1024;
    /** Up to this much unread body is read and dropped; more is left unread and the connection closed. */
    static final int DISCARD_LIMIT = 1024 * 1024;

    /** An app as the NHS developer portal knows it: API key, registered JWKS, access level. */
    public record App(String apiKey, String jwks /* path or URL, null = no key registered */, boolean level3) {
    }

    /** Starts a server; {@code port} 0 picks a free port; {@code log} null is silent. */
    public static MockIdentityService start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log)
            throws IOException {
        return start(host, port, apps, jwksCacheSeconds, log, false);
    }

    public static MockIdentityService start(String host, int port, List<App> apps, long jwksCacheSeconds, PrintWriter log,
            boolean verbose) throws IOException {
        if (jwksCacheSeconds < 0) {
            throw new IllegalArgumentException("JWKS cache of " + jwksCacheSeconds + " s: use 0 or more");
        }
        // The JDK server sends a reply's headers and body as two TCP segments; with Nagle's algorithm
        // on, the client's delayed ACK then delays every reply. Read once, when the JVM's first
        // HttpServer is created, so it must be set before that.
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
        return new MockIdentityService(http, host, MockJwks.register(apps, jwksCacheSeconds), log, verbose);
    }

    private final HttpServer http;
    private final String baseUrl;
    private final ExecutorService workers;
    private final ScheduledExecutorService sweeper;
    private final Map<String, MockJwks.Registration> apps;
    private final MockTokenEndpoint tokenEndpoint;
    private final PrintWriter log;
    private final boolean verbose;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MockIdentityService(HttpServer http, String host, Map<String, MockJwks.Registration> apps, PrintWriter log,
            boolean verbose) {
        this.http = http;
        this.apps = apps;
        this.log = log;
        this.verbose = verbose;
        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        this.baseUrl = "http://" + shownHost + ":" + http.getAddress().getPort();
        this.tokenEndpoint = new MockTokenEndpoint(apps);
        int threads = Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
        this.workers = Executors.newFixedThreadPool(threads, daemonThreads("mock-server-http"));
        this.sweeper = Executors.newSingleThreadScheduledExecutor(daemonThreads("mock-server-sweeper"));
        http.setExecutor(workers);
        http.createContext("/", this::handle);
        http.start();
        sweeper.scheduleWithFixedDelay(() -> tokenEndpoint.forgetExpired(System.currentTimeMillis()), 1, 1,
                TimeUnit.SECONDS);
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
        tokenEndpoint.forgetExpired(System.currentTimeMillis());
        return tokenEndpoint.jtiBurntUntil.size();
    }

    public int liveTokenCount() {
        tokenEndpoint.forgetExpired(System.currentTimeMillis());
        return tokenEndpoint.tokenExpiry.size();
    }

    /** Access tokens issued since start: how a test or benchmark sees that a token was reused. */
    public long tokensIssued() {
        return tokenEndpoint.tokensIssued.get();
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

    private void handle(HttpExchange exchange) {
        long started = System.nanoTime();
        Reply reply;
        RequestBody body = new RequestBody(exchange);
        try {
            reply = route(exchange, body);
        } catch (Refused r) {
            reply = Reply.refusal(r.refusal, r.detail);
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
            log.println(exchange.getRequestMethod() + " " + (path == null ? "" : abbreviate(path, 200)) + " "
                    + reply.status() + " " + (System.nanoTime() - started) / 1_000_000 + " ms"
                    + (verbose && reply.note() != null ? " (" + reply.note() + ")" : ""));
            log.flush();
        }
    }

    private Reply route(HttpExchange exchange, RequestBody body) throws Exception {
        String path = exchange.getRequestURI().getRawPath();
        if (TOKEN_PATH.equals(path)) {
            return tokenEndpoint.handle(exchange, body, baseUrl);
        }
        if (HELLO_PATH.equals(path) || HELLO_WORLD_PATH.equals(path)) {
            return hello(exchange, HELLO_PATH.equals(path));
        }
        if (path != null && (path.equals(ECHO_PATH) || path.startsWith(ECHO_PATH + "/"))) {
            return echo(exchange, body);
        }
        throw new Refused(Refusal.UNKNOWN_ROUTE, null);
    }

    private static void send(HttpExchange exchange, RequestBody requestBody, Reply reply) {
        try (exchange) {
            Headers response = exchange.getResponseHeaders();
            // Callers trace a request through NHS by these, so every answer carries them back.
            for (String name : List.of("X-Request-ID", "X-Correlation-ID")) {
                String value = exchange.getRequestHeaders().getFirst(name);
                if (value != null) {
                    response.set(name, value);
                }
            }
            reply.headers().forEach(response::set);
            if (!requestBody.finish()) {
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

    private static ThreadFactory daemonThreads(String name) {
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

    // ------------------------------------------------------------------ replies and request bodies

    /** One whole answer, built before anything is sent so that a late fault can still become row 27. */
    record Reply(int status, Map<String, String> headers, byte[] body, String note) {
        private static final AtomicLong SEQUENCE = new AtomicLong();

        static Reply json(int status, Map<String, ?> members, String note) {
            return new Reply(status, Map.of("Content-Type", "application/json", "Cache-Control", "no-store"),
                    JSONObjectUtils.toJSONString(members).getBytes(StandardCharsets.UTF_8), note);
        }

        /** The NHS error shape, with a message id shaped like Apigee's, which NHS support asks for. */
        static Reply error(int status, String error, String description, String note) {
            String messageId = "rrt-" + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()) + "-"
                    + SEQUENCE.incrementAndGet();
            return json(status, object("error", error, "error_description", description, "message_id", messageId),
                    note == null ? description : note);
        }

        static Reply refusal(Refusal r, String detail) {
            String note = "row " + r.row + ": " + r.description + (detail == null ? "" : " [" + detail + "]");
            return error(r.status, r.error, r.description, note);
        }

        static Reply empty(int status, String header, String value) {
            return new Reply(status, Map.of(header, value), new byte[0], null);
        }

        Reply with(String header, String value) {
            Map<String, String> more = new LinkedHashMap<>(headers);
            more.put(header, value);
            return new Reply(status, more, body, note);
        }

        /** A JSON object with its members in the order given: name, value, name, value... */
        static Map<String, Object> object(Object... members) {
            Map<String, Object> object = new LinkedHashMap<>();
            for (int i = 0; i < members.length; i += 2) {
                object.put((String) members[i], members[i + 1]);
            }
            return object;
        }
    }

    /**
     * One request's body. Read at most once and at most {@code MAX_BODY_BYTES}; whatever a handler
     * left unread is dropped before the reply, because the JDK server silently closes a connection
     * whose body is not at its end, and the client then reuses a dead connection. A rest too big to
     * drop makes the reply say {@code Connection: close} instead.
     */
    static final class RequestBody {
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

        /** The whole body; one larger than {@code MAX_BODY_BYTES} is refused without reading it all. */
        byte[] read() throws IOException, Refused {
            // Not closed: closing makes the server drain it, and finish() may drop the rest itself.
            byte[] body = declaredLength() > MAX_BODY_BYTES ? null
                    : exchange.getRequestBody().readNBytes(MAX_BODY_BYTES + 1);
            MockTokenEndpoint.refuseIf(body == null || body.length > MAX_BODY_BYTES, Refusal.BODY_TOO_LARGE);
            atEnd = true;
            return body;
        }

        /** False when the rest is too big to drop, or could not be: the connection must then close. */
        boolean finish() {
            Headers request = exchange.getRequestHeaders();
            if (atEnd || (!request.containsKey("Content-Length") && !request.containsKey("Transfer-Encoding"))) {
                return true;
            }
            try {
                // Not skip(): on JDK 17 it would skip past the end of this request's body.
                return declaredLength() <= DISCARD_LIMIT
                        && exchange.getRequestBody().readNBytes(DISCARD_LIMIT + 1).length <= DISCARD_LIMIT;
            } catch (IOException e) {
                return false;
            }
        }
    }

    // ------------------------------------------------------------------ the protected sample API

    /**
     * NHS's Hello World sample. The world endpoint is open access; the application endpoint is
     * application-restricted: a live bearer token, or the API key of a registered app (the api-key pattern).
     */
    private Reply hello(HttpExchange exchange, boolean applicationRestricted) {
        String method = exchange.getRequestMethod();
        if (!"GET".equals(method) && !"HEAD".equals(method)) {
            return Reply.empty(405, "Allow", "GET");
        }
        if (!applicationRestricted) {
            return Reply.json(200, Map.of("message", "Hello World!"), null);
        }
        Reply denied = authorise(exchange);
        String apiKey = exchange.getRequestHeaders().getFirst("apikey");
        if (denied != null && apiKey == null) {
            return denied;
        }
        if (denied != null && !apps.containsKey(apiKey.trim())) {
            // The platform's gateway answers an unknown apikey with its own fault, not the NHS error shape.
            return Reply.json(401, Map.of("fault", Reply.object("faultstring", "Invalid ApiKey",
                    "detail", Map.of("errorcode", "oauth.v2.InvalidApiKey"))), "unknown apikey");
        }
        return Reply.json(200, Map.of("message", "Hello Application!"), null);
    }

    /** Any method on /echo/**: what the API received, credentials redacted. */
    private Reply echo(HttpExchange exchange, RequestBody requestBody) throws IOException, Refused {
        Reply denied = authorise(exchange);
        if (denied != null) {
            return denied;
        }
        byte[] body = requestBody.read();
        Map<String, String> headers = new TreeMap<>();
        exchange.getRequestHeaders().forEach((name, values) -> headers.put(name,
                name.equalsIgnoreCase("Authorization") || name.equalsIgnoreCase("apikey") ? redact(values)
                        : String.join(", ", values)));
        URI uri = exchange.getRequestURI();
        return Reply.json(200, Reply.object("method", exchange.getRequestMethod(), "path", uri.getRawPath(),
                "query", uri.getRawQuery() == null ? "" : uri.getRawQuery(), "headers", headers,
                "body", new String(body, StandardCharsets.UTF_8)), null);
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
            Long expires = tokenEndpoint.tokenExpiry.get(authorization.substring(7).trim());
            if (expires != null && expires > System.currentTimeMillis()) {
                return null;
            }
            problem = expires == null ? "Invalid access token" : "Access token expired: get a new one from " + TOKEN_PATH;
        }
        return Reply.error(401, "invalid_token", problem, null).with("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    }
}
