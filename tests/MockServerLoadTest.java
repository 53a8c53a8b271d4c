import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.stream.IntStream;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mock token endpoint under hostile and heavy traffic on loopback: a seeded fuzz of mutated
 * client assertions and forms must never get a 5xx nor a token, and concurrent clients must all
 * be served, each with its own token, with every remembered jti forgotten once it has expired.
 * Bounded in work and time; nothing here measures speed.
 */
class MockServerLoadTest {

    static final String API_KEY = "load-api-key";
    static final String KID = "load-kid";
    static final long SEED = 20261128L;
    static final int FUZZ_CASES = 3000;
    static final int FUZZ_BASE_ASSERTIONS = 100;
    static final int THREADS = 8;
    static final int PER_THREAD = 250;
    /**
     * Short, so the test waits little for every jti to expire after the load. How busy the machine
     * is never matters: an assertion that expires on its way is signed anew (see {@link #tokenRequest}).
     */
    static final int LOAD_ASSERTION_SECONDS = 10;
    /** Only a hung exchange meets this: a guard against hangs, never a measure of speed. */
    static final Duration HANG_GUARD = Duration.ofMinutes(5);

    static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(HANG_GUARD)
            .build();

    @TempDir
    static Path dir;
    /** The token request as NHS documents it, written here: the mock is judged against the reference, not the client. */
    static final String FORM = "application/x-www-form-urlencoded";

    static String tokenForm(String assertion) {
        return "grant_type=client_credentials&client_assertion_type="
                + java.net.URLEncoder.encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", StandardCharsets.UTF_8)
                + "&client_assertion=" + java.net.URLEncoder.encode(assertion, StandardCharsets.UTF_8);
    }

    static JWSSigner signer;
    static Path jwks;

    MockIdentityService server;
    ExecutorService pool;

    @BeforeAll
    static void appKey() throws Exception {
        KeyPair pair = TestFixture.keyPair();
        NhsKeys.writeKeyFiles(dir, KID, pair, null, false);
        signer = new RSASSASigner(pair.getPrivate());
        jwks = NhsKeys.keyFiles(dir, KID).get(2);
    }

    @BeforeEach
    void start() throws Exception {
        server = MockIdentityService.start("127.0.0.1", 0, List.of(new MockIdentityService.App(API_KEY, jwks.toString(), true)), 3600, null);
        pool = Executors.newFixedThreadPool(THREADS);
    }

    @AfterEach
    void stop() throws InterruptedException {
        pool.shutdownNow();
        pool.awaitTermination(10, TimeUnit.SECONDS);
        server.close();
    }

