///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Call an NHS API with a fresh access token (Authorization: Bearer)

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.*;
import java.net.URI;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.*;

import picocli.CommandLine.*;

@Command(name = "call-api", sortOptions = false,
        description = {"Call an NHS API with Authorization: Bearer <a fresh access token>, or with the app's "
                + "apikey header (--auth api-key), or with nothing (--auth none, open access).",
                "The response body goes to stdout exactly as received; the status line, the elapsed time and "
                        + "the X-Request-ID go to stderr. Exit 0 on 2xx, 4 otherwise."},
        footer = {"%nExamples:",
                "  call-api --env int \\",
                "    --url https://int.api.service.nhs.uk/hello-world/hello/application",
                "  call-api --url URL --json @body.json    # POST, Content-Type and Accept: JSON",
                "  call-api --url URL --data @body.xml --header 'Content-Type: application/xml'",
                "  call-api --auth api-key --api-key KEY \\",
                "    --url https://int.api.service.nhs.uk/hello-world/hello/application"})
public class CallApi extends NhsCli.Base {

    static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");

    @Mixin
    NhsCli.ClientOptions options;

    @Mixin
    NhsCli.TokenCacheOptions cache;

    @Mixin
    NhsCli.AuthOption auth;

    @Option(names = "--url", paramLabel = "URL",
            description = "The API URL to call (env NHS_API_URL). Required.")
    String url;

    @Option(names = {"-X", "--method"}, paramLabel = "METHOD",
            description = "HTTP method: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS (default: GET, or POST with "
                    + "--data or --json, as curl).")
    String method;

    @Option(names = {"-H", "--header"}, paramLabel = "'NAME: VALUE'",
            description = "Extra request header; repeatable. It wins over a header the other options would set.")
    List<String> headers = new ArrayList<>();

    @Option(names = {"-d", "--data"}, paramLabel = "BODY",
            description = "Request body: text, @FILE for a file's bytes, or @- for stdin.")
    String data;

    @Option(names = "--json", paramLabel = "JSON",
            description = "JSON request body, as curl --json: text, @FILE or @-; also sends Content-Type and Accept: "
                    + "application/json.")
    String json;

    @Option(names = {"-i", "--include"},
            description = "Print the status line and response headers before the body on stdout, like curl -i.")
    boolean include;

    @Option(names = "--request-id", paramLabel = "UUID", description = "X-Request-ID to send (default: a fresh UUID, "
            + "printed on stderr for NHS support).")
    String requestId;

    @Option(names = "--correlation-id", paramLabel = "ID",
            description = "X-Correlation-ID to send (env NHS_CORRELATION_ID).")
    String correlationId;

    @Option(names = "--retry", paramLabel = "N", defaultValue = "0",
            description = "Resend up to N times on 429, 502, 503, 504, with the same X-Request-ID (default: ${DEFAULT-VALUE}).")
    int retry;

    @Option(names = "--nhs-number", paramLabel = "NUMBER", description = "Send nhs-login-nhs-number: NUMBER and "
            + "NHSE-Product-ID (as the Python tool did). A number failing the modulus-11 check is warned about, not refused.")
    String nhsNumber;

    @Option(names = "--product-id", paramLabel = "ID", defaultValue = "P.WTJ-FJT",
            description = "NHSE-Product-ID sent with --nhs-number (env NHS_PRODUCT_ID; default: ${DEFAULT-VALUE}).")
    String productId;

