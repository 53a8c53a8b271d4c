package nhsauth.mock;

import nhsauth.mock.MockIdentityService.*;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.*;
import java.security.*;
import java.security.interfaces.RSAPublicKey;
import java.util.*;
import java.util.concurrent.ConcurrentHashMap;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.HttpExchange;

/** POST /oauth2/token of the mock identity service: a client assertion (and for an exchange an ID token) in, an access token out. */
public final class MockTokenEndpoint {
    /** The endpoint's own constants, written here and not taken from the client it judges. */
    static final String FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    /** The endpoint allows 310 s, not the documented 300, to forgive a little clock skew. */
    static final long MAX_EXP_AHEAD_MS = 310_000;
    static final long IAT_NBF_ALLOWANCE_MS = 10_000;
    static final long TOKEN_LIFETIME_MS = 600_000;
    private final Map<String, MockJwks.Registration> registry;
    private final JtiRegister jtis;
    private final MockAccessTokens tokens;
    private final MockTokenExchange exchanges;

    MockTokenEndpoint(Map<String, MockJwks.Registration> registry, JtiRegister jtis, MockAccessTokens tokens,
            MockTokenExchange exchanges) {
        this.registry = registry;
        this.jtis = jtis;
        this.tokens = tokens;
        this.exchanges = exchanges;
    }

