import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/nhsauth/client/NhsClient.java as users' own scripts use it: one //SOURCES line, NHS_* variables, no picocli. */
class LibraryTest {

    @TempDir
    Path scratch;

    static final String SCRIPT = String.join("\n",
            "///usr/bin/env jbang \"$0\" \"$@\" ; exit $?",
            "//SOURCES \"%s\"",
            "import nhsauth.client.NhsClient;",
            "public class MyCheck {",
            "    public static void main(String... args) {",
            "        NhsClient nhs = NhsClient.fromEnvironment();",
            "        var hello = nhs.get(args[0] + \"/hello-world/hello/application\");",
            "        var echo = nhs.postJson(args[0] + \"/echo/mine\", \"{\\\"a\\\": 1}\");",
            "        System.out.println(hello.statusCode() + \" \" + hello.body());",
            "        System.out.println(echo.statusCode() + \" \" + echo.body());",
            "        System.out.println(\"same token: \" + nhs.accessToken().equals(nhs.accessToken()));",
            "        System.exit(0);",
            "    }",
            "}",
            "");

    @Test
    void aUserScriptWithOneSourcesLineGetsATokenCallsTheApiAndReusesTheToken() throws Exception {
        Path pem = TestFixture.key(scratch, "lib-1");
        Path script = scratch.resolve("MyCheck.java");
        Files.writeString(script, String.format(SCRIPT, TestSupport.repoRoot().resolve("scripts/nhsauth/client/NhsClient.java")));
        try (MockIdentityService mock = MockIdentityService.start("127.0.0.1", 0,
                List.of(new MockIdentityService.App("lib-api-key", scratch.resolve("lib-1.json").toString(), true)), 3600, null)) {
            Map<String, String> env = Map.of("NHS_API_KEY", "lib-api-key", "NHS_PRIVATE_KEY", pem.toString(),
                    "NHS_TOKEN_URL", mock.tokenUrl());
            TestSupport.Result r = TestSupport.jbang(scratch, env, script.toString(), mock.baseUrl()).assertOk();
            assertTrue(r.out().contains("200 {\"message\":\"Hello Application!\"}"), r.out());
            assertTrue(r.out().contains("\"path\":\"/echo/mine\""), r.out());
            assertTrue(r.out().contains("\"content-type\":\"application/json\"") || r.out().contains("\"Content-type\":\"application/json\""), r.out());
            assertTrue(r.out().contains("same token: true"), r.out());
            assertEquals(1, mock.tokensIssued(), "one token for the whole run");
        }
        String classpath = TestSupport.jbang(scratch, Map.of(), "info", "classpath", script.toString()).assertOk().out();
        assertTrue(classpath.contains("nimbus-jose-jwt"), classpath);
        assertFalse(classpath.contains("picocli"), "the library needs no picocli: " + classpath);
    }

    @Test
    void fromEnvironmentTakesEveryVariableAndLaterSettersWin() throws Exception {
        Path pem = TestFixture.key(scratch, "env-1");
        Map<String, String> vars = new HashMap<>(Map.of("NHS_API_KEY", "k", "NHS_PRIVATE_KEY", pem.toString(),
                "NHS_ENV", "dev", "NHS_KID", "from-env", "NHS_TIMEOUT", "7"));
        NhsClient client = NhsClient.builder().fromEnvironment(vars).notices(null).build();
        assertEquals(NhsEnvironment.DEV, client.environment());
        assertEquals("from-env", client.kid());
        assertEquals("https://dev.api.service.nhs.uk/oauth2/token", client.tokenUrl());

        NhsClient other = client.toBuilder().kid("override").tokenUrl("http://127.0.0.1:9/oauth2/token").build();
        assertEquals("override", other.kid());
        assertEquals("http://127.0.0.1:9/oauth2/token", other.tokenUrl());
        assertEquals("from-env", client.kid(), "the first client is unchanged");

        vars.put("NHS_ENV", "bogus");
        UsageException e = assertThrows(UsageException.class,
                () -> NhsClient.builder().fromEnvironment(vars));
        assertTrue(e.getMessage().contains("NHS_ENV"), e.getMessage());
    }

    @Test
    void libraryMessagesNameVariablesAndBuilderMethodsNotFlags() {
        UsageException e = assertThrows(UsageException.class,
                () -> NhsClient.builder().fromEnvironment(Map.of()).build());
        assertEquals("no API key: set NHS_API_KEY or call apiKey(…) to your app's key from the developer portal", e.getMessage());
        assertFalse(e.getMessage().contains("--"), e.getMessage());
        UsageException noKey = assertThrows(UsageException.class,
                () -> NhsClient.builder().apiKey("k").build());
        assertTrue(noKey.getMessage().contains("NHS_PRIVATE_KEY"), noKey.getMessage());
        assertFalse(noKey.getMessage().contains("--"), noKey.getMessage());
    }

    @Test
    void sendLeavesTheCallersRequestBuilderAsItWas() {
        NhsClient client = TestFixture.client().build();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(TestFixture.mock().baseUrl() + "/echo/x")).GET();
        assertEquals(200, client.send(request).statusCode());
        HttpRequest after = request.build();
        assertTrue(after.headers().firstValue("Authorization").isEmpty(), "no token added to the caller's builder");
        assertTrue(after.headers().firstValue("X-Request-ID").isEmpty(), "no request id added to the caller's builder");
        var first = client.send(request);
        var second = client.send(request);
        assertNotEquals(first.headers().firstValue("X-Request-ID"), second.headers().firstValue("X-Request-ID"),
                "each send gets its own request id");
    }

    @Test
    void theTemplateWorksFromAndIntoFoldersWithSpaces() throws Exception {
        Path lib = Files.createDirectories(scratch.resolve("shared libs/nhs auth"));
        try (var files = Files.list(TestSupport.repoRoot().resolve("scripts/nhsauth/client"))) {
            for (Path f : files.toList()) {
                Files.copy(f, lib.resolve(f.getFileName()));
            }
        }
        Path work = Files.createDirectories(scratch.resolve("my scripts"));
        Path pem = TestFixture.key(work, "tpl-1");
        TestSupport.jbang(work, Map.of(), "init", "-t", "nhs-script@" + TestSupport.repoRoot(),
                "-Dnhs_client=" + lib.resolve("NhsClient.java"), "Spaced.java").assertOk();
        MockIdentityService mock = TestFixture.mock();
        Map<String, String> env = Map.of("NHS_API_KEY", TestFixture.API_KEY, "NHS_PRIVATE_KEY", pem.toString(),
                "NHS_TOKEN_URL", mock.tokenUrl());
        TestSupport.Result r = TestSupport.jbang(work, env, work.resolve("Spaced.java").toString(),
                mock.baseUrl() + "/hello-world/hello/application").assertOk();
        assertTrue(r.out().contains("Hello Application!"), r.out());
    }
}
