
package nhsauth.mock;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.text.ParseException;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.HttpExchange;

import nhsauth.mock.MockIdentityService.Reply;
import nhsauth.mock.MockIdentityService.RequestBody;

/**
 * POST /oauth2/token of the mock identity service: a client assertion in, an access token out.
 * It also keeps the jtis each app has used and the access tokens it issued.
 */
public final class MockTokenEndpoint {
    /** The endpoint's own constants, written here and not taken from the client it judges. */
    static final String FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    /** The endpoint allows 310 s, not the documented 300, to forgive a little clock skew. */
    static final long MAX_EXP_AHEAD_MS = 310_000;
    static final long IAT_NBF_ALLOWANCE_MS = 10_000;
    static final long TOKEN_LIFETIME_MS = 600_000;
    private static final JWSHeader RS512 = new JWSHeader(JWSAlgorithm.RS512);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The endpoint's refusals, by their row in the reference's table, in its order of checking. */
    enum Refusal {
        UNKNOWN_ROUTE(1, 404, "invalid_request", "Not Found"),
        WRONG_CONTENT_TYPE(3, 415, "invalid_request",
                "Content-Type header must be application/x-www-form-urlencoded"),
        GRANT_TYPE_MISSING(4, 400, "invalid_request", "grant_type is missing"),
        GRANT_TYPE_INVALID(5, 400, "unsupported_grant_type", "grant_type is invalid"),
        ASSERTION_TYPE_INVALID(6, 400, "invalid_request", "Missing or invalid client_assertion_type - must be "
                + "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'"),
        ASSERTION_MISSING(7, 400, "invalid_request", "Missing client_assertion"),
        MALFORMED_JWT(8, 400, "invalid_request", "Malformed JWT in client_assertion"),
        ALG_NOT_RS512(9, 400, "invalid_request",
                "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'"),
        EXP_PASSED(10, 400, "invalid_request", "Invalid 'exp' claim in client_assertion JWT - JWT has expired"),
        KID_MISSING(11, 400, "invalid_request", "Missing 'kid' header in client_assertion JWT"),
        TYP_INVALID(12, 400, "invalid_request", "Invalid 'typ' header in client_assertion JWT - must be 'JWT'"),
        EXP_MISSING(13, 400, "invalid_request", "Missing 'exp' claim in client_assertion JWT"),
        EXP_NOT_NUMBER(14, 400, "invalid_request", "Invalid 'exp' claim in client_assertion JWT - must be an integer"),
        ISS_SUB_INVALID(15, 400, "invalid_request",
                "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT"),
        JTI_MISSING(16, 400, "invalid_request", "Missing 'jti' claim in client_assertion JWT"),
        JTI_NOT_STRING(17, 400, "invalid_request",
                "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID"),
        JTI_REUSED(18, 400, "invalid_request", "Non-unique 'jti' claim in client_assertion JWT"),
        EXP_TOO_FAR(19, 400, "invalid_request",
                "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future"),
        UNKNOWN_APP(20, 401, "invalid_request", "Invalid 'iss'/'sub' claims in client_assertion JWT"),
        NO_PUBLIC_KEY(21, 403, "public_key error", "You need to register a public key to use this "
                + "authentication method - please contact support to configure"),
        JWKS_UNREACHABLE(22, 403, "public_key error", "The JWKS endpoint, for your client_assertion can't be reached"),
        NO_MATCHING_KID(23, 401, "invalid_request",
                "Invalid 'kid' header in client_assertion JWT - no matching public key"),
        SIGNATURE_INVALID(24, 401, "public_key error", "JWT signature verification failed"),
        AUD_INVALID(25, 401, "invalid_request", "Missing or invalid 'aud' claim in client_assertion JWT"),
        NOT_LEVEL_3(26, 401, "unauthorized_client", "you have tried to request authorization but your "
                + "application is not configured to use this authorization grant type"),
        UNKNOWN_ERROR(27, 500, "unknown_error", "An unknown error occurred processing this request. Contact us "
                + "for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support "
                + "quoting Message ID"),
        /** Not in the reference table: our own guard, in the same shape. */
        BODY_TOO_LARGE(0, 413, "invalid_request", "Request body too large");

        final int row;
        final int status;
        final String error;
        final String description;

        Refusal(int row, int status, String error, String description) {
            this.row = row;
            this.status = status;
            this.error = error;
            this.description = description;
        }
    }

    /** Validation stops at the first failed check; no stack trace, it is not a fault. */
    static final class Refused extends Exception {
        final Refusal refusal;
        final String detail;

        Refused(Refusal refusal, String detail) {
            super(refusal.description, null, false, false);
            this.refusal = refusal;
            this.detail = detail;
        }
    }

    /** One check, one row of the table: {@code detail} only goes into the --verbose log. */
    static void refuseIf(boolean failed, Refusal refusal, String detail) throws Refused {
        if (failed) {
            throw new Refused(refusal, detail);
        }
    }

    static void refuseIf(boolean failed, Refusal refusal) throws Refused {
        refuseIf(failed, refusal, null);
    }

    record Used(String sub, String jti) {
    }

