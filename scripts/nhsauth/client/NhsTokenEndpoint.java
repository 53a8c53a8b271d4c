package nhsauth.client;

import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.time.*;
import java.util.*;
import java.util.function.Supplier;

import com.nimbusds.jose.util.JSONObjectUtils;

/** The token request: the form the endpoint expects, and its answer as a token or a {@link TokenRequestException} with a hint. */
final class NhsTokenEndpoint {
    static final String FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    static final String EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
    static final String ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
    private static final String REUSE_TOKENS = "reuse tokens (they live 10 minutes) instead of fetching one per call";

    /**
     * What was asked for, which the hints quote back ({@code exchange}: an ID token was exchanged); the key's thumbprint
     * is made only for a hint that shows it.
     */
    record Asked(String tokenUrl, NhsEnvironment env, String kid, Supplier<String> thumbprint, boolean exchange) {
    }

    private NhsTokenEndpoint() {
    }

    /** A new access token for a client assertion, newly signed for each resend; with a subject token (else null), an exchange. */
    static AccessToken request(NhsHttp http, Duration timeout, Supplier<String> clientAssertion, String subjectToken,
            Asked asked) {
        return read(http.send(() -> HttpRequest.newBuilder(URI.create(asked.tokenUrl())).timeout(timeout)
                .header("Content-Type", FORM_CONTENT_TYPE).header("Accept", "application/json")
                .header("User-Agent", NhsClient.USER_AGENT)
                .POST(HttpRequest.BodyPublishers.ofString(form(clientAssertion.get(), subjectToken))).build(),
                "token endpoint", NhsClient.TOKEN_RETRIES, true, status -> false, null,
                info -> NhsHttp.limited(NhsHttp.MAX_TOKEN_ANSWER_BYTES)), asked);
    }

    /** Form body of the token request, exactly as the NHS token endpoint expects it; an exchange with a subject token. */
    static String form(String clientAssertion, String subjectToken) {
        return (subjectToken == null ? "grant_type=client_credentials" : "grant_type=" + encoded(EXCHANGE_GRANT)
                + "&subject_token_type=" + encoded(ID_TOKEN_TYPE) + "&subject_token=" + encoded(subjectToken))
                + "&client_assertion_type=" + encoded(ASSERTION_TYPE) + "&client_assertion=" + encoded(clientAssertion);
    }

