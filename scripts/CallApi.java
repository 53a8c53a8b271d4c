///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES lib/NhsCli.java
//DESCRIPTION Call an NHS API with a fresh access token (Authorization: Bearer)

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "call-api", mixinStandardHelpOptions = true, sortOptions = false,
        versionProvider = NhsCli.Version.class,
        description = {"Call an NHS API with Authorization: Bearer <a fresh access token>, or with the app's "
                + "apikey header (--auth api-key), or with nothing (--auth none, open access).",
                "The response body goes to stdout exactly as received; the status line, the elapsed time and "
                        + "the X-Request-ID go to stderr. Exit 0 on 2xx, 4 otherwise."},
        footer = {"%nExamples:",
                "  call-api --env int --url https://int.api.service.nhs.uk/hello-world/hello/application",
                "  call-api --url URL --method POST --data @body.json --header 'Content-Type: application/json'",
                "  call-api --auth api-key --api-key KEY --url https://int.api.service.nhs.uk/hello-world/hello/application"})
public class CallApi implements Callable<Integer> {

    static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");
    static final String DEFAULT_PRODUCT_ID = "P.WTJ-FJT";

    @Spec
    CommandSpec spec;

    @Mixin
    NhsCli.ClientOptions options;

    @Mixin
    NhsCli.AuthOption auth;

