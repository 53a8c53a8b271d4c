import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The mock's page of its last requests, /_mock/requests: as JSON over plain HTTP, and as a real browser renders it. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MockPageTest {
    static final String APP = "watch-app-key-0123456789";
    static final String CHARSET_FORM = "application/x-www-form-urlencoded;charset=UTF-8";
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    @TempDir
    Path dir;

    MockIdentityService server;

    @BeforeEach
    void start() throws Exception {
        Path jwks = Files.writeString(dir.resolve("app.json"),
                new com.nimbusds.jose.jwk.JWKSet(MockServerTest.jwk(TestFixture.keyPair().getPublic(), MockServerTest.KID))
                        .toString());
        server = MockIdentityService.start("127.0.0.1", 0, List.of(new MockIdentityService.App(APP, jwks.toString(), true)),
                3600, new PrintWriter(new StringWriter()));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void aRefusalShowsInAHeadlessBrowserWithTheHeaderAtFault() throws Exception {
        assertTrue(Files.isExecutable(CHROMIUM), CHROMIUM + " is missing: this test needs Debian's chromium "
                + "(apt-get install -y chromium; .ci/run installs it)");
        assertEquals(415, post(CHARSET_FORM, MockServerTest.form(assertion(Map.of("alg", "RS512", "typ", "JWT",
                "kid", MockServerTest.KID)))).statusCode());
        assertEquals(400, post(MockServerTest.FORM, MockServerTest.form(assertion(Map.of("alg", "RS512", "typ", "JWT"))))
                .statusCode());
        for (String size : List.of("1280,800", "390,844")) {
            String dom = browse(server.baseUrl() + "/_mock/requests", size);
            assertTrue(dom.contains("Content-Type header must be application/x-www-form-urlencoded"), size + ": " + dom);
            assertTrue(dom.contains("Content-Type was '" + CHARSET_FORM + "'; NHS compares it as a plain string"), dom);
            assertTrue(dom.contains("Missing 'kid' header in client_assertion JWT"), dom);
            assertTrue(dom.contains("the JWT header has no kid (Authlib 1.2 drops headers passed to PrivateKeyJWT)"), dom);
            assertTrue(dom.contains("http-equiv=\"refresh\"") && dom.contains("width=device-width"), dom);
        }
    }

    @Test
    void theJsonListsTheLastHundredNewestFirst() throws Exception {
        for (int i = 0; i < 105; i++) {
            assertEquals(404, get("/nowhere/" + i).statusCode());
        }
        List<Map<String, Object>> shown = requests();
        assertEquals(100, shown.size());
        assertEquals("GET /nowhere/104", shown.get(0).get("route"));
        assertEquals("GET /nowhere/5", shown.get(99).get("route"));
        assertEquals("Not Found", shown.get(0).get("error_description"));
        assertEquals(404L, ((Number) shown.get(0).get("status")).longValue());
        get("/_mock/requests");
        assertEquals("GET /nowhere/104", requests().get(0).get("route"), "the page's own requests are not listed");
    }

    @Test
    void credentialsAreMaskedAndTheSignatureNeverShown() throws Exception {
        String jwt = assertion(Map.of("alg", "RS512", "typ", "JWT", "kid", MockServerTest.KID));
        HttpResponse<String> granted = post(MockServerTest.FORM, MockServerTest.form(jwt));
        assertEquals(200, granted.statusCode(), granted.body());
        String token = (String) TestSupport.parseJson(granted.body()).get("access_token");
        HttpResponse<String> json = get("/_mock/requests.json");
        assertEquals("application/json", json.headers().firstValue("Content-Type").orElse(null));
        assertEquals("nosniff", json.headers().firstValue("X-Content-Type-Options").orElse(null));
        String signature = jwt.substring(jwt.lastIndexOf('.') + 1);
        for (String secret : List.of(APP, token, signature)) {
            assertFalse(json.body().contains(secret), secret + " shown in " + json.body());
            assertFalse(get("/_mock/requests").body().contains(secret), secret);
        }
        Map<String, Object> entry = requests().get(0);
        assertEquals("watc…", entry.get("app"));
        assertEquals(MockServerTest.KID, entry.get("kid"));
        assertNull(entry.get("error"));
        @SuppressWarnings("unchecked")
        Map<String, Object> claims = (Map<String, Object>) ((Map<String, Object>) entry.get("client_assertion")).get("claims");
        assertEquals("watc…", claims.get("sub"));
        assertEquals("watc…", claims.get("iss"));
        assertEquals(server.tokenUrl(), claims.get("aud"));
    }

    @Test
    void whatTheClientSentIsEscapedInThePage() throws Exception {
        assertEquals(415, post("<b>x</b>\"", "a=b").statusCode());
        String page = get("/_mock/requests").body();
        assertTrue(page.contains("Content-Type was &#39;&lt;b&gt;x&lt;/b&gt;&quot;&#39;"), page);
        assertFalse(page.contains("<b>x"), page);
    }

    // ------------------------------------------------------------------ helpers

    /** The page as headless Chromium renders it at this window size. */
    String browse(String url, String windowSize) throws Exception {
        Path dom = dir.resolve("dom-" + windowSize.replace(',', 'x') + ".html");
        Process chromium = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + Files.createTempDirectory(dir, "profile"),
                "--window-size=" + windowSize, "--dump-dom", url)
                .redirectOutput(dom.toFile()).redirectError(dir.resolve("chromium.err").toFile()).start();
        try {
            // Only a hung browser meets this: a guard, not a measure of speed.
            assertTrue(chromium.waitFor(240, TimeUnit.SECONDS), "chromium did not finish");
            return Files.readString(dom);
        } finally {
            chromium.destroyForcibly();
        }
    }

    String assertion(Map<String, Object> header) throws Exception {
        Map<String, Object> claims = MockServerTest.claims(server);
        claims.put("iss", APP);
        claims.put("sub", APP);
        return MockServerTest.assertion(header, claims);
    }

    HttpResponse<String> post(String contentType, String body) throws Exception {
        return MockServerTest.HTTP.send(HttpRequest.newBuilder(URI.create(server.tokenUrl()))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                MockServerTest.utf8());
    }

    HttpResponse<String> get(String path) throws Exception {
        return MockServerTest.HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).build(),
                MockServerTest.utf8());
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> requests() throws Exception {
        HttpResponse<String> r = get("/_mock/requests.json");
        assertEquals(200, r.statusCode(), r.body());
        return (List<Map<String, Object>>) TestSupport.parseJson(r.body()).get("requests");
    }
}