    private static String encoded(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    /** A subject token as given, or null for none; refused unless it has a JWT's shape, without quoting it. */
    static String subjectToken(String idToken) {
        String token = NhsSetting.blankToNull(idToken);
        if (token != null && !token.matches("[\\w-]+\\.[\\w-]+\\.[\\w-]*")) {
            throw new UsageException("the subject token is not a JWT (three base64url parts joined by dots): check "
                    + NhsSetting.SUBJECT_TOKEN.named() + " gives the ID token itself from NHS CIS2 or NHS login");
        }
        return token;
    }

    static AccessToken read(HttpResponse<byte[]> response, Asked asked) {
        long receivedAt = System.currentTimeMillis();
        int status = response.statusCode();
        String body = new String(response.body(), StandardCharsets.UTF_8);
        Map<String, Object> json = parseObject(body);
        if (status == 200 && json == null) {
            throw new NetworkException("the token endpoint answered HTTP 200 but not with JSON (" + firstLine(body) + ")",
                    "something other than the NHS token endpoint answered (a captive portal or a proxy's sign-in page?): "
                            + "check the network, HTTPS_PROXY / NO_PROXY and " + NhsSetting.TOKEN_URL.named(), false, null);
        }
        if (status == 200) {
            Object token = json.get("access_token");
            long expiresIn = number(json.get("expires_in"), 599);
            String problem = !(token instanceof String t) || t.isEmpty() ? "without an access_token"
                    : !usableLifetime(expiresIn) ? "with expires_in " + expiresIn + ", not 1 to 86400 s" : null;
            if (problem != null) {
                throw new TokenRequestException(status, null, null, null, "the token endpoint answered HTTP 200 " + problem,
                        "check " + NhsSetting.TOKEN_URL.named() + " points at an NHS token endpoint (" + asked.tokenUrl() + "), "
                                + "and that no proxy rewrites its answers");
            }
            // Timed on this machine's clock from receipt: the endpoint's issued_at is on its own clock,
            // and a server minutes ahead would otherwise make a token look valid for longer than it is.
            return new AccessToken((String) token, json.get("token_type") instanceof String type ? type : "Bearer",
                    expiresIn, receivedAt, member(json, "refresh_token"), number(json.get("refresh_token_expires_in"), 0),
                    member(json, "issued_token_type"));
        }
        if (status >= 300 && status < 400) {
            String location = response.headers().firstValue("Location").orElse("(no Location)");
            throw new TokenRequestException(status, null, null, null, "the token endpoint redirected (HTTP "
                    + status + ") to " + location + "; not followed, so the client assertion stays with the "
                    + "endpoint it was signed for",
                    "give the final token URL with " + NhsSetting.TOKEN_URL.named() + ", or check " + NhsSetting.ENV.named());
        }
        Fault fault = Fault.of(json);
        if (fault != null) {
            throw new TokenRequestException(status, fault.errorcode(), fault.faultstring(), null,
                    "token endpoint refused: HTTP " + status + " " + fault, fault.hint(asked.env()));
        }
        String error = member(json, "error");
        String description = member(json, "error_description");
        String messageId = member(json, "message_id");
        String quotedId = messageId == null ? "" : " (message_id " + messageId + ")";
        if (error == null && description == null) {
            throw new TokenRequestException(status, null, null, messageId, "the token endpoint answered HTTP " + status
                    + (body.isBlank() ? " with no body" : json != null ? " without an error"
                            : ", not NHS JSON (" + firstLine(body) + ")") + quotedId,
                    status == 405 || status == 404 ? hint(status, null, response, asked)
                            : "a proxy or gateway may have answered instead of the NHS token endpoint; "
                                    + "check HTTPS_PROXY / NO_PROXY and " + NhsSetting.TOKEN_URL.named());
        }
        throw new TokenRequestException(status, error, description, messageId, "token endpoint refused: HTTP " + status
                + (error == null ? "" : " " + error) + (description == null ? "" : ": " + description) + quotedId,
                hint(status, description, response, asked));
    }

    /** An Apigee fault, the platform's refusal before NHS: {@code {"fault": {"faultstring", "detail": {"errorcode"}}}}. */
    record Fault(String faultstring, String errorcode) {
        static Fault of(Map<String, Object> json) {
            if (json == null || !(json.get("fault") instanceof Map<?, ?> fault)) {
                return null;
            }
            Object detail = fault.get("detail");
            String code = detail instanceof Map<?, ?> d ? Objects.toString(d.get("errorcode"), null) : null;
            String text = Objects.toString(fault.get("faultstring"), null);
            return text == null && code == null ? null : new Fault(text, code);
        }

        /** What to do about the faults users meet; null for others. */
        String hint(NhsEnvironment env) {
            String code = errorcode == null ? "" : errorcode.toLowerCase(Locale.ROOT);
            if (code.contains("spikearrest") || code.contains("quota")) {
                return "the platform is rate limiting this app: slow down and retry later, and " + REUSE_TOKENS;
            }
            if (code.contains("apikey") || code.contains("apiproduct")) {
                return "the API key is not valid here: API keys are per environment, so check you used the key of "
                        + "your " + (env == null ? "" : env.id() + " ") + "app, and that the app has this API";
            }
            return null;
        }

        @Override
        public String toString() {
            return (faultstring == null ? "" : faultstring) + (errorcode == null ? ""
                    : (faultstring == null ? "" : " ") + "(" + errorcode + ")");
        }
    }

    /** What to do about each row of the NHS token endpoint's error table. */
    static String hint(int status, String description, HttpResponse<?> response, Asked asked) {
        String d = description == null ? "" : description;
        if (d.contains("subject_token")) {
            return "the ID token given with " + NhsSetting.SUBJECT_TOKEN.named() + " was refused: it must be a current one "
                    + "from NHS CIS2 or NHS login; sign the user in again for a fresh one";
        }
        if (d.contains("'exp' claim") && (d.contains("expired") || d.contains("more than 5 minutes"))) {
            return clockSkew(response.headers().firstValue("Date").orElse(null), Instant.now()) + "; client assertions live " + NhsClient.ASSERTION_LIFETIME_SECONDS
                    + " s, so a clock more than a minute off fails: sync it (e.g. timedatectl set-ntp true)";
        }
        if (d.startsWith("Invalid 'iss'/'sub' claims")) {
            return "the API key is not known in this environment (" + asked.tokenUrl() + "): API keys are per "
                    + "environment, so check you used the key of your " + asked.env().id()
                    + " app (a prod key fails in int), or pick the right " + NhsSetting.ENV.named();
        }
        if (d.startsWith("Invalid 'kid' header")) {
            return "the JWKS registered for the app has no key with kid '" + asked.kid() + "' (this key's "
                    + "thumbprint: " + asked.thumbprint().get() + "): pass the registered kid with " + NhsSetting.KID.named() + ", or publish this "
                    + "key's JWKS; a JWKS URL is cached for an hour after each fetch";
        }
        if (d.startsWith("JWT signature verification failed")) {
            return "the key registered as kid '" + asked.kid() + "' is not this private key (thumbprint "
                    + asked.thumbprint().get() + "): register this key's JWKS or use its private key; "
                    + "verify-keys compares a key with a JWKS" + (asked.exchange() ? "; or the ID token's signature "
                    + "is not its identity provider's" : "");
        }
        if (d.startsWith("You need to register a public key")) {
            return "upload the JWKS from generate-keys on the developer portal ('Manage public key'), "
                    + "or register your JWKS URL on the app";
        }
        if (d.startsWith("The JWKS endpoint")) {
            return "the JWKS URL registered on the app must be public HTTPS with a path, reachable from the internet";
        }
        if (d.startsWith("Missing or invalid 'aud'")) {
            return "the assertion's aud was " + asked.tokenUrl() + ": it must be the exact URL posted to; "
                    + "check " + NhsSetting.TOKEN_URL.named() + " and that no proxy changes the host";
        }
        if (d.startsWith("Non-unique 'jti'")) {
            return "every token request needs a fresh client assertion: do not replay a saved one";
        }
        if (status == 401 && d.contains("not configured to use this authorization grant type")) {
            return "the app has no application-restricted access: add the API with the signed-JWT "
                    + "(application-restricted) access level to the app on the developer portal";
        }
        if (status == 415 || d.startsWith("grant_type") || d.startsWith("Missing or invalid client_assertion_type")
                || d.startsWith("Missing client_assertion")) {
            return "the form reached the endpoint altered: a proxy may rewrite request bodies or headers";
        }
        if (status == 404 || status == 405) {
            return "check " + NhsSetting.TOKEN_URL.named() + " and " + NhsSetting.ENV.named() + ": the token endpoint is <base>/oauth2/token";
        }
        if (status == 429) {
            return "rate limited (300 token requests a minute per app by default): " + REUSE_TOKENS;
        }
        if (status >= 500) {
            return "a fault on the NHS side: try again later; NHS support asks for the message_id";
        }
        return "the client assertion was malformed: please report this with the trace from " + NhsSetting.TRACE.named();
    }

    /** How far this machine's clock is from the endpoint's, read from its Date header. */
    static String clockSkew(String dateHeader, Instant now) {
        if (dateHeader == null) {
            return "the token endpoint sent no Date header to compare clocks with";
        }
        Instant theirs = NhsHttp.parseDate(dateHeader);
        if (theirs == null) {
            return "the token endpoint's Date header could not be read (" + dateHeader + ")";
        }
        long skew = now.getEpochSecond() - theirs.getEpochSecond();
        return "your clock is " + Math.abs(skew) + " s " + (skew >= 0 ? "ahead of" : "behind")
                + " the token endpoint's (its Date: " + dateHeader + ")";
    }

    static Map<String, Object> parseObject(String body) {
        try {
            return JSONObjectUtils.parse(body);
        } catch (java.text.ParseException | RuntimeException e) {
            return null;
        }
    }

    /** A member of the answer as text; null when it is absent, or the answer is not JSON. */
    private static String member(Map<String, Object> json, String name) {
        return json == null ? null : Objects.toString(json.get(name), null);
    }

    /** NHS sends numbers as strings; accept both. */
    private static long number(Object o, long fallback) {
        try {
            return o instanceof Number n ? n.longValue() : Long.parseLong(String.valueOf(o).trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /** NHS tokens live 10 minutes: a day is generous, and a huge lifetime overflows every expiry sum. */
    static boolean usableLifetime(long expiresInSeconds) {
        return expiresInSeconds >= 1 && expiresInSeconds <= 86_400;
    }

    /** The answer's first line, to quote in a message; not one that may hold a token, which stays secret. */
    static String firstLine(String body) {
        if (body.toLowerCase(Locale.ROOT).contains("token")) {
            return body.length() + " characters, not quoted as they may hold a token";
        }
        String line = body.strip().lines().findFirst().orElse("");
        return line.length() > 120 ? line.substring(0, 120) + "..." : line;
    }
}
