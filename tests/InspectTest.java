import nhsauth.client.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceLock;

/** inspect: the endpoint's every rule on an assertion, offline, judged by the mock's own checks. */
class InspectTest {
    static final String KID = "inspect-1";

    @TempDir
    static Path dir;

    @BeforeAll
    static void keys() {
        TestFixture.key(dir, KID);
    }

    /** A broken assertion: what is changed, and the row the endpoint reports first. */
    record Broken(String name, int row, String description, Consumer<Map<String, Object>> header,
            Consumer<Map<String, Object>> claims, boolean otherKey) {
    }

    static final List<Broken> BROKEN = List.of(
            new Broken("wrong alg", 9, "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'",
                    h -> h.put("alg", "RS256"), c -> { }, false),
            new Broken("expired", 10, "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
                    h -> { }, c -> c.put("exp", nowSeconds() - 60), false),
            new Broken("missing kid", 11, "Missing 'kid' header in client_assertion JWT", h -> h.remove("kid"), c -> { }, false),
            new Broken("iss not sub", 15, "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
                    h -> { }, c -> c.put("iss", "another-app"), false),
            new Broken("exp too far", 19, "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
                    h -> { }, c -> c.put("exp", nowSeconds() + 3600), false),
            new Broken("unknown kid", 23, "Invalid 'kid' header in client_assertion JWT - no matching public key",
                    h -> h.put("kid", "nobody-knows"), c -> { }, false),
            new Broken("bad signature", 24, "JWT signature verification failed", h -> { }, c -> { }, true),
            new Broken("wrong aud", 25, "Missing or invalid 'aud' claim in client_assertion JWT",
                    h -> { }, c -> c.put("aud", "https://int.api.service.nhs.uk/oauth2/token"), false));

    static long nowSeconds() {
        return System.currentTimeMillis() / 1000;
    }

    static String assertion(Consumer<Map<String, Object>> headerChange, Consumer<Map<String, Object>> claimsChange,
            boolean otherKey) throws Exception {
        Map<String, Object> header = new LinkedHashMap<>(Map.of("alg", "RS512", "typ", "JWT", "kid", KID));
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("iss", TestFixture.API_KEY);
        claims.put("sub", TestFixture.API_KEY);
        claims.put("aud", TestFixture.mock().tokenUrl());
        claims.put("jti", UUID.randomUUID().toString());
        claims.put("exp", nowSeconds() + 240);
        headerChange.accept(header);
        claimsChange.accept(claims);
        PrivateKey key = (otherKey ? TestFixture.otherKeyPair() : TestFixture.keyPair()).getPrivate();
        String algorithm = "RS256".equals(header.get("alg")) ? "SHA256withRSA" : "SHA512withRSA";
        return MockServerTest.sign(algorithm, key, header, claims);
    }

    static Path file(String jwt) throws Exception {
        return Files.writeString(Files.createTempFile(dir, "assertion", ".jwt"), jwt + "\n");
    }

    /** inspect with everything it can use: the mock's token URL, the registered JWKS, the API key. */
    static TestSupport.Result inspect(String fileOrDash, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of(fileOrDash, "--token-url", TestFixture.mock().tokenUrl(),
                "--jwks", dir.resolve(KID + ".json").toString(), "--api-key", TestFixture.API_KEY));
        args.addAll(List.of(more));
        return TestSupport.runInProcess(new Inspect(), args.toArray(String[]::new));
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> rules(TestSupport.Result r) {
        return (List<Map<String, Object>>) TestSupport.parseJson(r.out()).get("rules");
    }

    static Map<String, Object> firstFailure(TestSupport.Result r) {
        Object id = TestSupport.parseJson(r.out()).get("first_failure");
        return rules(r).stream().filter(rule -> rule.get("id").equals(id)).findFirst().orElse(null);
    }

    @Test
    void aGoodAssertionPassesEveryRuleItCanCheck() throws Exception {
        String jwt = assertion(h -> { }, c -> { }, false);
        TestSupport.Result r = inspect(file(jwt).toString()).assertOk();
        assertTrue(r.out().contains("\"kid\":\"" + KID + "\""), r.out());
        assertTrue(r.out().contains("would accept it"), r.out());
        assertFalse(r.out().contains(jwt.substring(jwt.lastIndexOf('.') + 1)), "never the signature");
        assertFalse(r.out().contains("FAIL"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("exp     ") && l.contains(" min ") && l.contains("(in ")), r.out());
        TestSupport.Result json = inspect(file(jwt).toString(), "--format", "json").assertOk();
        List<Map<String, Object>> rules = rules(json);
        assertEquals(19, rules.size(), "rows 8 to 26");
        for (Map<String, Object> rule : rules) {
            assertTrue(rule.keySet().containsAll(List.of("id", "status", "error_description")), rule.toString());
            assertTrue(List.of("pass", "not_checkable").contains(rule.get("status")), rule.toString());
        }
        assertEquals(List.of(18, 21, 22, 26), rules.stream().filter(rule -> rule.get("status").equals("not_checkable"))
                .map(rule -> ((Number) rule.get("row")).intValue()).toList(), "rows that need the service's state");
        assertNull(TestSupport.parseJson(json.out()).get("first_failure"));
        assertTrue(rules.stream().allMatch(rule -> rule.get("fix") == null), "a fix only for a failed row");
    }