    public static void main(String... args) {
        NhsCli.main(new CallApi(), args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter err = NhsCli.err(spec);
        HttpRequest.Builder request = buildRequest(err);
        NhsClient client = options.builder(err, auth.auth).tokenCache(cache.dir()).build();
        if (auth.auth == null && client.auth() == NhsAuthPattern.NONE) {
            err.println("note: the " + client.environment().id() + " environment is open access: nothing but the "
                    + "request is sent (--auth signed-jwt or api-key to send credentials)");
        }
        String id = request.copy().build().headers().firstValue("X-Request-ID").orElseThrow();
        err.println("X-Request-ID: " + id);
        long start = System.nanoTime();
        // The body goes out as it arrives, byte for byte, so a large download runs in small memory.
        PrintStream body = NhsCli.resultBytes(spec);
        HttpResponse<Void> response = client.send(request, retry, answer -> {
            writeHead(answer);
            return HttpResponse.BodySubscribers.ofByteArrayConsumer(
                    chunk -> chunk.ifPresentOrElse(bytes -> body.write(bytes, 0, bytes.length), body::flush));
        });
        err.println("HTTP " + response.statusCode() + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        return response.statusCode() / 100 == 2 ? NhsClient.ExitCode.OK : NhsClient.ExitCode.API_ERROR;
    }

    /** Everything the user asked for, checked before any key is read or token fetched. */
    HttpRequest.Builder buildRequest(PrintWriter err) throws IOException {
        if (NhsCli.blankToNull(url) == null) {
            throw new UsageException("no --url: give the API URL to call (or set NHS_API_URL)");
        }
        NhsAuthPattern pattern = auth.auth != null ? auth.auth
                : NhsAuthPattern.defaultFor(options.env.env, NhsCli.blankToNull(options.tokenUrl) != null);
        URI target = NhsCommands.checkApiUrl(url, NhsCli.source(spec, "--url"), pattern);
        HttpRequest.Builder request = HttpRequest.newBuilder(target);
        if (data != null && json != null) {
            throw new UsageException("--data and --json both give a body: use one of them");
        }
        String verb = method != null ? method.trim().toUpperCase(Locale.ROOT) : data != null || json != null ? "POST" : "GET";
        if (!METHODS.contains(verb)) {
            throw new UsageException("unknown --method '" + method + "': use one of GET, POST, PUT, PATCH, "
                    + "DELETE, HEAD, OPTIONS");
        }
        byte[] bytes = data != null ? body("--data", data) : json != null ? body("--json", json) : null;
        // GET and DELETE without a body get no body publisher: JDKs from 19 on send Content-Length: 0 with one.
        if (bytes == null && verb.equals("GET")) {
            request.GET();
        } else if (bytes == null && verb.equals("DELETE")) {
            request.DELETE();
        } else {
            request.method(verb, bytes == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(bytes));
        }
        for (String header : headers) {
            int colon = header.indexOf(':');
            String name = colon < 0 ? "" : header.substring(0, colon).trim();
            if (!name.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                throw new UsageException("--header '" + header + "' is not 'Name: value': write it like "
                        + "--header 'Accept: application/json'");
            }
            try {
                request.header(name, headerValue("--header " + name, name, header.substring(colon + 1).trim()));
            } catch (IllegalArgumentException e) {
                throw new UsageException("--header '" + name + "' cannot be set (" + e.getMessage()
                        + "): leave it to the HTTP client");
            }
        }
        if (json != null) {
            unlessGiven(request, "Content-Type", "application/json");
            unlessGiven(request, "Accept", "application/json");
        }
        unlessGiven(request, "X-Request-ID", requestId != null ? oneLineValue("--request-id", requestId.trim())
                : UUID.randomUUID().toString());
        if (NhsCli.blankToNull(correlationId) != null) {
            unlessGiven(request, "X-Correlation-ID",
                    oneLineValue(NhsCli.source(spec, "--correlation-id"), correlationId.trim()));
        }
        if (nhsNumber != null) {
            String number = oneLineValue("--nhs-number", nhsNumber.replaceAll("[\\s-]", ""));
            if (!NhsNumber.isValid(number)) {
                err.println("warning: '" + nhsNumber + "' is not a valid NHS number (modulus 11 check); sent anyway, "
                        + "as test numbers of some sandboxes fail the check");
            }
            unlessGiven(request, "nhs-login-nhs-number", number);
            unlessGiven(request, "NHSE-Product-ID", oneLineValue(NhsCli.source(spec, "--product-id"), productId));
        }
        if (retry < 0 || retry > 10) {
            throw new UsageException("--retry " + retry + " is out of range: use 0 to 10");
        }
        return request;
    }

    /** As curl: what the user typed with --header is sent as typed, so an option's header only fills a gap. */
    private static void unlessGiven(HttpRequest.Builder request, String name, String value) {
        if (request.copy().build().headers().firstValue(name).isEmpty()) {
            request.setHeader(name, value);
        }
    }

    static String oneLineValue(String option, String value) {
        return headerValue(option, null, value);
    }

    /** Refuses a line break (it would smuggle in a header) and non-ASCII (sent as '?'); credentials are masked. */
    static String headerValue(String option, String name, String value) {
        String shown = name == null ? value : NhsCommands.redactedHeader(name, value);
        if (value.chars().anyMatch(c -> (c < 0x20 && c != '\t') || c == 0x7f)) {
            shown = shown.replace("\r", "\\r").replace("\n", "\\n").replaceAll("\\p{Cntrl}", "?");
            throw new UsageException(option + " '" + shown + "' has a line break or control character: "
                    + "give the value on one line");
        }
        if (value.chars().anyMatch(c -> c > 0x7f)) {
            throw new UsageException(option + " '" + shown + "' has a non-ASCII character, which HTTP "
                    + "would send as '?': give it in ASCII (percent-encoded if the API expects that)");
        }
        return value;
    }

    /** A body option's bytes: text, @FILE or @- for stdin, as curl reads --data and --json. */
    private static byte[] body(String option, String value) throws IOException {
        if (value.equals("@-")) {
            return System.in.readAllBytes();
        }
        if (value.startsWith("@")) {
            if (value.length() == 1) {
                throw new UsageException(option + " '@' names no file: give " + option + " @FILE, or @- for stdin");
            }
            // Bytes, not text: a body may be binary.
            return NhsCommands.readFile(Path.of(value.substring(1)), option + " file");
        }
        return value.getBytes(StandardCharsets.UTF_8);
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

    /** NHS number check digit (modulus 11), from the NHS Data Dictionary. */
    static final class NhsNumber {
        static boolean isValid(String number) {
            if (!number.matches("\\d{10}")) {
                return false;
            }
            int sum = 0;
            for (int i = 0; i < 9; i++) {
                sum += (number.charAt(i) - '0') * (10 - i);
            }
            int check = (11 - sum % 11) % 11;
            return check != 10 && check == number.charAt(9) - '0';
        }
    }
}
