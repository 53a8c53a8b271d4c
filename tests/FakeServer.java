import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.function.Function;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpServer;

/**
 * A loopback HTTP server whose answers a test scripts, recording every request it gets: for
 * the exact bytes a client sends and for faults the real services rarely show on demand.
 */
final class FakeServer implements AutoCloseable {

    /** One request as received. */
    record Request(String method, String uri, Headers headers, byte[] body) {
        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        String header(String name) {
            return headers.getFirst(name);
        }

        /** The form fields of an x-www-form-urlencoded body, decoded. */
        Map<String, String> form() {
            Map<String, String> fields = new java.util.LinkedHashMap<>();
            for (String pair : bodyText().split("&")) {
                int eq = pair.indexOf('=');
                fields.put(java.net.URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
            return fields;
        }
    }

    /** One scripted answer. */
    record Reply(int status, Map<String, String> headers, String body) {
        static Reply json(int status, String body) {
            return new Reply(status, Map.of("Content-Type", "application/json"), body);
        }

        static Reply token(String token) {
            return json(200, "{\"access_token\": \"" + token + "\", \"expires_in\": \"599\", \"token_type\": \"Bearer\", "
                    + "\"issued_at\": \"" + System.currentTimeMillis() + "\"}");
        }

        static Reply nhsError(int status, String error, String description) {
            return json(status, "{\"error\": \"" + error + "\", \"error_description\": \"" + description.replace("\"", "\\\"")
                    + "\", \"message_id\": \"rrt-test-1\"}");
        }
    }

    final List<Request> requests = new CopyOnWriteArrayList<>();
    private final HttpServer server;

    FakeServer(Function<Request, Reply> answer) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-server");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", exchange -> {
            Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().toString(),
                    exchange.getRequestHeaders(), exchange.getRequestBody().readAllBytes());
            requests.add(request);
            Reply reply = answer.apply(request);
            if (reply == null) {
                // Accept and never answer: the client's timeout must fire.
                return;
            }
            reply.headers().forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
            byte[] body = reply.body() == null ? new byte[0] : reply.body().getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(reply.status(), body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                exchange.getResponseBody().write(body);
            }
            exchange.close();
        });
        server.start();
    }

    String url(String path) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