    /** An exp past any date is row 19's failure, not a crash on showing it as a date. */
    @Test
    void anExpPastAnyDateIsARefusalNotACrash() throws Exception {
        for (double exp : new double[] {1e300, -1e300}) {
            TestSupport.Result r = inspect(file(assertion(h -> { }, c -> c.put("exp", exp), false)).toString());
            assertEquals(3, r.exit(), r.err() + r.out());
        }
    }

    @Test
    void eachBrokenAssertionFailsItsRowWithTheEndpointsStringAndExit3() throws Exception {
        for (Broken b : BROKEN) {
            TestSupport.Result r = inspect(file(assertion(b.header(), b.claims(), b.otherKey())).toString(), "--format", "json");
            assertEquals(3, r.exit(), b.name() + ": " + r.err());
            Map<String, Object> first = firstFailure(r);
            assertEquals(b.row(), ((Number) first.get("row")).intValue(), b.name());
            assertEquals(b.description(), first.get("error_description"), b.name());
            assertTrue(first.get("fix") instanceof String, b.name());
            TestSupport.Result text = inspect(file(assertion(b.header(), b.claims(), b.otherKey())).toString());
            assertEquals(3, text.exit(), b.name());
            assertTrue(text.out().endsWith(": " + b.description() + "\n"), b.name() + ":\n" + text.out());
        }
    }

    @Test
    void withoutJwksOrApiKeyThoseRowsAreNotCheckable() throws Exception {
        TestSupport.Result r = TestSupport.runInProcess(new Inspect(), file(assertion(h -> { }, c -> { }, false)).toString(),
                "--token-url", TestFixture.mock().tokenUrl(), "--format", "json").assertOk();
        assertEquals(List.of(18, 20, 21, 22, 23, 24, 26), rules(r).stream().filter(rule -> rule.get("status").equals("not_checkable"))
                .map(rule -> ((Number) rule.get("row")).intValue()).toList());
        TestSupport.Result intAud = TestSupport.runInProcess(new Inspect(), file(assertion(h -> { }, c -> { }, false)).toString(),
                "--env", "int", "--format", "json");
        assertEquals(3, intAud.exit());
        assertEquals("aud_invalid", TestSupport.parseJson(intAud.out()).get("first_failure"));
    }

    @Test
    void notAJwtIsOneLineAndExit2() throws Exception {
        inspect(file("not-a-jwt").toString()).assertOneLineError(2, "is not a JWT");
        inspect(file("a.b").toString()).assertOneLineError(2, "is not a JWT");
    }

    @Test
    @ResourceLock("java.lang.System.in")
    void aDashReadsTheAssertionFromStdin() throws Exception {
        InputStream stdin = System.in;
        try {
            System.setIn(new ByteArrayInputStream((assertion(h -> { }, c -> { }, false) + "\r\n").getBytes(StandardCharsets.UTF_8)));
            inspect("-").assertOk();
            System.setIn(new ByteArrayInputStream(new byte[0]));
            inspect("-").assertOneLineError(2, "'-' is empty");
        } finally {
            System.setIn(stdin);
        }
    }

    /** The mock and inspect judge with the same rows: the mock's refusal is inspect's first failure, string for string. */
    @Test
    void theMockRefusesEachBrokenAssertionWithInspectsFirstFailure() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        for (Broken b : BROKEN) {
            String jwt = assertion(b.header(), b.claims(), b.otherKey());
            Map<String, Object> first = firstFailure(inspect(file(jwt).toString(), "--format", "json"));
            HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(TestFixture.mock().tokenUrl()))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(MockServerTest.form(jwt))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(((Number) first.get("http_status")).intValue(), refused.statusCode(), b.name());
            assertEquals(first.get("error_description"), TestSupport.parseJson(refused.body()).get("error_description"), b.name());
        }
        String good = assertion(h -> { }, c -> { }, false);
        inspect(file(good).toString()).assertOk();
        assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(TestFixture.mock().tokenUrl()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(MockServerTest.form(good))).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
    }
}
