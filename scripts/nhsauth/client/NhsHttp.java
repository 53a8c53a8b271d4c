package nhsauth.client;

import java.io.*;
import java.math.BigDecimal;
import java.net.*;
import java.net.http.*;
import java.nio.ByteBuffer;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Path;
import java.time.*;
import java.time.format.DateTimeFormatter;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.*;

import javax.net.ssl.*;

/** The JDK HttpClient with the proxy, CA and timeout settings, and failures named for users. */
final class NhsHttp {
    /** The most a token endpoint answer may hold: a token answer is well under 1 KiB. */
    static final int MAX_TOKEN_ANSWER_BYTES = 64 * 1024;
    /** The most a JWKS may hold, as the mock's token endpoint allows too. */
    static final int MAX_JWKS_BYTES = 1024 * 1024;
    /** Headers that carry a credential whatever their value looks like (NHS's own API-key header among them). */
    private static final Set<String> SECRET_HEADERS = Set.of("apikey", "x-api-key", "cookie", "set-cookie");
    private static final AtomicBoolean SELECTORS_STOPPED_AT_EXIT = new AtomicBoolean();

    private final NhsProxies proxies;
    private final Duration timeout;
    private final PrintWriter trace;
    private final Consumer<String> notices;
    private final SSLContext extraTrust;
    private HttpClient http;

    NhsHttp(Duration timeout, Path caCertificates, Map<String, String> proxyVariables, PrintWriter trace,
            Consumer<String> notices) {
        this.timeout = timeout;
        this.trace = trace;
        this.notices = notices;
        this.proxies = new NhsProxies(proxyVariables);
        // Read now, so a bad --cacert is reported before anything else happens.
        this.extraTrust = caCertificates != null ? NhsTls.sslContext(caCertificates) : null;
    }

