package nhsauth.client;

import java.time.*;
import java.util.Map;

/**
 * An access token as the token endpoint issued it. A token exchange ({@link NhsClient.Builder#subjectToken})
 * also gives a refresh token (a secret), its lifetime and the issued token's type; otherwise they are null, 0, null.
 */
public record AccessToken(String value, String tokenType, long expiresInSeconds, long issuedAtMillis,
        String refreshToken, long refreshTokenExpiresInSeconds, String issuedTokenType) {
    /** A token without the exchange's fields, as client credentials give. */
    public AccessToken(String value, String tokenType, long expiresInSeconds, long issuedAtMillis) {
        this(value, tokenType, expiresInSeconds, issuedAtMillis, null, 0, null);
    }

    /** When the token stops working. */
    public Instant expiresAt() {
        return Instant.ofEpochMilli(issuedAtMillis).plusSeconds(expiresInSeconds);
    }

    /** Whether it expires within {@code margin} from now. */
    public boolean expiresWithin(Duration margin) {
        return !Instant.now().plus(margin).isBefore(expiresAt());
    }

    /**
     * The token as one line of JSON, secrets included: access_token, token_type, expires_in, issued_at, expires_at
     * (ISO 8601, whole seconds); from an exchange, refresh_token, refresh_token_expires_in and issued_token_type too.
     */
    public String toJson() {
        Map<String, Object> json = new java.util.LinkedHashMap<>();
        json.put("access_token", value);
        json.put("token_type", tokenType);
        json.put("expires_in", expiresInSeconds);
        json.put("issued_at", issuedAtMillis);
        json.put("expires_at", expiresAt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        if (refreshToken != null) {
            json.put("refresh_token", refreshToken);
            json.put("refresh_token_expires_in", refreshTokenExpiresInSeconds);
        }
        if (issuedTokenType != null) {
            json.put("issued_token_type", issuedTokenType);
        }
        return NhsJson.compact(json);
    }

    /** Never shows the tokens themselves. */
    @Override
    public String toString() {
        return "AccessToken[****, expires " + expiresAt() + "]";
    }
}
