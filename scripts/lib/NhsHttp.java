import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.Optional;

/** The JDK HttpClient with the proxy, CA and timeout settings, and failures named for users. */
final class NhsHttp {
    private final HttpClient http;
    private final NhsProxies proxies;
    private final Duration timeout;
    private final PrintWriter trace;

    NhsHttp(Duration timeout, Path caCertificates, Map<String, String> proxyVariables, PrintWriter trace) {
        this.timeout = timeout;
        this.trace = trace;
        this.proxies = new NhsProxies(proxyVariables);
        // HTTP/1.1 as curl and requests speak it: no h2c upgrade headers for proxies to trip on.
        HttpClient.Builder b = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .proxy(proxies);
        b.sslContext(caCertificates != null ? NhsTls.sslContext(caCertificates)
                : NhsTls.jdkDefaultsOnFirstUse());
        if (proxies.credentials != null) {
            // The JDK refuses Basic proxy auth for HTTPS tunnels unless this is cleared.
            System.setProperty("jdk.http.auth.tunneling.disabledSchemes", "");
            b.authenticator(proxies.credentials);
        }
        this.http = b.build();
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
                Instant at = ZonedDateTime.parse(value.trim(),
                        DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                long ms = Math.max(0, Math.min(at.toEpochMilli() - System.currentTimeMillis(), 60_000));
                return Duration.ofMillis(ms);
            } catch (RuntimeException ignored) {
                return null;
            }
        }
    }

    void trace(String line) {
        if (trace != null) {
            trace.println("* " + line);
            trace.flush();
        }
    }

    HttpResponse<byte[]> exchange(HttpRequest request, String what) {
        if (trace != null) {
            trace.println("> " + request.method() + " " + request.uri());
            request.headers().map().forEach((name, values) -> values.forEach(v ->
                    trace.println("> " + name + ": " + traced(name, v))));
            trace.flush();
        }
        try {
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            if (trace != null) {
                trace.println("< HTTP " + response.statusCode());
                response.headers().map().forEach((name, values) -> values.forEach(v -> trace.println("< " + name + ": " + traced(name, v))));
                trace.flush();
            }
            return response;
        } catch (IOException e) {
            throw networkFailure(request.uri(), what, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NhsClient.NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted", e);
        } catch (IllegalArgumentException e) {
            throw new NhsClient.UsageException("cannot send the request: " + NhsSetting.oneLine(e.getMessage()), e);
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

    private NhsClient.NetworkException networkFailure(URI uri, String what, IOException e) {
        String target = uri.getHost() + ":" + (uri.getPort() > 0 ? uri.getPort() : uri.getScheme().equals("https") ? 443 : 80);
        java.net.Proxy proxy = proxies.select(uri).get(0);
        String via = proxy.type() == java.net.Proxy.Type.DIRECT ? "" : " through the proxy " + proxy.address();
        Throwable root = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            root = t;
            if (t instanceof javax.net.ssl.SSLException) {
                return new NhsClient.NetworkException("TLS handshake with " + target + " failed (" + NhsSetting.oneLine(t.getMessage()) + ")",
                        "if a corporate proxy inspects TLS, give its CA certificate with " + NhsSetting.CA_CERT.named(),
                        false, e);
            }
            if (t instanceof java.net.UnknownHostException || t instanceof java.nio.channels.UnresolvedAddressException) {
                return new NhsClient.NetworkException("cannot resolve " + (via.isEmpty() ? uri.getHost() : "the proxy " + proxy.address()),
                        "check the URL, your DNS, or HTTPS_PROXY / NO_PROXY", false, e);
            }
        }
        if (e instanceof java.net.http.HttpConnectTimeoutException) {
            return new NhsClient.NetworkException("connecting to the " + what + " at " + target + via + " timed out after "
                    + timeout.toSeconds() + " s", "check the network or proxy; " + NhsSetting.TIMEOUT.named() + " sets the limit", false, e);
        }
        if (e instanceof java.net.http.HttpTimeoutException) {
            return new NhsClient.NetworkException("the " + what + " at " + target + " did not answer within "
                    + timeout.toSeconds() + " s", "try again, or raise " + NhsSetting.TIMEOUT.named(), false, e);
        }
        if (root instanceof java.net.ConnectException || e instanceof java.net.ConnectException) {
            return new NhsClient.NetworkException(via.isEmpty()
                    ? "cannot connect to the " + what + " at " + target + " (connection refused)"
                    : "cannot connect to the proxy " + proxy.address() + " for " + target,
                    via.isEmpty() ? "check the URL and that the server is running (for the local environment: mock-server)"
                            : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY", true, e);
        }
        String detail = NhsSetting.oneLine(String.valueOf(e.getMessage()));
        boolean hungUp = detail.contains("received no bytes") || detail.contains("bytes received");
        for (Throwable t = e; t != null && !hungUp; t = t.getCause()) {
            hungUp = t instanceof java.io.EOFException;
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
}
