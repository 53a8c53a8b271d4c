//RUNTIME_OPTIONS -Dsun.net.http.retryPost=false

package nhsauth.client;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * The JDK's HTTP clients with the proxy, CA and timeout settings, and failures named for users:
 * HttpURLConnection for a request answered whole (the token request), HttpClient for the rest.
 */
final class NhsHttp {
    static {
        // HttpURLConnection otherwise sends a POST again, unasked, when the first answer fails to
        // arrive: the same client assertion twice, which the token endpoint refuses as a reused jti.
        // The runtime option above sets it before any HTTP class loads; this covers a plain java -cp.
        if (System.getProperty("sun.net.http.retryPost") == null) {
            System.setProperty("sun.net.http.retryPost", "false");
        }
    }

    /** The most a token endpoint answer may hold: a token answer is well under 1 KiB. */
    static final int MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
    /** The most a JWKS may hold, as the mock's token endpoint allows too. */
    static final int MAX_JWKS_BYTES = 1024 * 1024;

    private final NhsProxies proxies;
    private final Duration timeout;
    private final PrintWriter trace;
    private final SSLContext extraTrust;
    private HttpClient http;
    private SSLContext tls;

    NhsHttp(Duration timeout, Path caCertificates, Map<String, String> proxyVariables, PrintWriter trace) {
        this.timeout = timeout;
        this.trace = trace;
        this.proxies = new NhsProxies(proxyVariables);
        // Read now, so a bad --cacert is reported before anything else happens.
        this.extraTrust = caCertificates != null ? NhsTls.sslContext(caCertificates) : null;
    }

    /**
     * The JDK client, made on first use: making one takes about 0.14 s (its selector thread, TLS
     * classes), which a run that reuses a cached token or prints an assertion never needs.
     */
    private synchronized HttpClient client() {
        if (http == null) {
            // HTTP/1.1 as curl and requests speak it: no h2c upgrade headers for proxies to trip on.
            // No Authenticator: the JDK would then drop the request's own Authorization header.
            http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(timeout)
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .proxy(proxies)
                    .sslContext(tls())
                    .build();
        }
        return http;
    }

    /** The proxy rules in effect, for messages and doctor. */
    NhsProxies proxies() {
        return proxies;
    }

    static boolean isTransient(int status) {
        return status == 429 || status == 502 || status == 503 || status == 504;
    }

