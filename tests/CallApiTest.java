import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** call-api in-process: what reaches the API, what reaches stdout and stderr, and the exit codes. */
class CallApiTest {

    @TempDir
    static Path keys;
    static Path pem;

    FakeServer tokenEndpoint;
    FakeServer api;
    AtomicInteger apiStatus = new AtomicInteger(200);

    @BeforeAll
    static void makeKey() {
        pem = TestFixture.key(keys, "api-kid");
    }

    @BeforeEach
    void servers() throws Exception {
        tokenEndpoint = new FakeServer(r -> FakeServer.Reply.token("bearer-secret-42"));
        api = new FakeServer(r -> {
            int status = apiStatus.get();
            return new FakeServer.Reply(status, Map.of("Content-Type", "application/json", "X-Echo", "yes"),
                    "{\"status\": " + status + ", \"path\": \"" + r.uri() + "\"}");
        });
    }

    @AfterEach
    void stop() {
        tokenEndpoint.close();
        api.close();
    }

    TestSupport.Result callApi(String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "k", "--private-key", pem.toString(),
                "--token-url", tokenEndpoint.url("/oauth2/token")));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new CallApi(), args.toArray(String[]::new));
    }

    @Test
    void sendsTheTokenBodyHeadersAndRequestIdAndPrintsTheBodyOnStdout() throws Exception {
        TestSupport.Result r = callApi("--url", api.url("/some-api/endpoint?x=1"), "--method", "post",
                "--data", "{\"a\": 1}", "--header", "Content-Type: application/json",
                "--header", "  X-Custom :  spaced value ", "--correlation-id", "corr-1").assertOk();
        assertEquals("{\"status\": 200, \"path\": \"/some-api/endpoint?x=1\"}", r.out(), "body exactly as received");
        FakeServer.Request req = api.requests.get(0);
        assertEquals("POST", req.method());
        assertEquals("Bearer bearer-secret-42", req.header("Authorization"));
        assertEquals("{\"a\": 1}", req.bodyText());
        assertEquals("application/json", req.header("Content-Type"));
        assertEquals("spaced value", req.header("X-Custom"));
        assertEquals("corr-1", req.header("X-Correlation-ID"));
        String requestId = req.header("X-Request-ID");
        assertTrue(requestId.matches("[0-9a-f-]{36}"), requestId);
        assertTrue(r.err().contains("X-Request-ID: " + requestId), r.err());
        assertTrue(r.err().matches("(?s).*HTTP 200 in \\d+ ms.*"), r.err());
        assertFalse(r.err().contains("bearer-secret-42") || r.out().contains("bearer-secret-42"), "token printed");
    }

    @Test
    void nonSuccessIsExit4WithTheBodyStillPrinted() {
        apiStatus.set(404);
        TestSupport.Result r = callApi("--url", api.url("/missing"));
        assertEquals(4, r.exit());
        assertEquals("{\"status\": 404, \"path\": \"/missing\"}", r.out());
        assertTrue(r.err().contains("HTTP 404 in"), r.err());
    }

    @Test
    void includePrintsStatusAndHeadersFirstLikeCurl() {
        TestSupport.Result r = callApi("--url", api.url("/x"), "--include").assertOk();
        assertTrue(r.out().startsWith("HTTP/1.1 200\r\n"), r.out());
        assertTrue(r.out().toLowerCase().contains("x-echo: yes\r\n"), r.out());
        assertTrue(r.out().endsWith("\r\n\r\n{\"status\": 200, \"path\": \"/x\"}"), r.out());
    }

    @Test
    void dataFromAFileAndRequestIdGiven() throws Exception {
        Path body = Files.write(keys.resolve("body.bin"), new byte[] {'h', 'i', '\n'});
        callApi("--url", api.url("/f"), "-X", "PUT", "--data", "@" + body, "--request-id", "fixed-id").assertOk();
        assertEquals("hi\n", api.requests.get(0).bodyText());
        assertEquals("fixed-id", api.requests.get(0).header("X-Request-ID"));
    }

    /** Only loopback's own spelling counts: a name under localhost, or one DNS maps to loopback today, does not. */
    @Test
    void aNameUnderLocalhostGetsNoTokenInClear() throws Exception {
        callApi("--url", "http://api.evil.localhost:" + api.port() + "/x").assertOneLineError(2, "plain http", "bearer token");
        assertTrue(tokenEndpoint.requests.isEmpty(), "no token was even fetched");
    }

    @Test
    void retriesResendWithTheSameRequestId() {
        AtomicInteger calls = new AtomicInteger();
        api.close();
        try (FakeServer flaky = new FakeServer(r -> calls.incrementAndGet() < 3
                ? new FakeServer.Reply(503, Map.of("Retry-After", "0"), "busy") : FakeServer.Reply.json(200, "{}"))) {
            TestSupport.Result r = callApi("--url", flaky.url("/r"), "--retry", "2").assertOk();
            assertEquals(3, flaky.requests.size());
            assertEquals(List.of("warning: HTTP 503 from the API; will retry in 0 s, 1 retry left",
                    "warning: HTTP 503 from the API; will retry in 0 s, 0 retries left"),
                    r.err().lines().filter(l -> l.contains("retry")).toList(), "each resend is said on stderr");
            assertEquals(1, flaky.requests.stream().map(q -> q.header("X-Request-ID")).distinct().count());
            assertEquals(1, tokenEndpoint.requests.size(), "one token for all tries");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void nhsNumberSendsTheLoginAndProductHeadersAndWarnsOnABadCheckDigit() {
        TestSupport.Result ok = callApi("--url", api.url("/eligibility-signposting-api/patient-check/9000000009"),
                "--nhs-number", "9000000009").assertOk();
        assertFalse(ok.err().contains("NHS number"), ok.err());
        FakeServer.Request req = api.requests.get(0);
        assertEquals("9000000009", req.header("nhs-login-nhs-number"));
        assertEquals("P.WTJ-FJT", req.header("NHSE-Product-ID"));

        TestSupport.Result warned = callApi("--url", api.url("/p"), "--nhs-number", "5000000001", "--product-id", "P.OTHER")
                .assertOk();
        assertTrue(warned.err().contains("warning: '5000000001' is not a valid NHS number"), warned.err());
        assertEquals("P.OTHER", api.requests.get(1).header("NHSE-Product-ID"));
    }

    @Test
    void theNhsNumberCheckDigitFollowsTheDataDictionary() {
        assertTrue(CallApi.NhsNumber.isValid("9000000009"));
        assertTrue(CallApi.NhsNumber.isValid("4010232137"));
        assertFalse(CallApi.NhsNumber.isValid("4010232138"));
        assertFalse(CallApi.NhsNumber.isValid("5000000001"));
        assertFalse(CallApi.NhsNumber.isValid("123456789"));
        assertFalse(CallApi.NhsNumber.isValid("12345678AB"));
    }

    @Test
    void theSandboxIsOpenAccessSoNoTokenIsFetched() {
        TestSupport.Result r = TestSupport.runInProcess(new CallApi(), "--api-key", "k", "--private-key", pem.toString(),
                "--env", "sandbox", "--url", api.url("/sandbox")).assertOk();
        assertTrue(tokenEndpoint.requests.isEmpty());
        assertEquals(null, api.requests.get(0).header("Authorization"));
        assertTrue(r.err().contains("open access"), r.err());
    }

    @Test
    void aTokenFailureIsExit3AndTheApiIsNotCalled() {
        tokenEndpoint.close();
        try (FakeServer refusing = new FakeServer(r -> FakeServer.Reply.nhsError(401, "invalid_request",
                "Invalid 'iss'/'sub' claims in client_assertion JWT"))) {
            TestSupport.Result r = TestSupport.runInProcess(new CallApi(), "--api-key", "k", "--private-key", pem.toString(),
                    "--token-url", refusing.url("/oauth2/token"), "--url", api.url("/x"));
            assertEquals(3, r.exit(), r.err());
            assertTrue(api.requests.isEmpty());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void verboseShowsTheRequestWithTheBearerRedacted() {
        TestSupport.Result r = callApi("--url", api.url("/v"), "--verbose").assertOk();
        assertTrue(r.err().contains("> Authorization: Bearer ****"), r.err());
        assertFalse(r.err().contains("bearer-secret-42"), r.err());
    }

    @Test
    void dataWithoutAMethodIsAPostAsInCurlAndAnExplicitMethodWins() {
        callApi("--url", api.url("/d"), "--data", "x=1").assertOk();
        callApi("--url", api.url("/d"), "--data", "x=2", "-X", "PUT").assertOk();
        callApi("--url", api.url("/d")).assertOk();
        assertEquals(List.of("POST", "PUT", "GET"), api.requests.stream().map(FakeServer.Request::method).toList());
        assertEquals("x=1", api.requests.get(0).bodyText());
    }

    @Test
    void jsonPostsWithJsonHeadersFromTextAFileOrStdinAndTheUsersHeadersWin() throws Exception {
        callApi("--url", api.url("/j"), "--json", "{\"a\": 1}").assertOk();
        FakeServer.Request text = api.requests.get(0);
        assertEquals("POST", text.method());
        assertEquals("{\"a\": 1}", text.bodyText());
        assertEquals(List.of("application/json"), text.headers().get("Content-Type"));
        assertEquals(List.of("application/json"), text.headers().get("Accept"));

        Path file = Files.writeString(keys.resolve("body.json"), "{\"from\": \"file\"}");
        callApi("--url", api.url("/j"), "--json", "@" + file, "-X", "PATCH",
                "-H", "content-type: application/fhir+json").assertOk();
        FakeServer.Request fromFile = api.requests.get(1);
        assertEquals("PATCH", fromFile.method());
        assertEquals("{\"from\": \"file\"}", fromFile.bodyText());
        assertEquals(List.of("application/fhir+json"), fromFile.headers().get("Content-Type"), "the user's header wins");
        assertEquals(List.of("application/json"), fromFile.headers().get("Accept"));

        java.io.InputStream stdin = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("[1, 2]".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            callApi("--url", api.url("/j"), "--json", "@-").assertOk();
        } finally {
            System.setIn(stdin);
        }
        assertEquals("[1, 2]", api.requests.get(2).bodyText());

        callApi("--url", api.url("/j"), "--json", "{}", "--data", "x").assertOneLineError(2, "--data and --json", "use one");
        callApi("--url", api.url("/j"), "--json", "@").assertOneLineError(2, "--json '@'", "@FILE, or @- for stdin");
        assertEquals(3, api.requests.size());
    }

    @Test
    void headersTheUserGivesAreSentAsGivenAndTheRequestIdPrintedIsTheirs() {
        TestSupport.Result r = callApi("--url", api.url("/h"), "-H", "X-Request-ID: mine", "-H", "X-Correlation-ID: c-typed",
                "--correlation-id", "c-option", "-H", "User-Agent: my-script/2").assertOk();
        FakeServer.Request req = api.requests.get(0);
        assertEquals(List.of("mine"), req.headers().get("X-Request-ID"));
        assertEquals(List.of("c-typed"), req.headers().get("X-Correlation-ID"));
        assertEquals(List.of("my-script/2"), req.headers().get("User-Agent"));
        assertTrue(r.err().contains("X-Request-ID: mine"), r.err());
    }

    @Test
    void everyRequestNamesTheToolAndItsVersionInUserAgent() {
        callApi("--url", api.url("/ua")).assertOk();
        assertEquals("nhs-auth/" + NhsClient.VERSION, tokenEndpoint.requests.get(0).header("User-Agent"));
        assertEquals(List.of("nhs-auth/" + NhsClient.VERSION), api.requests.get(0).headers().get("User-Agent"));
    }

    @Test
    void aNonAsciiHeaderValueIsRefusedNotSentAsQuestionMarks() {
        callApi("--url", api.url("/n"), "-H", "X-Name: caf\u00e9").assertOneLineError(2, "--header X-Name", "'caf\u00e9'",
                "non-ASCII");
        callApi("--url", api.url("/n"), "--correlation-id", "\u00fc-1").assertOneLineError(2, "--correlation-id", "non-ASCII");
        callApi("--url", api.url("/n"), "--nhs-number", "\uff19000000009").assertOneLineError(2, "--nhs-number", "non-ASCII");
        TestSupport.Result secret = callApi("--url", api.url("/n"), "-H", "apikey: s\u00e9cret-value")
                .assertOneLineError(2, "--header apikey '****'", "non-ASCII");
        assertFalse(secret.err().contains("cret-value"), secret.err());
        assertTrue(api.requests.isEmpty());
        assertTrue(tokenEndpoint.requests.isEmpty());
    }

    @Test
    void aGetOrDeleteWithoutABodyHasNoBodyPublisherSoNoContentLength() throws Exception {
        for (String method : List.of("GET", "DELETE")) {
            CallApi command = new CallApi();
            NhsCli.commandLine(command).parseArgs("--url", api.url("/g"), "-X", method);
            java.net.http.HttpRequest built = command.buildRequest(new java.io.PrintWriter(new java.io.StringWriter()))
                    .build();
            assertEquals(method, built.method());
            assertTrue(built.bodyPublisher().isEmpty(), method + " given a body publisher");
        }
        // JDK 17 and 18 add Content-Length: 0 to every request without a body; from JDK 19 on, one without a
        // publisher goes without, which is what the wire shows there.
        if (Runtime.version().feature() >= 19) {
            callApi("--url", api.url("/g")).assertOk();
            assertEquals(null, api.requests.get(0).header("Content-Length"));
        }
    }

    @Test
    void verboseMasksEveryCredentialHeaderInRequestsAndResponses() throws Exception {
        Map<String, String> answer = Map.of("Set-Cookie", "session=resp-secret-1", "X-Refresh-Token", "resp-secret-2",
                "X-Echo", "visible-answer");
        try (FakeServer server = new FakeServer(r -> new FakeServer.Reply(200, answer, "{}"))) {
            TestSupport.Result r = callApi("--url", server.url("/v"), "--verbose", "-H", "apikey: req-secret-1",
                    "-H", "X-API-Key: req-secret-2", "-H", "Cookie: a=req-secret-3", "-H", "X-Client-Secret: req-secret-4",
                    "-H", "X-Id-Token: req-secret-5", "-H", "X-Plain: visible-request").assertOk();
            for (String secret : List.of("req-secret-1", "req-secret-2", "req-secret-3", "req-secret-4", "req-secret-5",
                    "resp-secret-1", "resp-secret-2", "bearer-secret-42")) {
                assertFalse(r.err().contains(secret), () -> secret + " traced:\n" + r.err());
            }
            String err = r.err().toLowerCase(java.util.Locale.ROOT);
            for (String masked : List.of("> apikey: ****", "> x-api-key: ****", "> cookie: ****", "> x-client-secret: ****",
                    "> x-id-token: ****", "> authorization: bearer ****", "< set-cookie: ****", "< x-refresh-token: ****")) {
                assertTrue(err.contains(masked), () -> masked + " missing:\n" + r.err());
            }
            assertTrue(r.err().contains("> X-Plain: visible-request"), r.err());
            assertTrue(err.contains("< x-echo: visible-answer"), r.err());
            assertEquals("req-secret-1", server.requests.get(0).header("apikey"), "only the trace is masked");

            // --include prints the answer's headers because the user asked for them; still no request secret.
            TestSupport.Result included = callApi("--url", server.url("/i"), "--include", "-H", "apikey: req-secret-1")
                    .assertOk();
            assertTrue(included.out().toLowerCase(java.util.Locale.ROOT).contains("set-cookie: session=resp-secret-1"),
                    included.out());
            assertFalse(included.out().contains("req-secret-1") || included.err().contains("req-secret-1"), included.err());
        }
    }

    @Test
    void theTraceRuleMasksCredentialsByNameWhateverTheCase() {
        assertEquals("Bearer ****", NhsCommands.redactedHeader("AUTHORIZATION", "Bearer abc"));
        assertEquals("Basic ****", NhsCommands.redactedHeader("Proxy-Authorization", "Basic dXNlcjpwYXNz"));
        assertEquals("****", NhsCommands.redactedHeader("ApiKey", "k"));
        assertEquals("****", NhsCommands.redactedHeader("x-access-TOKEN-hint", "t"));
        assertEquals("****", NhsCommands.redactedHeader("Client-Secret", "s"));
        assertEquals("application/json", NhsCommands.redactedHeader("Content-Type", "application/json"));
        assertEquals("abc-123", NhsCommands.redactedHeader("X-Request-ID", "abc-123"));
    }

    @Test
    void badInputIsOneLineExit2BeforeAnyRequest() {
        callApi("--url", api.url("/x"), "--header", "NoColonHere").assertOneLineError(2, "NoColonHere", "Name: value");
        callApi("--url", api.url("/x"), "--method", "FETCH").assertOneLineError(2, "unknown --method 'FETCH'");
        callApi("--url", api.url("/x"), "--data", "@" + keys.resolve("missing.json")).assertOneLineError(2, "missing.json", "does not exist");
        callApi("--url", "int.api.service.nhs.uk/x").assertOneLineError(2, "must start with https://");
        callApi("--url", "ftp://example.org/x").assertOneLineError(2, "must start with https://");
        callApi().assertOneLineError(2, "no --url");
        callApi("--url", api.url("/x"), "--header", "Host: evil").assertOneLineError(2, "'Host' cannot be set");
        callApi("--url", api.url("/x"), "--retry", "many").assertOneLineError(2, "--retry");
        assertTrue(api.requests.isEmpty());
        assertTrue(tokenEndpoint.requests.isEmpty());
    }

    @Test
    void helpCallsRequiredOnlyWhatEveryAuthPatternNeeds() {
        TestSupport.runInProcess(new CallApi(), "--help").assertOk();
        picocli.CommandLine.Model.CommandSpec spec = NhsCli.commandLine(new CallApi()).getCommandSpec();
        for (String optional : List.of("--api-key", "--private-key")) {
            assertFalse(String.join(" ", spec.findOption(optional).description()).contains("Required"), optional);
        }
        assertTrue(String.join(" ", spec.findOption("--url").description()).contains("Required."));
        assertTrue(String.join(" ", spec.findOption("--auth").description()).contains(
                "api-key (the apikey header: needs --api-key), none (open access: needs neither)"));
    }
}