    /** A client assertion as get-token signs one, but living {@code lifetimeSeconds}. */
    String assertion(int lifetimeSeconds) {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS512).type(JOSEObjectType.JWT).keyID(KID).build(),
                new JWTClaimsSet.Builder().issuer(API_KEY).subject(API_KEY).audience(server.tokenUrl())
                        .jwtID(UUID.randomUUID().toString())
                        .expirationTime(new Date((Instant.now().getEpochSecond() + lifetimeSeconds) * 1000)).build());
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jwt.serialize();
    }

    // ------------------------------------------------------------------ fuzz

    /** One mutated token request, made up front from the seed so a failure can be replayed. */
    record Case(int base, String contentType, byte[] body, String mutations) {
    }

    @Test
    void mutatedAssertionsAndFormsNeverGetA5xxOrAToken() throws Exception {
        // Should a busy machine outlive them, the cases meet row 10 instead of later checks: the same verdicts hold.
        List<String> bases = IntStream.range(0, FUZZ_BASE_ASSERTIONS).mapToObj(i -> assertion(240)).toList();
        Random random = new Random(SEED);
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < FUZZ_CASES; i++) {
            cases.add(mutate(random, random.nextInt(bases.size()), bases));
        }

        Map<Integer, AtomicInteger> tokensPerBase = new ConcurrentHashMap<>();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger fiveHundreds = new AtomicInteger();
        List<Future<?>> sent = new ArrayList<>();
        for (List<Case> share : split(cases, THREADS)) {
            sent.add(pool.submit((Callable<Void>) () -> {
                for (Case c : share) {
                    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.tokenUrl()))
                            .timeout(HANG_GUARD)
                            .header("Content-Type", c.contentType())
                            .POST(HttpRequest.BodyPublishers.ofByteArray(c.body())).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() >= 500) {
                        fiveHundreds.incrementAndGet();
                        failures.add("HTTP " + r.statusCode() + " for " + c.mutations() + ": " + r.body());
                    } else if (r.statusCode() == 200) {
                        if (!sameAssertion(assertionAsTheServerReadsIt(c.body()), bases.get(c.base()))) {
                            failures.add("a token for a mutated assertion (" + c.mutations() + ")");
                        }
                        tokensPerBase.computeIfAbsent(c.base(), k -> new AtomicInteger()).incrementAndGet();
                    }
                }
                return null;
            }));
        }
        await(sent);
        assertEquals(List.of(), head(failures), failures.size() + " failures, " + fiveHundreds + " of them 5xx");
        tokensPerBase.forEach((base, n) -> assertEquals(1, n.get(), "base assertion " + base + " got a token twice"));
        assertEquals(tokensPerBase.size(), server.tokensIssued(), "no token issued other than those seen");
    }

    /** Flips, inserts or deletes bytes in the assertion, a field name or value, or the Content-Type. */
    static Case mutate(Random random, int base, List<String> bases) {
        StringBuilder form = new StringBuilder(tokenForm(bases.get(base)));
        String contentType = FORM;
        List<String> done = new ArrayList<>();
        // Mostly one edit, so most cases get past the early checks to the claims and the signature.
        int roll = random.nextInt(10);
        int n = roll < 7 ? 1 : roll < 9 ? 2 : 3;
        for (int m = 0; m < n; m++) {
            int assertionStart = Math.max(0, form.indexOf("client_assertion=") + "client_assertion=".length());
            switch (random.nextInt(8)) {
                case 0:
                case 1: { // the assertion's characters
                    int at = assertionStart + random.nextInt(Math.max(1, form.length() - assertionStart));
                    done.add(edit(random, form, at, "assertion"));
                    break;
                }
                case 4:
                case 5:
                case 6: // the header's or the claims' JSON, re-encoded: reaches the claim checks and the signature
                    done.add(editDecoded(random, form, assertionStart));
                    break;
                case 2: // a field name
                    done.add(edit(random, form, positionIn(form, random, "grant_type", "client_assertion_type",
                            "client_assertion="), "field name"));
                    break;
                case 3: // a field value other than the assertion
                    done.add(edit(random, form, positionIn(form, random, "client_credentials",
                            "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"), "field value"));
                    break;
                default: { // the Content-Type, kept to what an HTTP header may hold
                    StringBuilder type = new StringBuilder(contentType);
                    int at = type.length() == 0 ? 0 : random.nextInt(type.length());
                    char c = (char) (0x21 + random.nextInt(0x7e - 0x21));
                    int op = type.length() == 0 ? 1 : random.nextInt(3);
                    if (op == 0) {
                        type.setCharAt(at, c);
                    } else if (op == 1) {
                        type.insert(at, c);
                    } else {
                        type.deleteCharAt(at);
                    }
                    contentType = type.toString();
                    done.add("Content-Type " + (op == 0 ? "flip" : op == 1 ? "insert" : "delete") + " at " + at);
                }
            }
        }
        // Some edits are raw bytes that are not UTF-8 at all; the rest of the body is ASCII.
        return new Case(base, contentType, form.toString().getBytes(StandardCharsets.ISO_8859_1), String.join(", ", done));
    }

    /** A byte edit inside the decoded header (or claims) JSON, base64url-encoded again; the signature kept. */
    static String editDecoded(Random random, StringBuilder form, int assertionStart) {
        int end = form.indexOf("&", assertionStart);
        end = end < 0 ? form.length() : end;
        String[] parts = form.substring(assertionStart, end).split("\\.", -1);
        int which = random.nextInt(10) < 3 ? 0 : 1;
        byte[] json;
        try {
            json = parts.length == 3 ? Base64.getUrlDecoder().decode(parts[which]) : null;
        } catch (IllegalArgumentException e) {
            json = null;
        }
        if (json == null) {
            return edit(random, form, assertionStart, "assertion (undecodable)");
        }
        StringBuilder edited = new StringBuilder(new String(json, StandardCharsets.ISO_8859_1));
        String what = edit(random, edited, random.nextInt(Math.max(1, edited.length())), which == 0 ? "header JSON" : "claims JSON");
        parts[which] = Base64.getUrlEncoder().withoutPadding()
                .encodeToString(edited.toString().getBytes(StandardCharsets.ISO_8859_1));
        form.replace(assertionStart, end, String.join(".", parts));
        return what;
    }

    /** A random position inside one of {@code parts}, or anywhere once earlier edits have broken them all. */
    static int positionIn(StringBuilder form, Random random, String... parts) {
        String part = parts[random.nextInt(parts.length)];
        int start = form.indexOf(part);
        return start < 0 ? random.nextInt(Math.max(1, form.length())) : start + random.nextInt(part.length());
    }

    /** One byte-level edit at {@code at}: a bit flip, an inserted byte (any of 256) or a deletion. */
    static String edit(Random random, StringBuilder form, int at, String where) {
        at = Math.min(at, Math.max(0, form.length() - 1));
        int op = form.length() == 0 ? 1 : random.nextInt(3);
        if (op == 0) {
            form.setCharAt(at, (char) ((form.charAt(at) ^ (1 << random.nextInt(8))) & 0xff));
            return where + " flip at " + at;
        }
        if (op == 1) {
            form.insert(at, (char) random.nextInt(256));
            return where + " insert at " + at;
        }
        form.deleteCharAt(at);
        return where + " delete at " + at;
    }

    /** The client_assertion field as the mock server's own form parser reads this body. */
    static String assertionAsTheServerReadsIt(byte[] body) {
        return MockTokenEndpoint.Form.parse(new String(body, StandardCharsets.UTF_8)).get("client_assertion");
    }

    /**
     * The same signed claims: header and payload unchanged, the signature the same bytes. The last
     * base64url character of a signature carries spare bits a decoder ignores, so an edit there can
     * leave a valid assertion, and that is not a forgery.
     */
    static boolean sameAssertion(String candidate, String original) {
        if (candidate == null) {
            return false;
        }
        String[] a = candidate.split("\\.", -1);
        String[] b = original.split("\\.", -1);
        if (a.length != 3 || !a[0].equals(b[0]) || !a[1].equals(b[1])) {
            return false;
        }
        try {
            return java.util.Arrays.equals(Base64.getUrlDecoder().decode(a[2]), Base64.getUrlDecoder().decode(b[2]));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------ load

    @Test
    void concurrentClientsAllGetDistinctTokensThatOpenTheApiAndEveryJtiIsForgotten() throws Exception {
        assertEquals(0, server.rememberedJtiCount(), "baseline");
        Set<String> tokens = ConcurrentHashMap.newKeySet();
        AtomicInteger issued = new AtomicInteger();
        LongAccumulator lastExpMillis = new LongAccumulator(Math::max, 0);
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        List<Future<?>> sent = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            sent.add(pool.submit((Callable<Void>) () -> {
                for (int i = 0; i < PER_THREAD; i++) {
                    HttpResponse<String> r = tokenRequest(lastExpMillis);
                    String token = r.statusCode() == 200
                            ? (String) TestSupport.parseJson(r.body()).get("access_token") : null;
                    if (token == null) {
                        errors.add("token request: HTTP " + r.statusCode() + " " + r.body());
                    } else {
                        issued.incrementAndGet();
                        tokens.add(token);
                    }
                }
                return null;
            }));
        }
        await(sent);
        assertEquals(List.of(), head(errors));
        assertEquals(THREADS * PER_THREAD, issued.get());
        assertEquals(THREADS * PER_THREAD, tokens.size(), "every token is distinct");

        List<String> bearer = List.copyOf(tokens);
        List<Future<?>> calls = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int thread = t;
            calls.add(pool.submit((Callable<Void>) () -> {
                for (int i = 0; i < PER_THREAD; i++) {
                    String path = "/echo/load/" + thread + "/" + i;
                    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                            .timeout(HANG_GUARD)
                            .header("Authorization", "Bearer " + bearer.get(thread * PER_THREAD + i))
                            .POST(HttpRequest.BodyPublishers.ofString("call " + i)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    Map<String, Object> echoed = r.statusCode() == 200 ? TestSupport.parseJson(r.body()) : Map.of();
                    if (!path.equals(echoed.get("path")) || !("call " + i).equals(echoed.get("body"))) {
                        errors.add("echo " + path + ": HTTP " + r.statusCode() + " " + r.body());
                    }
                }
                return null;
            }));
        }
        await(calls);
        assertEquals(List.of(), head(errors));

        // Waits for a moment, the last exp, not for a length of time: then no jti may be left.
        for (long left; (left = lastExpMillis.get() - System.currentTimeMillis()) >= 0; ) {
            Thread.sleep(left + 1);
        }
        assertEquals(0, server.rememberedJtiCount(), "jtis are forgotten once their assertions expire");
    }

    /**
     * A token request with an assertion signed just before it is sent. A machine too busy to deliver
     * one before its exp gets row 10 for it, as it should, and sends a freshly signed one. Row 10
     * for an assertion whose exp has not passed is returned, and fails the test like any refusal.
     */
    HttpResponse<String> tokenRequest(LongAccumulator lastExpMillis) throws Exception {
        while (true) {
            String assertion = assertion(LOAD_ASSERTION_SECONDS);
            long expMillis = SignedJWT.parse(assertion).getJWTClaimsSet().getExpirationTime().getTime();
            lastExpMillis.accumulate(expMillis);
            HttpResponse<String> r = post(server.tokenUrl(), FORM, tokenForm(assertion));
            boolean expiredOnTheWay = r.statusCode() == 400 && r.body().contains("JWT has expired")
                    && System.currentTimeMillis() > expMillis;
            if (!expiredOnTheWay) {
                return r;
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    static HttpResponse<String> post(String url, String contentType, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(HANG_GUARD).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static <T> List<List<T>> split(List<T> all, int parts) {
        List<List<T>> shares = new ArrayList<>();
        for (int p = 0; p < parts; p++) {
            shares.add(new ArrayList<>());
        }
        for (int i = 0; i < all.size(); i++) {
            shares.get(i % parts).add(all.get(i));
        }
        return shares;
    }

    /** Each request has its own hang guard, so these end. */
    static void await(List<Future<?>> futures) throws Exception {
        for (Future<?> f : futures) {
            f.get();
        }
    }

    static List<String> head(List<String> errors) {
        synchronized (errors) {
            return errors.size() > 10 ? List.copyOf(errors.subList(0, 10)) : List.copyOf(errors);
        }
    }
}
