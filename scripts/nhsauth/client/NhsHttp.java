package nhsauth.client;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/** The JDK HttpClient with the proxy, CA and timeout settings, and failures named for users. */
final class NhsHttp {
    /** The most a token endpoint answer may hold: a token answer is well under 1 KiB. */
    static final int MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
    /** The most a JWKS may hold, as the mock's token endpoint allows too. */
    static final int MAX_JWKS_BYTES = 1024 * 1024;

    private final NhsProxies proxies;
    private final Duration timeout;
    private final PrintWriter trace;
    private final SSLContext extraTrust;
    private HttpClient http;

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
                    .sslContext(extraTrust != null ? extraTrust : NhsTls.jdkDefaultsOnFirstUse())
                    .build();
            stopSelectorsAtExit();
        }
        return http;
    }

    private static boolean stopsSelectorsAtExit;

    /**
     * The JVM's exit waits up to 0.3 s for threads blocked in native code (JDK 17 and 25 alike),
     * and an HttpClient's selector thread always is; interrupted, it ends. So however the JVM
     * exits (System.exit, main returning), selector threads are interrupted first, and scripts
     * need no exit of their own. JDK 17 has no public way to close an HttpClient.
     */
    private static synchronized void stopSelectorsAtExit() {
        if (stopsSelectorsAtExit) {
            return;
        }
        stopsSelectorsAtExit = true;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("HttpClient-") && t.getName().endsWith("-SelectorManager")) {
                    t.interrupt();
                    try {
                        t.join(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        }, "nhs-auth: stop HTTP selector threads"));
    }

    static boolean isTransient(int status) {
        return status == 429 || status == 502 || status == 503 || status == 504;
    }

    /** An HTTP date (RFC 1123, as in Date and Retry-After); null when absent or unreadable. */
    static Instant parseDate(String value) {
        try {
            return value == null ? null : ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        } catch (RuntimeException e) {
            return null;
        }
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
            Instant at = parseDate(value);
            return at == null ? null
                    : Duration.ofMillis(Math.max(0, Math.min(at.toEpochMilli() - System.currentTimeMillis(), 60_000)));
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

    /** A request whose answer is read whole, up to {@code maxBytes}: more is a failure, not a full memory. */
    HttpResponse<byte[]> exchange(HttpRequest request, String what, int maxBytes) {
        return exchange(request, what, info -> new LimitedBody(maxBytes));
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
        HttpRequest sent = proxy == null || !proxy.hasCredentials() ? request
                : HttpRequest.newBuilder(request, (name, value) -> !name.equalsIgnoreCase("Proxy-Authorization"))
                        .header("Proxy-Authorization", proxy.authorization()).build();
        traceRequest(sent);
        Duration limit = request.timeout().orElse(timeout);
        CompletableFuture<HttpResponse<T>> call;
        try {
            // A proxy's 407 page is not the answer the caller asked for, so it never reaches their handler.
            call = client().sendAsync(sent, info -> info.statusCode() == 407 && proxy != null
                    ? HttpResponse.BodySubscribers.replacing(null) : handler.apply(info));
        } catch (IllegalArgumentException e) {
            throw new NhsClient.UsageException("cannot send the request: " + NhsSetting.oneLine(e.getMessage()), e);
        }
        HttpResponse<T> response;
        try {
            response = call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw new NhsClient.NetworkException("the " + what + " at " + target(request.uri()) + via(proxy)
                    + " did not answer within " + seconds(limit), "try again, or raise " + NhsSetting.TIMEOUT.named(),
                    false, e);
        } catch (ExecutionException e) {
            throw failure(request.uri(), what, proxy, e.getCause(), limit);
        } catch (InterruptedException e) {
            call.cancel(true);
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
        boolean hungUp = detail.contains("received no bytes") || detail.contains("bytes received");
        for (Throwable t = e; t != null && !hungUp; t = t.getCause()) {
            hungUp = t instanceof EOFException;
        }
        if (hungUp) {
            // The JDK words this as parser state ("fixed content-length: 400, bytes received: 28").
            return new NhsClient.NetworkException("the " + what + " at " + target + via + " closed the connection "
                    + (detail.contains("received no bytes") ? "without answering" : "before its answer was complete")
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
