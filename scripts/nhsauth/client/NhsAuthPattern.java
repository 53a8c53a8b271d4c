package nhsauth.client;

import java.util.*;
import java.util.stream.Collectors;

/**
 * How an application-restricted API call proves which app makes it: a signed JWT exchanged for a bearer
 * token, the app's API key in an {@code apikey} header, or open access (sandboxes), where nothing is sent.
 */
public enum NhsAuthPattern {
    /** {@code Authorization: Bearer <token>}, the token got with a client assertion signed by the app's key. */
    SIGNED_JWT,
    /** {@code apikey: <the app's API key>} on every request; no token, no private key. */
    API_KEY,
    /** Nothing but the request: open-access APIs and every sandbox but Hello World's. */
    NONE;

    /** The name users type: {@code signed-jwt}, {@code api-key}, {@code none}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Every pattern's name, comma-separated. */
    public static String validNames() {
        return Arrays.stream(values()).map(NhsAuthPattern::id).collect(Collectors.joining(", "));
    }

    /** What an environment uses when nothing is said: sandboxes open access, unless a token URL is given; else signed JWT. */
    public static NhsAuthPattern defaultFor(NhsEnvironment env, boolean tokenUrlGiven) {
        return env == NhsEnvironment.SANDBOX && !tokenUrlGiven ? NONE : SIGNED_JWT;
    }

    /** The pattern a client uses, checked for what it needs beyond the signed JWT's settings (checked with the key). */
    static NhsAuthPattern resolve(NhsClient.Builder b) {
        NhsAuthPattern pattern = b.auth != null ? b.auth : defaultFor(b.env, b.tokenUrl != null);
        if (pattern == API_KEY && b.apiKey == null) {
            throw new UsageException("no API key: " + NhsSetting.API_KEY.action()
                    + " to your app's key from the developer portal (the api-key pattern sends it as apikey)");
        }
        if (pattern != SIGNED_JWT && b.subjectToken != null) {
            // Silently calling as the app, not as the signed-in user, would mislead the API's audit trail.
            throw new UsageException("an ID token is exchanged only with the signed-jwt pattern, not " + pattern.id()
                    + ": " + NhsSetting.AUTH.action() + " to signed-jwt, or drop " + NhsSetting.SUBJECT_TOKEN.named());
        }
        return pattern;
    }

    /** Why a client of this pattern has no token or client assertion to give. */
    UsageException noToken() {
        return new UsageException("this client uses the " + id() + " pattern, which needs no token: "
                + NhsSetting.AUTH.action() + " to signed-jwt for tokens");
    }

    /** @throws UsageException naming the valid patterns */
    public static NhsAuthPattern parse(String name) {
        return parse(name, null);
    }

    /** Like {@link #parse(String)}, naming where the value came from (a variable or option) on a mistake. */
    static NhsAuthPattern parse(String name, String source) {
        String wanted = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        return Arrays.stream(values()).filter(p -> p.id().equals(wanted)).findFirst().orElseThrow(() -> new UsageException(
                "unknown auth pattern '" + name + "'" + (source == null ? "" : " in " + source)
                        + ": use one of " + validNames()));
    }

    @Override
    public String toString() {
        return id();
    }
}