    /** Made on first use: a run that reuses a cached token or prints an assertion needs no selector thread nor TLS. */
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
                    .sslParameters(new SSLParameters())
                    .build();
            if (SELECTORS_STOPPED_AT_EXIT.compareAndSet(false, true)) {
                Runtime.getRuntime().addShutdownHook(new Thread(NhsHttp::stopSelectors, "nhs-auth: stop HTTP selector threads"));
            }
        }
        return http;
    }

    /**
     * The JVM's exit waits for an HttpClient's selector thread, blocked in native code, and JDK 17 cannot close one:
     * interrupted by a shutdown hook, it ends, so scripts need no exit of their own.
     */
    private static void stopSelectors() {
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

    /** Says why a request is resent, as curl's --retry does, and waits as Retry-After asks (1 min at most), else 0.5 s, 1 s, ... */
    void pauseBeforeRetry(String why, int attempt, int retries, HttpResponse<?> answer) {
        String retryAfter = answer == null ? "" : answer.headers().firstValue("Retry-After").orElse("").trim();
        Instant at = parseDate(retryAfter);
        long base = 500L << attempt;
        long millis = retryAfter.matches("\\d{1,18}") ? Math.min(Long.parseLong(retryAfter), 60) * 1000
                : at != null ? Math.max(0, Math.min(at.toEpochMilli() - System.currentTimeMillis(), 60_000))
                : base + ThreadLocalRandom.current().nextLong(base);
        int left = retries - attempt - 1;
        notices.accept("warning: " + why + "; will retry in " + seconds(Duration.ofMillis(millis)) + ", "
                + left + (left == 1 ? " retry" : " retries") + " left");
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted", e);
        }
    }

    void trace(String line) {
        if (trace != null) {
            trace.println("* " + line);
            trace.flush();
        }
    }

    private void trace(String mark, String firstLine, HttpHeaders headers) {
        if (trace != null) {
            trace.println(mark + " " + firstLine);
            headers.map().forEach((name, values) -> values.forEach(
                    value -> trace.println(mark + " " + name + ": " + traced(name, value))));
            trace.flush();
        }
    }

    /** A header's value as a trace (pasted into tickets) may show it: credentials masked; Authorization keeps its scheme. */
    static String traced(String name, String value) {
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.equals("authorization") || lower.equals("proxy-authorization")) {
            int space = value.indexOf(' ');
            return space < 0 ? "****" : value.substring(0, space) + " ****";
        }
        return SECRET_HEADERS.contains(lower) || lower.contains("token") || lower.contains("secret") ? "****" : value;
    }

    /**
     * Sends the request {@code request} makes, and a fresh one up to {@code retries} times after HTTP 429, 502, 503 or
     * 504 and, with {@code retryConnections}, a refused or reset connection. An answer {@code stale} picks (by status)
     * is resent after {@code renew}, uncounted. {@code handler} reads only the answer returned.
     */
    <T> HttpResponse<T> send(Supplier<HttpRequest> request, String what, int retries, boolean retryConnections,
            IntPredicate stale, Runnable renew, HttpResponse.BodyHandler<T> handler) {
        for (int attempt = 0; ; attempt++) {
            boolean last = attempt >= retries;
            try {
                HttpResponse<T> response = exchange(request.get(), what, info ->
                        stale.test(info.statusCode()) || !last && isTransient(info.statusCode())
                                ? HttpResponse.BodySubscribers.replacing(null) : handler.apply(info));
                if (stale.test(response.statusCode())) {
                    renew.run();
                    attempt--;
                    continue;
                }
                if (last || !isTransient(response.statusCode())) {
                    return response;
                }
                pauseBeforeRetry("HTTP " + response.statusCode() + " from the " + what, attempt, retries, response);
            } catch (NetworkException e) {
                if (last || !retryConnections || !e.retryable()) {
                    throw e;
                }
                pauseBeforeRetry(e.getMessage(), attempt, retries, null);
            }
        }
    }

    /** A request whose answer is read whole, up to {@code maxBytes}: more is a failure, not a full memory. */
    HttpResponse<byte[]> exchange(HttpRequest request, String what, int maxBytes) {
        return exchange(request, what, info -> limited(maxBytes));
    }

    /**
     * Sends a request by the proxy rules and takes its whole answer within the request's timeout (else the client's):
     * the JDK's own ends with the headers, so a server trickling its body would hold a run forever.
     */
    <T> HttpResponse<T> exchange(HttpRequest request, String what, HttpResponse.BodyHandler<T> handler) {
        NhsProxies.Endpoint proxy = proxies.endpointFor(request.uri());
        HttpRequest sent = proxy == null || !proxy.hasCredentials() ? request
                : HttpRequest.newBuilder(request, (name, value) -> !name.equalsIgnoreCase("Proxy-Authorization"))
                        .header("Proxy-Authorization", proxy.authorization()).build();
        trace(">", sent.method() + " " + sent.uri(), sent.headers());
        Duration limit = request.timeout().orElse(timeout);
        CompletableFuture<HttpResponse<T>> call;
        try {
            // A proxy's 407 page is not the answer the caller asked for, so it never reaches their handler.
            call = client().sendAsync(sent, info -> info.statusCode() == 407 && proxy != null
                    ? HttpResponse.BodySubscribers.replacing(null) : handler.apply(info));
        } catch (IllegalArgumentException e) {
            throw new UsageException("cannot send the request: " + NhsSetting.oneLine(e.getMessage()), e);
        }
        HttpResponse<T> response;
        try {
            response = call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw failure(request.uri(), what, proxy, e, limit);
        } catch (ExecutionException e) {
            throw failure(request.uri(), what, proxy, e.getCause(), limit);
        } catch (InterruptedException e) {
            call.cancel(true);
            Thread.currentThread().interrupt();
            throw new NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted", e);
        }
        trace("<", "HTTP " + response.statusCode(), response.headers());
        if (response.statusCode() == 407 && proxy != null) {
            throw proxyAuthenticationFailed(proxy, request.uri());
        }
        return response;
    }

    /** {@code 1.5 s}, {@code 30 s}: a duration as the user gave it. */
    static String seconds(Duration d) {
        return BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + " s";
    }

    private static NetworkException proxyAuthenticationFailed(NhsProxies.Endpoint proxy, URI uri) {
        String encoding = "percent-encode special characters in the password (@ as %40, : as %3A, % as %25)";
        if (!proxy.hasCredentials()) {
            return new NetworkException("the proxy " + proxy.address() + " (" + proxy.variable()
                    + ") wants a user name and password (HTTP 407 Proxy Authentication Required)",
                    "put them in " + proxy.variable() + ": http://USER:PASSWORD@" + proxy.address() + ", and " + encoding,
                    false, null);
        }
        boolean tunnel = "https".equalsIgnoreCase(uri.getScheme());
        String property = System.getProperty(NhsProxies.TUNNELING_PROPERTY);
        return new NetworkException("the proxy " + proxy.address() + " (" + proxy.variable()
                + ") refused the user name and password given in " + proxy.variable()
                + " (HTTP 407 Proxy Authentication Required)",
                tunnel && (property == null || !property.isBlank())
                        ? "this JVM sends no Basic credentials to an https proxy tunnel: run it with -D"
                                + NhsProxies.TUNNELING_PROPERTY + "= (JBang scripts that source NhsClient.java get it)"
                        : "check the user name and password, and " + encoding,
                false, null);
    }

    /** {@code e}, what the exchange failed with (a TimeoutException: no whole answer within {@code limit}), named for users. */
    private NhsAuthException failure(URI uri, String what, NhsProxies.Endpoint proxy, Throwable e, Duration limit) {
        if (e instanceof UncheckedIOException output) {
            // Writing the body out failed (stdout gone or full): the caller's failure, not the network's.
            throw output;
        }
        if (e instanceof NhsAuthException known) {
            return known;
        }
        String target = (uri.getHost() == null ? "?" : uri.getHost()) + ":" + NhsProxies.port(uri);
        String via = proxy == null ? "" : " through the proxy " + proxy.address();
        String at = what + " at " + target + via;
        if (e instanceof AnswerTooLarge large) {
            return new NetworkException("the " + at + " sent more than " + large.limit / 1024
                    + " KiB; stopped reading", "check the URL: a proxy or gateway may be answering "
                    + "instead, or the server is misbehaving", false, e);
        }
        Throwable named = cause(e, SSLException.class, UnknownHostException.class, UnresolvedAddressException.class);
        if (named instanceof SSLException) {
            return new NetworkException("TLS handshake with " + target + via + " failed ("
                    + NhsSetting.oneLine(named.getMessage()) + ")",
                    "if a corporate proxy inspects TLS, give its CA certificate with " + NhsSetting.CA_CERT.named(), false, e);
        }
        if (named != null) {
            return new NetworkException("cannot resolve " + (proxy == null ? uri.getHost() : "the proxy "
                    + proxy.address()), "check the URL, your DNS, or HTTPS_PROXY / NO_PROXY", false, e);
        }
        if (cause(e, HttpConnectTimeoutException.class) != null) {
            return new NetworkException("connecting to the " + at + " timed out after " + seconds(timeout),
                    "check the network or proxy; " + NhsSetting.TIMEOUT.named() + " sets the limit", false, e);
        }
        if (cause(e, HttpTimeoutException.class, TimeoutException.class) != null) {
            return new NetworkException("the " + at + " did not answer within " + seconds(limit),
                    "try again, or raise " + NhsSetting.TIMEOUT.named(), false, e);
        }
        if (cause(e, ConnectException.class) != null) {
            return new NetworkException(proxy == null ? "cannot connect to the " + at + " (connection refused)"
                    : "cannot connect to the proxy " + proxy.address() + " (" + proxy.variable() + ") for " + target,
                    proxy == null ? "check the URL and that the server is running (for the local environment: mock-server)"
                            : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY", true, e);
        }
        String detail = NhsSetting.oneLine(String.valueOf(e.getMessage()));
        // The JDK words a hang-up as parser state ("fixed content-length: 400, bytes received: 28").
        if (detail.contains("received no bytes") || detail.contains("bytes received") || cause(e, EOFException.class) != null) {
            return new NetworkException("the " + at + " closed the connection "
                    + (detail.contains("received no bytes") ? "without answering" : "before its answer was complete")
                    + " (" + detail + ")", "try again; if it keeps happening, a proxy or firewall may be cutting "
                    + "connections (" + NhsSetting.TRACE.named() + " shows the exchange)", true, e);
        }
        return new NetworkException("the connection to the " + at + " failed (" + detail + ")",
                "try again; " + NhsSetting.TRACE.named() + " shows the exchange", true, e);
    }

    private static Throwable cause(Throwable e, Class<?>... types) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (Class<?> type : types) {
                if (type.isInstance(t)) {
                    return t;
                }
            }
        }
        return null;
    }

    private static final class AnswerTooLarge extends IOException {
        final int limit;

        AnswerTooLarge(int limit) {
            super("answer larger than " + limit + " bytes");
            this.limit = limit;
        }
    }

    /** The JDK's byte-array body, failing as soon as it grows past {@code limit} instead of filling memory. */
    static HttpResponse.BodySubscriber<byte[]> limited(int limit) {
        HttpResponse.BodySubscriber<byte[]> whole = HttpResponse.BodySubscribers.ofByteArray();
        return new HttpResponse.BodySubscriber<>() {
            private Flow.Subscription subscription;
            private long size;

            @Override public CompletionStage<byte[]> getBody() { return whole.getBody(); }
            @Override public void onSubscribe(Flow.Subscription s) { subscription = s; whole.onSubscribe(s); }
            @Override public void onError(Throwable t) { whole.onError(t); }
            @Override public void onComplete() { whole.onComplete(); }

            @Override
            public void onNext(List<ByteBuffer> items) {
                long before = size;
                size += items.stream().mapToLong(ByteBuffer::remaining).sum();
                if (size <= limit) {
                    whole.onNext(items);
                } else if (before <= limit) {
                    subscription.cancel();
                    whole.onError(new AnswerTooLarge(limit));
                }
            }
        };
    }
}