    /** Retry-After in seconds or as an HTTP date, capped at a minute; null when absent or unreadable. */
    static Duration parseRetryAfter(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            long seconds = Long.parseLong(value.trim());
            return Duration.ofSeconds(Math.max(0, Math.min(seconds, 60)));
        } catch (NumberFormatException e) {
            try {
                Instant at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                long ms = Math.max(0, Math.min(at.toEpochMilli() - System.currentTimeMillis(), 60_000));
                return Duration.ofMillis(ms);
            } catch (RuntimeException ignored) {
                return null;
            }
        }
    }

    /** Waits before resending: as long as Retry-After asks, else 0.5 s, 1 s, ... with jitter. */
    static void pauseBeforeRetry(int attempt, String retryAfter) {
        Duration hinted = parseRetryAfter(retryAfter);
        long base = 500L << attempt;
        try {
            Thread.sleep(hinted != null ? hinted.toMillis() : base + ThreadLocalRandom.current().nextLong(base));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NhsClient.NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted", e);
        }
    }

    void trace(String line) {
        if (trace != null) {
            trace.println("* " + line);
            trace.flush();
        }
    }

    /**
     * A request whose answer is read whole, up to {@code maxBytes}: more is a failure, not a full
     * memory. A GET or POST goes over HttpURLConnection, which in a fresh JVM answers about 0.1 s
     * sooner than HttpClient (no selector thread, no TLS set-up for plain http): that is most of a
     * token request. An https request through a proxy stays on HttpClient, the one of the two that
     * sends the proxy's Basic credentials in the CONNECT itself.
     */
    HttpResponse<byte[]> exchange(HttpRequest request, String what, int maxBytes) {
        NhsProxies.Endpoint proxy = proxies.endpointFor(request.uri());
        boolean tunnel = proxy != null && "https".equalsIgnoreCase(request.uri().getScheme());
        byte[] body = tunnel ? null : bodyNow(request);
        return body == null ? exchange(request, what, info -> new LimitedBody(maxBytes))
                : exchangeWhole(request, body, what, maxBytes, proxy);
    }

    /** The body of a GET or POST, when its publisher hands it over at once as the JDK's own do; else null. */
    private static byte[] bodyNow(HttpRequest request) {
        if (!request.method().equals("GET") && !request.method().equals("POST")) {
            return null;
        }
        HttpRequest.BodyPublisher publisher = request.bodyPublisher().orElse(null);
        if (publisher == null || publisher.contentLength() == 0) {
            return new byte[0];
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CompletableFuture<byte[]> body = new CompletableFuture<>();
        publisher.subscribe(new Flow.Subscriber<>() {
            @Override public void onSubscribe(Flow.Subscription s) { s.request(Long.MAX_VALUE); }
            @Override public void onNext(ByteBuffer item) {
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                bytes.writeBytes(chunk);
            }
            @Override public void onError(Throwable t) { body.completeExceptionally(t); }
            @Override public void onComplete() { body.complete(bytes.toByteArray()); }
        });
        return body.isDone() && !body.isCompletedExceptionally() ? body.join() : null;
    }

    /**
     * {@link #exchange(HttpRequest, String, HttpResponse.BodyHandler)} over HttpURLConnection, with
     * the same limits and the same failures. The exchange runs on a thread of its own that the
     * caller waits for up to the timeout: HttpURLConnection's own timeouts bound each read, not
     * the whole, and its disconnect() from another thread can wait behind a read in progress.
     */
    private HttpResponse<byte[]> exchangeWhole(HttpRequest request, byte[] body, String what, int maxBytes,
            NhsProxies.Endpoint proxy) {
        URI uri = request.uri();
        HttpRequest sent = withProxyCredentials(request, proxy);
        traceRequest(sent);
        HttpURLConnection connection;
        try {
            connection = (HttpURLConnection) uri.toURL().openConnection(proxies.select(uri).get(0));
            connection.setRequestMethod(request.method());
        } catch (IOException | IllegalArgumentException e) {
            throw new NhsClient.UsageException("cannot send the request: " + NhsSetting.oneLine(e.getMessage()), e);
        }
        if (connection instanceof HttpsURLConnection https) {
            // With the JDK's default host name verifier in place, the TLS handshake itself checks the name.
            https.setSSLSocketFactory(tls().getSocketFactory());
        }
        // No Authenticator, not even the process's default: a 401 or 407 is the caller's answer,
        // not a cue for the JDK to send the same client assertion again.
        connection.setAuthenticator(NO_CREDENTIALS);
        connection.setConnectTimeout(millis(timeout));
        connection.setReadTimeout(millis(request.timeout().orElse(timeout)));
        connection.setInstanceFollowRedirects(false);
        connection.setUseCaches(false);
        connection.setDoOutput(request.method().equals("POST"));
        sent.headers().map().forEach((name, values) -> values.forEach(v -> connection.addRequestProperty(name, v)));
        CompletableFuture<HttpResponse<byte[]>> call = new CompletableFuture<>();
        Thread exchange = new Thread(() -> {
            try {
                call.complete(exchangeWhole(connection, request, body, maxBytes));
            } catch (Throwable e) {
                call.completeExceptionally(e);
            }
        }, "nhs-auth " + what);
        exchange.setDaemon(true);
        exchange.start();
        return answer(call, () -> {
            Thread hangUp = new Thread(connection::disconnect, "nhs-auth hang-up");
            hangUp.setDaemon(true);
            hangUp.start();
        }, request, what, proxy);
    }

    private static final java.net.Authenticator NO_CREDENTIALS = new java.net.Authenticator() { };

    private static int millis(Duration d) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toMillis()));
    }

    /** One exchange on a connection set up by the caller: the body sent, the whole answer read. */
    private static HttpResponse<byte[]> exchangeWhole(HttpURLConnection connection, HttpRequest request, byte[] body,
            int maxBytes) throws IOException {
        try {
            if (connection.getDoOutput()) {
                try (OutputStream out = connection.getOutputStream()) {
                    out.write(body);
                }
            }
            int status = connection.getResponseCode();
            if (status < 0) {
                throw new ProtocolException("the answer is not HTTP");
            }
            InputStream in = status >= 400 ? connection.getErrorStream() : connection.getInputStream();
            byte[] answer = in == null ? new byte[0] : in.readNBytes(maxBytes + 1);
            if (answer.length > maxBytes) {
                throw new AnswerTooLarge(maxBytes);
            }
            long declared = connection.getContentLengthLong();
            if (connection.getHeaderField("Transfer-Encoding") == null && declared > answer.length) {
                throw new EOFException("fixed content-length: " + declared + ", bytes received: " + answer.length);
            }
            return new WholeAnswer(request, status, headersOf(connection), answer);
        } finally {
            connection.disconnect();
        }
    }

    /** The TLS settings of both clients: the --cacert ones, else the JDK's (trust store read on first use). */
    private synchronized SSLContext tls() {
        if (tls == null) {
            tls = extraTrust != null ? extraTrust : NhsTls.jdkDefaultsOnFirstUse();
        }
        return tls;
    }

    /** The answer's headers in the order they came; HttpURLConnection's own map reverses repeated ones. */
    private static HttpHeaders headersOf(HttpURLConnection connection) {
        Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        for (int i = 1; connection.getHeaderField(i) != null; i++) {
            String name = connection.getHeaderFieldKey(i);
            if (name != null) {
                headers.computeIfAbsent(name, n -> new ArrayList<>()).add(connection.getHeaderField(i));
            }
        }
        return HttpHeaders.of(headers, (name, value) -> true);
    }

    /**
     * Sends a request by the proxy rules and takes its whole answer, body included, within the
     * request's timeout (else the client's): the JDK's own request timeout ends with the headers,
     * so a server that trickles its body would otherwise hold a run forever.
     *
     * @throws NhsClient.NetworkException DNS, connect, TLS, proxy authentication, timeout, an over-long answer
     */
    <T> HttpResponse<T> exchange(HttpRequest request, String what, HttpResponse.BodyHandler<T> handler) {
        NhsProxies.Endpoint proxy = proxies.endpointFor(request.uri());
        HttpRequest sent = withProxyCredentials(request, proxy);
        traceRequest(sent);
        CompletableFuture<HttpResponse<T>> call;
        try {
            // A proxy's 407 page is not the answer the caller asked for, so it never reaches their handler.
            call = client().sendAsync(sent, info -> info.statusCode() == 407 && proxy != null
                    ? HttpResponse.BodySubscribers.replacing(null) : handler.apply(info));
        } catch (IllegalArgumentException e) {
            throw new NhsClient.UsageException("cannot send the request: " + NhsSetting.oneLine(e.getMessage()), e);
        }
        return answer(call, () -> call.cancel(true), request, what, proxy);
    }

    /** The request as sent: with the proxy's Basic credentials when the proxy URL gave them. */
    private static HttpRequest withProxyCredentials(HttpRequest request, NhsProxies.Endpoint proxy) {
        return proxy == null || !proxy.hasCredentials() ? request
                : HttpRequest.newBuilder(request, (name, value) -> !name.equalsIgnoreCase("Proxy-Authorization"))
                        .header("Proxy-Authorization", proxy.authorization()).build();
    }

    /**
     * Waits for an answer under way within the request's timeout (else the client's), then traces
     * it; on a timeout or interrupt, {@code abandon} stops the exchange. Failures are named for users.
     */
    private <T> HttpResponse<T> answer(CompletableFuture<HttpResponse<T>> call, Runnable abandon, HttpRequest request,
            String what, NhsProxies.Endpoint proxy) {
        Duration limit = request.timeout().orElse(timeout);
        HttpResponse<T> response;
        try {
            response = call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            abandon.run();
            Throwable late = new HttpTimeoutException("no whole answer within the timeout").initCause(e);
            throw failure(request.uri(), what, proxy, late, limit);
        } catch (ExecutionException e) {
            throw failure(request.uri(), what, proxy, e.getCause(), limit);
        } catch (InterruptedException e) {
            abandon.run();
            Thread.currentThread().interrupt();
            throw new NhsClient.NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted", e);
        }
        traceResponse(response);
        if (response.statusCode() == 407 && proxy != null) {
            throw proxyAuthenticationFailed(proxy, request.uri());
        }
        return response;
    }

    private void traceRequest(HttpRequest request) {
        if (trace != null) {
            trace.println("> " + request.method() + " " + request.uri());
            request.headers().map().forEach((name, values) -> values.forEach(v -> trace.println("> " + name + ": " + traced(name, v))));
            trace.flush();
        }
    }

    private void traceResponse(HttpResponse<?> response) {
        if (trace != null) {
            trace.println("< HTTP " + response.statusCode());
            response.headers().map().forEach((name, values) -> values.forEach(v -> trace.println("< " + name + ": " + traced(name, v))));
            trace.flush();
        }
    }

    /** Headers that carry a credential whatever their value looks like (NHS's own API-key header among them). */
    private static final java.util.Set<String> SECRET_HEADERS = java.util.Set.of("apikey", "x-api-key", "cookie", "set-cookie");

    /**
     * A header's value as a trace may show it: credentials masked, in requests and responses alike,
     * since a trace is pasted into tickets. Authorization keeps its scheme, which helps and is no secret.
     */
    static String traced(String name, String value) {
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.equals("authorization") || lower.equals("proxy-authorization")) {
            return redactAuthorization(value);
        }
        return SECRET_HEADERS.contains(lower) || lower.contains("token") || lower.contains("secret") ? "****" : value;
    }

    static String redactAuthorization(String value) {
        int space = value.indexOf(' ');
        return space < 0 ? "****" : value.substring(0, space) + " ****";
    }

    /** {@code 1.5 s}, {@code 30 s}: a duration as the user gave it. */
    static String seconds(Duration d) {
        return BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + " s";
    }

    private static String target(URI uri) {
        String host = uri.getHost() == null ? "?" : uri.getHost();
        return host + ":" + (uri.getPort() > 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
    }

    private static String via(NhsProxies.Endpoint proxy) {
        return proxy == null ? "" : " through the proxy " + proxy.address();
    }

    private static NhsClient.NetworkException proxyAuthenticationFailed(NhsProxies.Endpoint proxy, URI uri) {
        String encoding = "percent-encode special characters in the password (@ as %40, : as %3A, % as %25)";
        if (!proxy.hasCredentials()) {
            return new NhsClient.NetworkException("the proxy " + proxy.address() + " (" + proxy.variable()
                    + ") wants a user name and password (HTTP 407 Proxy Authentication Required)",
                    "put them in " + proxy.variable() + ": http://USER:PASSWORD@" + proxy.address() + ", and " + encoding,
                    false, null);
        }
        boolean tunnel = "https".equalsIgnoreCase(uri.getScheme());
        String property = System.getProperty(NhsProxies.TUNNELING_PROPERTY);
        return new NhsClient.NetworkException("the proxy " + proxy.address() + " (" + proxy.variable()
                + ") refused the user name and password given in " + proxy.variable()
                + " (HTTP 407 Proxy Authentication Required)",
                tunnel && (property == null || !property.isBlank())
                        ? "this JVM sends no Basic credentials to an https proxy tunnel: run it with -D"
                                + NhsProxies.TUNNELING_PROPERTY + "= (JBang scripts that source NhsClient.java get it)"
                        : "check the user name and password, and " + encoding,
                false, null);
    }

    private NhsClient.NhsAuthException failure(URI uri, String what, NhsProxies.Endpoint proxy, Throwable e, Duration limit) {
        if (e instanceof UncheckedIOException output) {
            // Writing the body out failed (stdout gone or full): the caller's failure, not the network's.
            throw output;
        }
        if (e instanceof NhsClient.NhsAuthException known) {
            return known;
        }
        String target = target(uri);
        String via = via(proxy);
        if (e instanceof AnswerTooLarge large) {
            return new NhsClient.NetworkException("the " + what + " at " + target + via + " sent more than "
                    + large.limit / 1024 + " KiB; stopped reading", "check the URL: a proxy or gateway may be answering "
                    + "instead, or the server is misbehaving", false, e);
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SSLException) {
                return new NhsClient.NetworkException("TLS handshake with " + target + via + " failed ("
                        + NhsSetting.oneLine(t.getMessage()) + ")",
                        "if a corporate proxy inspects TLS, give its CA certificate with " + NhsSetting.CA_CERT.named(),
                        false, e);
            }
            if (t instanceof UnknownHostException || t instanceof UnresolvedAddressException) {
                return new NhsClient.NetworkException("cannot resolve " + (proxy == null ? uri.getHost() : "the proxy "
                        + proxy.address()), "check the URL, your DNS, or HTTPS_PROXY / NO_PROXY", false, e);
            }
        }
        if (e instanceof SocketTimeoutException timedOut) {
            // HttpURLConnection's connect timeout, or a read timeout that beat the caller's wait by a hair.
            String message = String.valueOf(timedOut.getMessage());
            e = message.toLowerCase(java.util.Locale.ROOT).contains("connect")
                    ? new HttpConnectTimeoutException(message) : new HttpTimeoutException(message);
            e.initCause(timedOut);
        }
        if (causes(e, HttpConnectTimeoutException.class)) {
            return new NhsClient.NetworkException("connecting to the " + what + " at " + target + via + " timed out after "
                    + seconds(timeout), "check the network or proxy; " + NhsSetting.TIMEOUT.named() + " sets the limit", false, e);
        }
        if (causes(e, HttpTimeoutException.class)) {
            return new NhsClient.NetworkException("the " + what + " at " + target + via + " did not answer within "
                    + seconds(limit), "try again, or raise " + NhsSetting.TIMEOUT.named(), false, e);
        }
        if (causes(e, ConnectException.class)) {
            return new NhsClient.NetworkException(proxy == null
                    ? "cannot connect to the " + what + " at " + target + " (connection refused)"
                    : "cannot connect to the proxy " + proxy.address() + " (" + proxy.variable() + ") for " + target,
                    proxy == null ? "check the URL and that the server is running (for the local environment: mock-server)"
                            : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY", true, e);
        }
        String detail = NhsSetting.oneLine(String.valueOf(e.getMessage()));
        // The JDK words these as parser state: HttpClient's "received no bytes", "fixed content-length:
        // 400, bytes received: 28"; HttpURLConnection's "Unexpected end of file from server" and, for
        // a chunked answer cut short, "Premature EOF".
        boolean noAnswer = detail.contains("received no bytes") || detail.contains("end of file from server");
        boolean hungUp = noAnswer || detail.contains("bytes received") || detail.contains("Premature EOF");
        for (Throwable t = e; t != null && !hungUp; t = t.getCause()) {
            hungUp = t instanceof EOFException;
        }
        if (hungUp) {
            return new NhsClient.NetworkException("the " + what + " at " + target + via + " closed the connection "
                    + (noAnswer ? "without answering" : "before its answer was complete")
                    + " (" + detail + ")", "try again; if it keeps happening, a proxy or firewall may be cutting "
                    + "connections (" + NhsSetting.TRACE.named() + " shows the exchange)", true, e);
        }
        return new NhsClient.NetworkException("the connection to the " + what + " at " + target + via + " failed ("
                + detail + ")", "try again; " + NhsSetting.TRACE.named() + " shows the exchange", true, e);
    }

    private static boolean causes(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** The same response with its body as text. */
    static HttpResponse<String> asText(HttpResponse<byte[]> raw) {
        return new TextResponse(raw);
    }

    /** An HttpResponse whose body is text, for the library's get and post. */
    private static final class TextResponse implements HttpResponse<String> {
        private final HttpResponse<byte[]> raw;

        TextResponse(HttpResponse<byte[]> raw) {
            this.raw = raw;
        }

        @Override public int statusCode() { return raw.statusCode(); }
        @Override public HttpRequest request() { return raw.request(); }
        @Override public Optional<HttpResponse<String>> previousResponse() { return Optional.empty(); }
        @Override public HttpHeaders headers() { return raw.headers(); }
        @Override public String body() { return new String(raw.body(), StandardCharsets.UTF_8); }
        @Override public Optional<javax.net.ssl.SSLSession> sslSession() { return raw.sslSession(); }
        @Override public URI uri() { return raw.uri(); }
        @Override public HttpClient.Version version() { return raw.version(); }
    }

    /** An answer read whole from HttpURLConnection, as the HttpClient's answers look. */
    private record WholeAnswer(HttpRequest request, int statusCode, HttpHeaders headers, byte[] body)
            implements HttpResponse<byte[]> {
        @Override public Optional<HttpResponse<byte[]>> previousResponse() { return Optional.empty(); }
        @Override public Optional<javax.net.ssl.SSLSession> sslSession() { return Optional.empty(); }
        @Override public URI uri() { return request.uri(); }
        @Override public HttpClient.Version version() { return HttpClient.Version.HTTP_1_1; }
    }

    /** An answer longer than its limit. */
    static final class AnswerTooLarge extends IOException {
        final int limit;

        AnswerTooLarge(int limit) {
            super("answer larger than " + limit + " bytes");
            this.limit = limit;
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
                    body.completeExceptionally(new AnswerTooLarge(limit));
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
}