    Reply handle(HttpExchange exchange, RequestBody requestBody, String fallbackBase) throws IOException, GeneralSecurityException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            return Reply.methodNotAllowed("POST");
        }
        // Compared as a plain string, as the reference infers: a charset suffix is refused.
        if (!FORM_CONTENT_TYPE.equals(exchange.getRequestHeaders().getFirst("Content-Type"))) {
            return Reply.refusal(Refusal.WRONG_CONTENT_TYPE, null);
        }
        byte[] body = requestBody.read();
        if (body == null) {
            return Reply.refusal(Refusal.BODY_TOO_LARGE, null);
        }
        String host = exchange.getRequestHeaders().getFirst("Host");
        // The aud must be the URL the client posted to, as it wrote it.
        String tokenUrl = (host == null ? fallbackBase : "http://" + host) + MockIdentityService.TOKEN_PATH;
        try {
            return grant(Form.parse(new String(body, StandardCharsets.UTF_8)), tokenUrl,
                    System.currentTimeMillis());
        } catch (Refused r) {
            return Reply.refusal(r.refusal, r.detail);
        }
    }

    private Reply grant(Map<String, String> form, String tokenUrl, long now) throws Refused, GeneralSecurityException {
        String grantType = form.get("grant_type");
        ClientAssertion subject = MockTokenExchange.subjectToken(form);
        if (subject == null && (grantType == null || grantType.isEmpty())) {
            throw new Refused(Refusal.GRANT_TYPE_MISSING);
        }
        if (subject == null && !"client_credentials".equals(grantType)) {
            throw new Refused(Refusal.GRANT_TYPE_INVALID);
        }
        if (!ASSERTION_TYPE.equals(form.get("client_assertion_type"))) {
            throw new Refused(Refusal.ASSERTION_TYPE_INVALID);
        }
        String jwt = form.get("client_assertion");
        if (jwt == null || jwt.isEmpty()) {
            throw new Refused(Refusal.ASSERTION_MISSING);
        }
        ClientAssertion assertion = ClientAssertion.decode(jwt);
        for (Refusal row : CLAIM_ROWS) {
            assertion.check(row, now, null, null, null);
        }
        // Burnt here, before the app and its keys are looked at, as the real endpoint does:
        // a replayed assertion is refused even if its first use failed a later check.
        jtis.burn(assertion, now);

        MockJwks.Registration app = registry.get(assertion.subject());
        if (app == null) {
            throw new Refused(Refusal.UNKNOWN_APP);
        }
        if (app.jwks() == null) {
            throw new Refused(Refusal.NO_PUBLIC_KEY);
        }
        Map<String, RSAPublicKey> keys;
        try {
            keys = app.jwks().keysByKid();
        } catch (MockJwks.JwksUnavailable e) {
            throw new Refused(Refusal.JWKS_UNREACHABLE, e.getMessage());
        }
        assertion.check(Refusal.NO_MATCHING_KID, now, null, keys, null);
        // Row 24 through verdict's own check, called directly to keep its detail (an iat or nbf ahead).
        assertion.verifySignature(keys.get(assertion.kid()), now);
        assertion.check(Refusal.AUD_INVALID, now, tokenUrl, null, "expected aud " + tokenUrl);
        if (!app.app().level3()) {
            throw new Refused(Refusal.NOT_LEVEL_3);
        }
        if (subject != null) {
            exchanges.judge(subject, now);
        }
        return issue(form.get("_access_token_expiry_ms"), now, subject != null);
    }

    /** Rows 9 to 17, in the reference's order (rows 18 and 19 need the jti register). */
    private static final Set<Refusal> CLAIM_ROWS = EnumSet.range(Refusal.ALG_NOT_RS512, Refusal.JTI_NOT_STRING);

    private Reply issue(String requestedLifetime, long now, boolean exchange) {
        long lifetime = TOKEN_LIFETIME_MS;
        if (requestedLifetime != null) {
            try {
                long requested = Long.parseLong(requestedLifetime.trim());
                if (requested > 0) {
                    lifetime = Math.min(requested, TOKEN_LIFETIME_MS);
                }
            } catch (NumberFormatException ignored) {
                // a test-only knob: nonsense leaves the normal lifetime
            }
        }
        String token = tokens.issue(now, lifetime);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("access_token", token);
        // 600 s shows as "599", as NHS shows it; a shortened lifetime never shows as 0.
        body.put("expires_in", Long.toString(Math.max(1, (lifetime - 1) / 1000)));
        body.put("token_type", "Bearer");
        if (exchange) {
            body.putAll(MockTokenExchange.exchangeFields());
        } else {
            body.put("issued_at", Long.toString(now));
        }
        return Reply.json(200, body, null);
    }

    /** The token endpoint's refusals, in its order of checking: first failure wins. */
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
        BODY_TOO_LARGE(0, 413, "invalid_request", "Request body too large"),
        // The token exchange's own (the reference's §9), row 0: its form's, quirks included, then the subject token's.
        EXCHANGE_GRANT_TYPE_INVALID(0, 400, "invalid_request", "grant_type is invalid"),
        SUBJECT_TOKEN_TYPE_INVALID(0, 400, "invalid_request",
                "missing or invalid subject_token_type - must be 'urn:ietf:params:oauth:token-type:id_token'"),
        EXCHANGE_ASSERTION_TYPE_INVALID(0, 400, "invalid_request", "Missing or invalid client_assertion_type - must be "
                + "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        SUBJECT_KID_MISSING(0, 400, "invalid_request", "Missing 'kid' header in subject_token JWT"),
        SUBJECT_TYP_INVALID(0, 400, "invalid_request", "Invalid 'typ' header in subject_token JWT - must be 'JWT'"),
        SUBJECT_ALG_MISSING(0, 400, "invalid_request", "Missing 'alg' header in subject_token JWT"),
        SUBJECT_EXP_MISSING(0, 400, "invalid_request", "Missing 'exp' claim in subject_token JWT"),
        SUBJECT_EXP_NOT_NUMBER(0, 400, "invalid_request", "Invalid 'exp' claim in subject_token JWT - must be an integer"),
        SUBJECT_EXP_PASSED(0, 400, "invalid_request", "Invalid 'exp' claim in subject_token JWT - JWT has expired"),
        SUBJECT_ISS_MISSING(0, 400, "invalid_request", "Missing 'iss' claim in subject_token JWT"),
        SUBJECT_AUD_MISSING(0, 401, "invalid_request", "Missing 'aud' claim in subject_token JWT");

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

        Refused(Refusal refusal) {
            this(refusal, null);
        }
    }

    /** A form body: the first of duplicate fields wins, as in Apigee; a field not percent-decodable is kept as sent. */
    public static final class Form {
        private Form() {
        }

        public static Map<String, String> parse(String body) {
            Map<String, String> fields = new HashMap<>();
            for (String pair : body.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String name = decode(eq < 0 ? pair : pair.substring(0, eq));
                String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
                fields.putIfAbsent(name, value);
            }
            return fields;
        }

        private static String decode(String s) {
            try {
                return URLDecoder.decode(s, StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return s;
            }
        }
    }

    /** The signed JWT a client sends instead of a secret (or an exchange's ID token); decoded but not yet trusted. */
    record ClientAssertion(Map<String, Object> header, Map<String, Object> claims, byte[] signingInput, byte[] signature) {
        private static final ThreadLocal<Signature> RS512 = ThreadLocal.withInitial(() -> {
            try {
                return Signature.getInstance("SHA512withRSA");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("this JDK lacks SHA512withRSA", e);
            }
        });

        /** Row 8: three base64url parts, the first two UTF-8 JSON objects. */
        static ClientAssertion decode(String jwt) throws Refused {
            int dot1 = jwt.indexOf('.');
            int dot2 = dot1 < 0 ? -1 : jwt.indexOf('.', dot1 + 1);
            if (dot2 < 0 || jwt.indexOf('.', dot2 + 1) >= 0) {
                throw new Refused(Refusal.MALFORMED_JWT, "not three dot-separated parts");
            }
            try {
                Map<String, Object> header = jsonObject(jwt.substring(0, dot1));
                Map<String, Object> claims = jsonObject(jwt.substring(dot1 + 1, dot2));
                byte[] signature = Base64.getUrlDecoder().decode(jwt.substring(dot2 + 1));
                return new ClientAssertion(header, claims,
                        jwt.substring(0, dot2).getBytes(StandardCharsets.US_ASCII), signature);
            } catch (java.text.ParseException | CharacterCodingException | RuntimeException
                     | StackOverflowError e) {
                throw new Refused(Refusal.MALFORMED_JWT, e.getClass().getSimpleName());
            }
        }

        private static Map<String, Object> jsonObject(String part)
                throws java.text.ParseException, CharacterCodingException {
            byte[] bytes = Base64.getUrlDecoder().decode(part);
            String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            Map<String, Object> object = JSONObjectUtils.parse(text);
            if (object == null) {
                throw new java.text.ParseException("null is not a JSON object", 0);
            }
            return object;
        }

        /** The endpoint's path through {@link #verdict}: a failed row is its refusal. */
        void check(Refusal row, long now, String aud, Map<String, RSAPublicKey> keys, String detail)
                throws Refused, GeneralSecurityException {
            if (Boolean.FALSE.equals(verdict(row, now, aud, null, keys))) {
                throw new Refused(row, detail);
            }
        }

        /** A row about the assertion itself, for the endpoint and inspect alike: true passes, false fails, null cannot
         *  be told from what is given (aud, apiKey, keys: each may be null) or needs the service's state. */
        Boolean verdict(Refusal row, long now, String aud, String apiKey, Map<String, RSAPublicKey> keys)
                throws GeneralSecurityException {
            return switch (row) {
                case ALG_NOT_RS512 -> "RS512".equals(header.get("alg"));
                case EXP_PASSED -> !(claims.get("exp") instanceof Number n && n.doubleValue() * 1000 < now);
                case KID_MISSING -> header.get("kid") != null && !"".equals(header.get("kid"));
                case TYP_INVALID -> header.get("typ") instanceof String typ && typ.equalsIgnoreCase("JWT");
                case EXP_MISSING -> claims.get("exp") != null;
                case EXP_NOT_NUMBER -> claims.get("exp") instanceof Number;
                case ISS_SUB_INVALID -> claims.get("iss") instanceof String iss && !iss.isEmpty() && iss.equals(claims.get("sub"));
                case JTI_MISSING -> claims.get("jti") != null;
                case JTI_NOT_STRING -> claims.get("jti") instanceof String s && !s.isEmpty();
                case EXP_TOO_FAR -> claims.get("exp") instanceof Number n
                        ? n.doubleValue() * 1000 <= now + MAX_EXP_AHEAD_MS : null;
                case UNKNOWN_APP -> apiKey == null ? null : apiKey.equals(claims.get("sub"));
                case NO_MATCHING_KID -> keys == null ? null : kid() != null && keys.containsKey(kid());
                case SIGNATURE_INVALID -> keys == null || kid() == null || !keys.containsKey(kid()) ? null
                        : signatureVerifies(keys.get(kid()), now);
                // aud as the token URL, or a JSON array holding it (RFC 7519 allows both)
                case AUD_INVALID -> aud == null ? null
                        : aud.equals(claims.get("aud")) || claims.get("aud") instanceof List<?> list && list.contains(aud);
                default -> null;
            };
        }

        private boolean signatureVerifies(RSAPublicKey key, long now) throws GeneralSecurityException {
            try {
                verifySignature(key, now);
                return true;
            } catch (Refused r) {
                return false;
            }
        }

        String subject() {
            return (String) claims.get("sub");
        }

        /** A kid that is not a string can match no key: there is no such thing as a non-string kid. */
        String kid() {
            return header.get("kid") instanceof String s ? s : null;
        }

        /** Row 24, and iat or nbf over 10 s ahead, checked in the same Apigee step as the signature (inferred). */
        void verifySignature(RSAPublicKey key, long now) throws Refused, GeneralSecurityException {
            Signature verifier = RS512.get();
            verifier.initVerify(key);
            verifier.update(signingInput);
            try {
                if (!verifier.verify(signature)) {
                    throw new Refused(Refusal.SIGNATURE_INVALID);
                }
            } catch (SignatureException wrongLength) {
                throw new Refused(Refusal.SIGNATURE_INVALID);
            }
            for (String claim : List.of("iat", "nbf")) {
                if (claims.get(claim) instanceof Number n && n.doubleValue() * 1000 > now + IAT_NBF_ALLOWANCE_MS) {
                    throw new Refused(Refusal.SIGNATURE_INVALID, "'" + claim + "' is more than 10 s in the future");
                }
            }
        }
    }

    /** The jtis each app has used, forgotten (NHS: after 30 days) once their exp has passed: row 10 then refuses a replay. */
    static final class JtiRegister {
        private record Used(String sub, String jti) {
        }

        private final ConcurrentHashMap<Used, Long> forgetAfter = new ConcurrentHashMap<>();

        /** Rows 18 and 19; on success the jti is burnt for this sub. */
        void burn(ClientAssertion assertion, long now) throws Refused, GeneralSecurityException {
            Used used = new Used(assertion.subject(), (String) assertion.claims().get("jti"));
            Long previous = forgetAfter.get(used);
            if (previous != null && previous >= now) {
                throw new Refused(Refusal.JTI_REUSED);
            }
            assertion.check(Refusal.EXP_TOO_FAR, now, null, null, null);
            long until = (long) Math.ceil(((Number) assertion.claims().get("exp")).doubleValue() * 1000);
            boolean[] reused = {false};
            forgetAfter.compute(used, (k, old) -> {
                if (old != null && old >= now) {
                    reused[0] = true;
                    return old;
                }
                return until;
            });
            if (reused[0]) {
                throw new Refused(Refusal.JTI_REUSED, "lost a race with a concurrent request");
            }
        }

        void forgetExpired(long now) {
            forgetAfter.values().removeIf(until -> until < now);
        }

        int size() {
            return forgetAfter.size();
        }
    }
}