    private final Map<String, MockJwks.Registration> apps;
    /**
     * Each app's used jtis, and until when (epoch ms). NHS remembers a jti for 30 days; we forget one
     * once its assertion's exp has passed, since row 10 already refuses any replay of that assertion.
     */
    final Map<Used, Long> jtiBurntUntil = new ConcurrentHashMap<>();
    /** Each access token issued here, and when it expires (epoch ms). */
    final Map<String, Long> tokenExpiry = new ConcurrentHashMap<>();
    final AtomicLong tokensIssued = new AtomicLong();

    MockTokenEndpoint(Map<String, MockJwks.Registration> apps) {
        this.apps = apps;
    }

    Reply handle(HttpExchange exchange, RequestBody requestBody, String fallbackBase)
            throws IOException, Refused, JOSEException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            return Reply.empty(405, "Allow", "POST");
        }
        // Compared as a plain string, as the reference infers: a charset suffix is refused.
        refuseIf(!FORM_CONTENT_TYPE.equals(exchange.getRequestHeaders().getFirst("Content-Type")),
                Refusal.WRONG_CONTENT_TYPE);
        byte[] body = requestBody.read();
        String host = exchange.getRequestHeaders().getFirst("Host");
        // The aud must be the URL the client posted to, as it wrote it.
        String tokenUrl = (host == null ? fallbackBase : "http://" + host) + MockIdentityService.TOKEN_PATH;
        return grant(parseForm(new String(body, StandardCharsets.UTF_8)), tokenUrl, System.currentTimeMillis());
    }

    private Reply grant(Map<String, String> form, String tokenUrl, long now) throws Refused, JOSEException {
        String grantType = form.get("grant_type");
        refuseIf(grantType == null || grantType.isEmpty(), Refusal.GRANT_TYPE_MISSING);
        refuseIf(!"client_credentials".equals(grantType), Refusal.GRANT_TYPE_INVALID);
        refuseIf(!ASSERTION_TYPE.equals(form.get("client_assertion_type")), Refusal.ASSERTION_TYPE_INVALID);
        String jwt = form.get("client_assertion");
        refuseIf(jwt == null || jwt.isEmpty(), Refusal.ASSERTION_MISSING);
        ClientAssertion assertion = ClientAssertion.decode(jwt);
        assertion.checkClaims(now);
        String sub = (String) assertion.claims().get("sub");
        // Burnt here, before the app and its keys are looked at, as the real endpoint does:
        // a replayed assertion is refused even if its first use failed a later check.
        burn(new Used(sub, (String) assertion.claims().get("jti")), assertion.expMillis(), now);

        MockJwks.Registration app = apps.get(sub);
        refuseIf(app == null, Refusal.UNKNOWN_APP);
        refuseIf(app.jwks() == null, Refusal.NO_PUBLIC_KEY);
        Map<String, RSAPublicKey> keys = app.jwks().keysByKid();
        // A kid that is not a string can match no key: there is no such thing as a non-string kid.
        RSAPublicKey key = assertion.header().get("kid") instanceof String kid ? keys.get(kid) : null;
        refuseIf(key == null, Refusal.NO_MATCHING_KID);
        assertion.verify(key, now);
        refuseIf(!assertion.isFor(tokenUrl), Refusal.AUD_INVALID, "expected aud " + tokenUrl);
        refuseIf(!app.level3(), Refusal.NOT_LEVEL_3);
        return issue(form.get("_access_token_expiry_ms"), now);
    }

    /** Rows 18 and 19; then the jti is burnt for this sub. */
    private void burn(Used used, double expMillis, long now) throws Refused {
        Long previous = jtiBurntUntil.get(used);
        refuseIf(previous != null && previous >= now, Refusal.JTI_REUSED);
        refuseIf(expMillis > now + MAX_EXP_AHEAD_MS, Refusal.EXP_TOO_FAR);
        long until = (long) Math.ceil(expMillis);
        boolean[] lost = {false};
        jtiBurntUntil.compute(used, (k, old) -> {
            lost[0] = old != null && old >= now;
            return lost[0] ? old : until;
        });
        refuseIf(lost[0], Refusal.JTI_REUSED, "lost a race with a concurrent request");
    }

    private Reply issue(String requestedLifetime, long now) {
        long lifetime = TOKEN_LIFETIME_MS;
        try {
            long requested = requestedLifetime == null ? 0 : Long.parseLong(requestedLifetime.trim());
            lifetime = requested > 0 ? Math.min(requested, TOKEN_LIFETIME_MS) : lifetime;
        } catch (NumberFormatException nonsense) {
            // a test-only knob, which can only shorten: nonsense leaves the normal lifetime
        }
        // 168 random bits: 28 URL-safe characters, the length NHS tokens have.
        byte[] random = new byte[21];
        RANDOM.nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        tokenExpiry.put(token, now + lifetime);
        tokensIssued.incrementAndGet();
        // 600 s shows as "599", as NHS shows it; a shortened lifetime never shows as 0.
        return Reply.json(200, Reply.object("access_token", token,
                "expires_in", Long.toString(Math.max(1, (lifetime - 1) / 1000)),
                "token_type", "Bearer", "issued_at", Long.toString(now)), null);
    }

    void forgetExpired(long now) {
        jtiBurntUntil.values().removeIf(until -> until < now);
        tokenExpiry.values().removeIf(until -> until <= now);
    }

    /**
     * A form body. Duplicate fields: the first value wins, as Apigee's {@code request.formparam.x}
     * returns the first; a field that cannot be percent-decoded is kept as sent (it then fails its
     * own check instead of becoming a 500).
     */
    public static Map<String, String> parseForm(String body) {
        Map<String, String> fields = new HashMap<>();
        for (String pair : body.split("&")) {
            if (!pair.isEmpty()) {
                int eq = pair.indexOf('=');
                fields.putIfAbsent(percentDecoded(eq < 0 ? pair : pair.substring(0, eq)),
                        eq < 0 ? "" : percentDecoded(pair.substring(eq + 1)));
            }
        }
        return fields;
    }

    private static String percentDecoded(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    /** Bytes that must be UTF-8: malformed input is an error, not a replacement character. */
    static String strictUtf8(byte[] bytes) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
    }

    /** The signed JWT a client sends instead of a secret; decoded but not yet trusted. */
    record ClientAssertion(Map<String, Object> header, Map<String, Object> claims, byte[] signingInput,
            Base64URL signature) {

        /** Row 8: three base64url parts, the first two UTF-8 JSON objects. */
        static ClientAssertion decode(String jwt) throws Refused {
            String[] parts = jwt.split("\\.", -1);
            refuseIf(parts.length != 3, Refusal.MALFORMED_JWT, "not three dot-separated parts");
            try {
                Map<String, Object> header = jsonObject(parts[0]);
                Map<String, Object> claims = jsonObject(parts[1]);
                Base64.getUrlDecoder().decode(parts[2]); // strict, unlike nimbus's Base64URL
                return new ClientAssertion(header, claims,
                        (parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII), new Base64URL(parts[2]));
            } catch (ParseException | CharacterCodingException | RuntimeException | StackOverflowError e) {
                throw new Refused(Refusal.MALFORMED_JWT, e.getClass().getSimpleName());
            }
        }

        private static Map<String, Object> jsonObject(String part) throws ParseException, CharacterCodingException {
            Map<String, Object> object = JSONObjectUtils.parse(strictUtf8(Base64.getUrlDecoder().decode(part)));
            if (object == null) {
                throw new ParseException("null is not a JSON object", 0);
            }
            return object;
        }

        /** Rows 9 to 17, in the reference's order (rows 18 and 19 need the jti register). */
        void checkClaims(long now) throws Refused {
            Object exp = claims.get("exp");
            Object jti = claims.get("jti");
            refuseIf(!"RS512".equals(header.get("alg")), Refusal.ALG_NOT_RS512);
            refuseIf(exp instanceof Number n && n.doubleValue() * 1000 < now, Refusal.EXP_PASSED);
            refuseIf(header.get("kid") == null || "".equals(header.get("kid")), Refusal.KID_MISSING);
            refuseIf(!(header.get("typ") instanceof String typ && typ.equalsIgnoreCase("JWT")), Refusal.TYP_INVALID);
            refuseIf(exp == null, Refusal.EXP_MISSING);
            refuseIf(!(exp instanceof Number), Refusal.EXP_NOT_NUMBER);
            refuseIf(!(claims.get("iss") instanceof String iss && !iss.isEmpty() && iss.equals(claims.get("sub"))),
                    Refusal.ISS_SUB_INVALID);
            refuseIf(jti == null, Refusal.JTI_MISSING);
            refuseIf(!(jti instanceof String s && !s.isEmpty()), Refusal.JTI_NOT_STRING);
        }

        double expMillis() {
            return ((Number) claims.get("exp")).doubleValue() * 1000;
        }

        /**
         * Row 24, with iat and nbf. They are optional and allowed 10 s of clock skew; one further
         * ahead fails here because the real endpoint checks them in the same Apigee VerifyJWT step
         * that checks the signature (inferred), so the jti is burnt first, as with a bad signature.
         * A key the JDK cannot verify SHA512withRSA with is a JOSEException: row 27.
         */
        void verify(RSAPublicKey key, long now) throws Refused, JOSEException {
            refuseIf(!new RSASSAVerifier(key).verify(RS512, signingInput, signature), Refusal.SIGNATURE_INVALID);
            for (String claim : List.of("iat", "nbf")) {
                refuseIf(claims.get(claim) instanceof Number n && n.doubleValue() * 1000 > now + IAT_NBF_ALLOWANCE_MS,
                        Refusal.SIGNATURE_INVALID, "'" + claim + "' is more than 10 s in the future");
            }
        }

        /** Row 25: aud as the token URL, or a JSON array holding it (RFC 7519 allows both). */
        boolean isFor(String tokenUrl) {
            Object aud = claims.get("aud");
            return tokenUrl.equals(aud) || (aud instanceof List<?> list && list.contains(tokenUrl));
        }
    }
}
