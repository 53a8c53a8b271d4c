import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real forward HTTP proxy on 127.0.0.1 for tests, recording every request it gets: plain HTTP
 * requests in absolute form are relayed to their origin, {@code CONNECT host:port} opens a tunnel,
 * and with a user and password every request must carry {@code Proxy-Authorization: Basic}.
 *
 * <p>It only reaches loopback origins ({@code localhost}, {@code 127.0.0.0/8}, {@code ::1}, and any
 * name under the reserved {@code .test} domain, such as {@link #ORIGIN}, which it alone takes for
 * 127.0.0.1: clients never proxy loopback, so an origin a test reaches through the proxy has such a
 * name); any other target gets {@code 502} without a name lookup, so a test never leaves the machine.
 * Towards an origin it always asks {@code Connection: close} and relays the answer's bytes until
 * the origin hangs up, so bodies of any length or chunking pass unchanged; the client connection
 * is closed after a relayed answer. A {@code 407} leaves the client connection open for the retry
 * (unless {@link #closeAfter407(boolean)} or the client asked to close). Every read has a timeout
 * and {@link #close()} ends every connection and thread, so a proxy never hangs a test.
 */
final class ForwardProxy implements AutoCloseable {

    /** An idle connection (both ways, for a tunnel) is dropped after this long. */
    static final int IDLE_TIMEOUT_MILLIS = 60_000;
    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
    private static final int MAX_HEAD_BYTES = 64 * 1024;
    /** Never passed on; Transfer-Encoding is, because bodies are relayed byte for byte. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-authenticate",
            "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade", "expect");

    /** What the proxy did with a request. */
    enum Answer {
        /** {@code 407}: no or wrong {@code Proxy-Authorization}. */
        AUTH_REQUIRED,
        /** {@code 200 Connection established}, then bytes piped both ways. */
        TUNNEL,
        /** Relayed to the origin; {@link Seen#status()} is the origin's status. */
        FORWARDED,
        /** {@code 400}: not a request this proxy understands (e.g. origin-form, https:// target). */
        BAD_REQUEST,
        /** {@code 502}: a non-loopback target, or the origin could not be reached or hung up. */
        BAD_GATEWAY
    }

    /**
     * One request as the proxy received it: headers as sent, before anything was dropped; what the
     * proxy answered ({@code status} is the origin's for a forwarded request); and which client
     * connection of this proxy it came on, numbered from 1.
     */
    record Seen(String method, String target, Map<String, List<String>> headers, Answer answer, int status,
            int connection) {
        /** The first value of a header (name in any case), or null. */
        String header(String name) {
            List<String> values = headers.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }

        boolean isConnect() {
            return "CONNECT".equalsIgnoreCase(method);
        }
    }

    /** A name that only this proxy resolves (to 127.0.0.1), for origins that must be reached through it. */
    static final String ORIGIN = "origin.test";

    /** Every request received, in the order the proxy decided what to do with it. */
    final List<Seen> requests = new CopyOnWriteArrayList<>();

    private final byte[] expectedCredentials;
    private final String user;
    private final String password;
    private final ServerSocket server;
    private final ExecutorService threads;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();
    private volatile boolean closeAfter407;
    private volatile boolean closed;

    /** A proxy that asks for no credentials. */
    ForwardProxy() throws IOException {
        this(null, null);
    }

    /**
     * A proxy that answers {@code 407} unless {@code Proxy-Authorization: Basic} carries exactly
     * {@code user:password} (UTF-8); either may hold any characters, {@code : @ % + /} included.
     */
    ForwardProxy(String user, String password) throws IOException {
        if ((user == null) != (password == null)) {
            throw new IllegalArgumentException("give both a user and a password, or neither");
        }
        this.user = user;
        this.password = password;
        this.expectedCredentials = user == null ? null : (user + ":" + password).getBytes(StandardCharsets.UTF_8);
        this.server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        AtomicInteger n = new AtomicInteger();
        String name = "forward-proxy-" + server.getLocalPort() + "-";
        this.threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, name + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        threads.execute(this::acceptLoop);
    }

    /** Whether a {@code 407} also closes the connection, so the client must retry on a new one. */
    ForwardProxy closeAfter407(boolean close) {
        this.closeAfter407 = close;
        return this;
    }

    int port() {
        return server.getLocalPort();
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port());
    }

    /** {@code http://127.0.0.1:PORT}: the value for HTTPS_PROXY / HTTP_PROXY without credentials. */
    String url() {
        return "http://127.0.0.1:" + port();
    }

    /** {@code http://USER:PASSWORD@127.0.0.1:PORT} with both percent-encoded (every byte but A-Z a-z 0-9 - . _ ~). */
    String urlWithCredentials() {
        if (user == null) {
            throw new IllegalStateException("this proxy has no credentials");
        }
        return "http://" + percentEncode(user) + ":" + percentEncode(password) + "@127.0.0.1:" + port();
    }

    /** A loopback origin's URL ({@code http[s]://127.0.0.1:PORT/...}) with the host {@link #ORIGIN}: reachable only through a proxy. */
    static String viaProxy(String url) {
        return url.replace("://127.0.0.1:", "://" + ORIGIN + ":");
    }

    /** A selector that sends every request through this proxy, for {@code HttpClient.Builder.proxy}. */
    ProxySelector selector() {
        return ProxySelector.of(address());
    }

    /** The {@code Proxy-Authorization} value this proxy accepts. */
    String basicAuthorization() {
        if (expectedCredentials == null) {
            throw new IllegalStateException("this proxy has no credentials");
        }
        return basic(user, password);
    }

    /** {@code Basic base64(user:password)}, the user and password as UTF-8. */
    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    long count(Answer answer) {
        return requests.stream().filter(s -> s.answer() == answer).count();
    }

    /** How many {@code 407}s the proxy answered. */
    long authRequired() {
        return count(Answer.AUTH_REQUIRED);
    }

    /** How many CONNECT tunnels the proxy opened. */
    long tunnels() {
        return count(Answer.TUNNEL);
    }

    /** How many plain HTTP requests the proxy relayed to an origin. */
    long forwarded() {
        return count(Answer.FORWARDED);
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        for (Socket s : open) {
            closeQuietly(s);
        }
        threads.shutdownNow();
        try {
            if (!threads.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("forward proxy threads did not stop");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ connections

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException closedOrFailed) {
                return;
            }
            open.add(client);
            if (closed) {
                closeQuietly(client);
                return;
            }
            try {
                int connection = connections.incrementAndGet();
                threads.execute(() -> serve(client, connection));
            } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
                closeQuietly(client);
                open.remove(client);
            }
        }
    }

    private void serve(Socket client, int connection) {
        try (client) {
            client.setSoTimeout(IDLE_TIMEOUT_MILLIS);
            client.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(client.getInputStream());
            OutputStream out = client.getOutputStream();
            while (!closed) {
                Head request = Head.read(in);
                if (request == null) {
                    return;
                }
                request.connection = connection;
                String[] line = request.firstLine.split(" ");
                if (line.length != 3 || !line[2].startsWith("HTTP/1.")) {
                    record(request, "?", request.firstLine, Answer.BAD_REQUEST, 400);
                    answer(out, 400, "Bad Request", "not an HTTP/1.x request line", true, List.of());
                    return;
                }
                String method = line[0];
                String target = line[1];
                if (!authorized(request)) {
                    record(request, method, target, Answer.AUTH_REQUIRED, 407);
                    // The body is read and dropped, so the 407 is not lost to a reset from unread bytes;
                    // a client waiting for 100 Continue never sends it, so that connection is closed.
                    boolean close = closeAfter407 || request.wantsClose(line[2]) || request.expectsContinue();
                    if (!request.expectsContinue()) {
                        copyBody(request, in, OutputStream.nullOutputStream());
                    }
                    answer(out, 407, "Proxy Authentication Required", "proxy authentication required", close,
                            List.of("Proxy-Authenticate: Basic realm=\"test\""));
                    if (close) {
                        return;
                    }
                    continue;
                }
                if ("CONNECT".equalsIgnoreCase(method)) {
                    tunnel(request, target, client, in, out);
                } else {
                    forward(request, method, target, in, out);
                }
                return;
            }
        } catch (IOException | RuntimeException goneStalledOrGarbled) {
            // The client went away, stalled or sent an unreadable body length: nothing left to answer.
        } finally {
            open.remove(client);
        }
    }

    private boolean authorized(Head request) {
        if (expectedCredentials == null) {
            return true;
        }
        String value = request.first("Proxy-Authorization");
        if (value == null) {
            return false;
        }
        String[] parts = value.trim().split("\\s+", 2);
        if (parts.length != 2 || !parts[0].equalsIgnoreCase("Basic")) {
            return false;
        }
        try {
            return MessageDigest.isEqual(expectedCredentials, Base64.getDecoder().decode(parts[1].trim()));
        } catch (IllegalArgumentException notBase64) {
            return false;
        }
    }

    private void tunnel(Head request, String target, Socket client, InputStream in, OutputStream out) throws IOException {
        URI authority;
        try {
            authority = new URI("tunnel://" + target);
        } catch (URISyntaxException e) {
            authority = null;
        }
        if (authority == null || authority.getHost() == null || authority.getPort() < 0) {
            record(request, "CONNECT", target, Answer.BAD_REQUEST, 400);
            answer(out, 400, "Bad Request", "CONNECT needs host:port", true, List.of());
            return;
        }
        Socket origin = connectOrigin(request, "CONNECT", target, authority.getHost(), authority.getPort(), out);
        if (origin == null) {
            return;
        }
        try (origin) {
            record(request, "CONNECT", target, Answer.TUNNEL, 200);
            out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            AtomicLong lastActivity = new AtomicLong(System.nanoTime());
            // Bytes the client sent right after CONNECT may already sit in the buffered stream.
            var upstream = threads.submit(() -> {
                try {
                    pump(in, origin.getOutputStream(), lastActivity);
                    origin.shutdownOutput();
                } catch (IOException e) {
                    closeQuietly(origin);
                }
                return null;
            });
            try {
                pump(origin.getInputStream(), out, lastActivity);
                client.shutdownOutput();
            } catch (IOException e) {
                closeQuietly(client);
            }
            try {
                upstream.get(IDLE_TIMEOUT_MILLIS * 2L, TimeUnit.MILLISECONDS);
            } catch (Exception stoppedOrStuck) {
                // Closing both sockets below ends the other direction.
            }
        } finally {
            open.remove(origin);
        }
    }

    private void forward(Head request, String method, String target, InputStream in, OutputStream out) throws IOException {
        URI uri;
        try {
            uri = new URI(target);
        } catch (URISyntaxException e) {
            uri = null;
        }
        if (uri == null || !"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            record(request, method, target, Answer.BAD_REQUEST, 400);
            answer(out, 400, "Bad Request", "a forward proxy needs an absolute http:// target", true, List.of());
            return;
        }
        int port = uri.getPort() < 0 ? 80 : uri.getPort();
        Socket origin = connectOrigin(request, method, target, uri.getHost(), port, out);
        if (origin == null) {
            return;
        }
        try (origin) {
            String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                    + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
            StringBuilder head = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\n");
            if (request.first("Host") == null) {
                head.append("Host: ").append(uri.getRawAuthority()).append("\r\n");
            }
            appendEndToEnd(head, request);
            head.append("Connection: close\r\n\r\n");
            if (request.expectsContinue()) {
                // Answered here, and the Expect header not passed on: the body follows at once.
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
            OutputStream toOrigin = origin.getOutputStream();
            toOrigin.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            copyBody(request, in, toOrigin);
            toOrigin.flush();

            InputStream fromOrigin = new BufferedInputStream(origin.getInputStream());
            Head response;
            try {
                response = Head.read(fromOrigin);
            } catch (IOException e) {
                response = null;
            }
            String[] status = response == null ? new String[0] : response.firstLine.split(" ", 3);
            if (status.length < 2 || !status[1].matches("\\d{3}")) {
                record(request, method, target, Answer.BAD_GATEWAY, 502);
                answer(out, 502, "Bad Gateway", "the origin sent no HTTP answer", true, List.of());
                return;
            }
            record(request, method, target, Answer.FORWARDED, Integer.parseInt(status[1]));
            StringBuilder answerHead = new StringBuilder(response.firstLine).append("\r\n");
            appendEndToEnd(answerHead, response);
            answerHead.append("Connection: close\r\n\r\n");
            out.write(answerHead.toString().getBytes(StandardCharsets.ISO_8859_1));
            fromOrigin.transferTo(out);
            out.flush();
        } finally {
            open.remove(origin);
        }
    }

    /** Connects to a loopback origin, or answers 502 and returns null. */
    private Socket connectOrigin(Head request, String method, String target, String host, int port, OutputStream out)
            throws IOException {
        InetAddress address = loopback(host);
        if (address == null) {
            record(request, method, target, Answer.BAD_GATEWAY, 502);
            answer(out, 502, "Bad Gateway", "this test proxy only reaches loopback hosts, not " + host, true, List.of());
            return null;
        }
        Socket origin = new Socket();
        open.add(origin);
        try {
            origin.connect(new InetSocketAddress(address, port), CONNECT_TIMEOUT_MILLIS);
            origin.setSoTimeout(IDLE_TIMEOUT_MILLIS);
            origin.setTcpNoDelay(true);
            return origin;
        } catch (IOException e) {
            closeQuietly(origin);
            open.remove(origin);
            record(request, method, target, Answer.BAD_GATEWAY, 502);
            answer(out, 502, "Bad Gateway", "cannot connect to " + host + ":" + port, true, List.of());
            return null;
        }
    }

    /** {@code localhost}, names under {@code .test}, and loopback IP literals only, resolved without any name lookup. */
    private static InetAddress loopback(String host) throws IOException {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost") || h.toLowerCase(Locale.ROOT).endsWith(".test")) {
            return InetAddress.getByName("127.0.0.1");
        }
        boolean literal = h.matches("\\d{1,3}(\\.\\d{1,3}){3}") || h.matches("[0-9a-fA-F:.]*:[0-9a-fA-F:.]*");
        if (!literal) {
            return null;
        }
        InetAddress address = InetAddress.getByName(h);
        return address.isLoopbackAddress() ? address : null;
    }

    /** Copies bytes until EOF; a read timeout ends the copy only if neither direction moved lately. */
    private void pump(InputStream from, OutputStream to, AtomicLong lastActivity) throws IOException {
        byte[] buffer = new byte[16 * 1024];
        while (true) {
            int n;
            try {
                n = from.read(buffer);
            } catch (SocketTimeoutException e) {
                if (!closed && System.nanoTime() - lastActivity.get() < TimeUnit.MILLISECONDS.toNanos(IDLE_TIMEOUT_MILLIS)) {
                    continue;
                }
                throw e;
            }
            if (n < 0) {
                return;
            }
            lastActivity.set(System.nanoTime());
            to.write(buffer, 0, n);
            to.flush();
        }
    }

    private void record(Head head, String method, String target, Answer answer, int status) {
        requests.add(new Seen(method, target, head.headerMap(), answer, status, head.connection));
    }

    private static void answer(OutputStream out, int status, String reason, String body, boolean close,
            List<String> extraHeaders) throws IOException {
        byte[] bytes = (body + "\n").getBytes(StandardCharsets.UTF_8);
        StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason).append("\r\n");
        for (String h : extraHeaders) {
            head.append(h).append("\r\n");
        }
        head.append("Content-Type: text/plain; charset=utf-8\r\n").append("Content-Length: ").append(bytes.length)
                .append("\r\n");
        if (close) {
            head.append("Connection: close\r\nProxy-Connection: close\r\n");
        }
        head.append("\r\n");
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.write(bytes);
        out.flush();
    }

    /** Every header but hop-by-hop ones and those the Connection header names. */
    private static void appendEndToEnd(StringBuilder out, Head head) {
        Set<String> drop = new java.util.HashSet<>(HOP_BY_HOP);
        for (String[] h : head.headers) {
            if (h[0].equalsIgnoreCase("Connection") || h[0].equalsIgnoreCase("Proxy-Connection")) {
                for (String token : h[1].split(",")) {
                    drop.add(token.trim().toLowerCase(Locale.ROOT));
                }
            }
        }
        for (String[] h : head.headers) {
            if (!drop.contains(h[0].toLowerCase(Locale.ROOT))) {
                out.append(h[0]).append(": ").append(h[1]).append("\r\n");
            }
        }
    }

    /** Copies a request body as sent: Content-Length bytes, or chunks up to and including the trailer. */
    private static void copyBody(Head head, InputStream in, OutputStream out) throws IOException {
        if (head.chunked()) {
            while (true) {
                String sizeLine = readLine(in);
                out.write((sizeLine + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                int semicolon = sizeLine.indexOf(';');
                long size = Long.parseLong((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
                if (size == 0) {
                    String trailer;
                    do {
                        trailer = readLine(in);
                        out.write((trailer + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    } while (!trailer.isEmpty());
                    return;
                }
                copyExactly(in, out, size + 2);
            }
        }
        long length = head.bodyLength();
        if (length > 0) {
            copyExactly(in, out, length);
        }
    }

    private static void copyExactly(InputStream in, OutputStream out, long n) throws IOException {
        byte[] buffer = new byte[16 * 1024];
        while (n > 0) {
            int read = in.read(buffer, 0, (int) Math.min(buffer.length, n));
            if (read < 0) {
                throw new EOFException("body ended early");
            }
            out.write(buffer, 0, read);
            n -= read;
        }
    }

    /** One line without its CR LF (a bare LF also ends it), ISO-8859-1; null at EOF before any byte. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (line.size() == 0) {
                    return null;
                }
                throw new EOFException("line ended early");
            }
            if (b == '\n') {
                break;
            }
            line.write(b);
            if (line.size() > MAX_HEAD_BYTES) {
                throw new IOException("line too long");
            }
        }
        String s = line.toString(StandardCharsets.ISO_8859_1);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    static String percentEncode(String s) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || "-._~".indexOf(c) >= 0) {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // closing is all that is wanted
        }
    }

    /** A request or response head: its first line and its header lines in order. */
    private static final class Head {
        final String firstLine;
        final List<String[]> headers;
        /** Which client connection of this proxy it came on, from 1 (0 for an origin's answer). */
        int connection;

        private Head(String firstLine, List<String[]> headers) {
            this.firstLine = firstLine;
            this.headers = headers;
        }

        /** The next head, or null when the peer closed cleanly before sending one. */
        static Head read(InputStream in) throws IOException {
            String first = readLine(in);
            while (first != null && first.isEmpty()) {
                first = readLine(in); // tolerate stray CR LF between requests
            }
            if (first == null) {
                return null;
            }
            List<String[]> headers = new ArrayList<>();
            int size = first.length();
            for (String line = readLine(in); line != null && !line.isEmpty(); line = readLine(in)) {
                size += line.length();
                if (size > MAX_HEAD_BYTES) {
                    throw new IOException("head too large");
                }
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.add(new String[] {line.substring(0, colon).trim(), line.substring(colon + 1).trim()});
                }
            }
            return new Head(first, headers);
        }

        String first(String name) {
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    return h[1];
                }
            }
            return null;
        }

        boolean chunked() {
            String te = first("Transfer-Encoding");
            return te != null && te.toLowerCase(Locale.ROOT).contains("chunked");
        }

        /** The Content-Length, 0 without one, -1 when chunked. */
        long bodyLength() {
            if (chunked()) {
                return -1;
            }
            String length = first("Content-Length");
            return length == null ? 0 : Long.parseLong(length.trim());
        }

        boolean expectsContinue() {
            String v = first("Expect");
            return v != null && v.equalsIgnoreCase("100-continue");
        }

        boolean wantsClose(String version) {
            for (String name : List.of("Connection", "Proxy-Connection")) {
                String v = first(name);
                if (v != null && v.toLowerCase(Locale.ROOT).contains("close")) {
                    return true;
                }
            }
            return version.equals("HTTP/1.0") && !"keep-alive".equalsIgnoreCase(first("Proxy-Connection"));
        }

        Map<String, List<String>> headerMap() {
            Map<String, List<String>> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String[] h : headers) {
                map.computeIfAbsent(h[0], k -> new ArrayList<>()).add(h[1]);
            }
            map.replaceAll((k, v) -> List.copyOf(v));
            return Collections.unmodifiableMap(map);
        }
    }
}