    @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:NHS_API_URL}",
            description = "The API URL to call (env NHS_API_URL). Required.")
    String url;

    @Option(names = {"-X", "--method"}, paramLabel = "METHOD", defaultValue = "GET",
            description = "HTTP method: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = {"-H", "--header"}, paramLabel = "'NAME: VALUE'",
            description = "Extra request header; repeatable.")
    List<String> headers = new ArrayList<>();

    @Option(names = {"-d", "--data"}, paramLabel = "BODY",
            description = "Request body: text, @FILE for a file's bytes, or @- for stdin.")
    String data;

    @Option(names = {"-i", "--include"},
            description = "Print the status line and response headers before the body on stdout, like curl -i.")
    boolean include;

    @Option(names = "--request-id", paramLabel = "UUID", description = "X-Request-ID to send (default: a fresh UUID, "
            + "printed on stderr for NHS support).")
    String requestId;

    @Option(names = "--correlation-id", paramLabel = "ID", defaultValue = "${env:NHS_CORRELATION_ID}",
            description = "X-Correlation-ID to send (env NHS_CORRELATION_ID).")
    String correlationId;

    @Option(names = "--retry", paramLabel = "N", defaultValue = "0",
            description = "Resend up to N times on 429, 502, 503, 504, with the same X-Request-ID (default: ${DEFAULT-VALUE}).")
    int retry;

    @Option(names = "--nhs-number", paramLabel = "NUMBER", description = "Send nhs-login-nhs-number: NUMBER and "
            + "NHSE-Product-ID (as the Python tool did). A number failing the modulus-11 check is warned about, not refused.")
    String nhsNumber;

    @Option(names = "--product-id", paramLabel = "ID", defaultValue = "${env:NHS_PRODUCT_ID:-" + DEFAULT_PRODUCT_ID + "}",
            description = "NHSE-Product-ID sent with --nhs-number (env NHS_PRODUCT_ID; default: ${DEFAULT-VALUE}).")
    String productId;

    public static void main(String... args) {
        NhsCli.main(new CallApi(), args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter err = NhsCli.err(spec);
        HttpRequest.Builder request = buildRequest(err);
        NhsClient client = options.client(err, auth.auth);
        if (auth.auth == null && client.auth() == NhsAuthPattern.NONE) {
            err.println("note: the " + client.environment().id() + " environment is open access: nothing but the "
                    + "request is sent (--auth signed-jwt or api-key to send credentials)");
        }
        String id = request.copy().build().headers().firstValue("X-Request-ID").orElseThrow();
        err.println("X-Request-ID: " + id);
        err.flush();
        long start = System.nanoTime();
        OutputStream raw = NhsCli.rawStdout(spec);
        ByteArrayOutputStream captured = raw == null ? new ByteArrayOutputStream() : null;
        HttpResponse<Void> response = client.send(request, retry, answer -> {
            writeHead(answer);
            return HttpResponse.BodySubscribers.ofByteArrayConsumer(chunk -> copy(chunk, raw != null ? raw : captured));
        });
        err.println("HTTP " + response.statusCode() + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        err.flush();
        if (captured != null) {
            NhsCli.out(spec).print(captured.toString(StandardCharsets.UTF_8));
            NhsCli.out(spec).flush();
        }
        return response.statusCode() / 100 == 2 ? NhsClient.ExitCode.OK : NhsClient.ExitCode.API_ERROR;
    }

    /** Everything the user asked for, checked before any key is read or token fetched. */
    HttpRequest.Builder buildRequest(PrintWriter err) throws IOException {
        if (NhsSetting.blankToNull(url) == null) {
            throw new NhsClient.UsageException("no --url: give the API URL to call (or set NHS_API_URL)");
        }
        URI target = NhsSetting.checkUrl(url, "--url");
        NhsAuthPattern pattern = auth.auth != null ? auth.auth
                : NhsAuthPattern.defaultFor(options.env.env, NhsSetting.blankToNull(options.tokenUrl) != null);
        if (pattern != NhsAuthPattern.NONE) {
            NhsSetting.checkNotInClear(target, "--url", pattern == NhsAuthPattern.API_KEY ? "API key" : "bearer token");
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(target);
        String verb = method.trim().toUpperCase(Locale.ROOT);
        if (!METHODS.contains(verb)) {
            throw new NhsClient.UsageException("unknown --method '" + method + "': use one of GET, POST, PUT, PATCH, "
                    + "DELETE, HEAD, OPTIONS");
        }
        request.method(verb, data == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body()));
        for (String header : headers) {
            int colon = header.indexOf(':');
            String name = colon < 0 ? "" : header.substring(0, colon).trim();
            if (!name.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                throw new NhsClient.UsageException("--header '" + header + "' is not 'Name: value': write it like "
                        + "--header 'Accept: application/json'");
            }
            try {
                request.header(name, oneLineValue("--header " + name, header.substring(colon + 1).trim()));
            } catch (IllegalArgumentException e) {
                throw new NhsClient.UsageException("--header '" + name + "' cannot be set (" + e.getMessage()
                        + "): leave it to the HTTP client");
            }
        }
        request.setHeader("X-Request-ID", requestId != null ? oneLineValue("--request-id", requestId.trim())
                : UUID.randomUUID().toString());
        if (NhsSetting.blankToNull(correlationId) != null) {
            request.setHeader("X-Correlation-ID", oneLineValue("--correlation-id", correlationId.trim()));
        }
        if (nhsNumber != null) {
            String number = nhsNumber.replaceAll("[\\s-]", "");
            if (!NhsNumber.isValid(number)) {
                err.println("warning: '" + nhsNumber + "' is not a valid NHS number (modulus 11 check); sent anyway, "
                        + "as test numbers of some sandboxes fail the check");
            }
            request.setHeader("nhs-login-nhs-number", number);
            request.setHeader("NHSE-Product-ID", oneLineValue("--product-id", productId));
        }
        if (retry < 0 || retry > 10) {
            throw new NhsClient.UsageException("--retry " + retry + " is out of range: use 0 to 10");
        }
        return request;
    }

    /** A value sent as a header: a line break in it would end the header and smuggle in another. */
    static String oneLineValue(String option, String value) {
        if (value.chars().anyMatch(c -> (c < 0x20 && c != '\t') || c == 0x7f)) {
            String shown = value.replace("\r", "\\r").replace("\n", "\\n").replaceAll("\\p{Cntrl}", "?");
            throw new NhsClient.UsageException(option + " '" + shown + "' has a line break or control character: "
                    + "give the value on one line");
        }
        return value;
    }

    private byte[] body() throws IOException {
        if (data.equals("@-")) {
            return System.in.readAllBytes();
        }
        if (data.startsWith("@")) {
            if (data.length() == 1) {
                throw new NhsClient.UsageException("--data '@' names no file: give --data @FILE, or @- for stdin");
            }
            // Bytes, not text: a body may be binary.
            return NhsFiles.readBytes(Path.of(data.substring(1)), "--data file");
        }
        return data.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** With --include, the status line and headers as curl -i shows them, before the body. */
    private void writeHead(HttpResponse.ResponseInfo answer) {
        if (include) {
            PrintWriter out = NhsCli.out(spec);
            out.print("HTTP/1.1 " + answer.statusCode() + "\r\n");
            answer.headers().map().forEach((name, values) -> values.forEach(v -> out.print(name + ": " + v + "\r\n")));
            out.print("\r\n");
            out.flush();
        }
    }

    /**
     * The body goes out as it arrives, byte for byte, so a large download runs in small memory;
     * in-process (tests, the demo) it is collected and printed as text.
     */
    private static void copy(java.util.Optional<byte[]> chunk, OutputStream to) {
        try {
            if (chunk.isPresent()) {
                to.write(chunk.get());
            } else {
                to.flush();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** NHS number check digit (modulus 11), from the NHS Data Dictionary. */
    static final class NhsNumber {
        private NhsNumber() {
        }

        static boolean isValid(String number) {
            if (!number.matches("\\d{10}")) {
                return false;
            }
            int sum = 0;
            for (int i = 0; i < 9; i++) {
                sum += (number.charAt(i) - '0') * (10 - i);
            }
            int check = 11 - sum % 11;
            if (check == 11) {
                check = 0;
            }
            return check != 10 && check == number.charAt(9) - '0';
        }
    }
}
