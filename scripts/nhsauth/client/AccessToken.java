package nhsauth.client;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/** An access token as the token endpoint issued it. */
public record AccessToken(String value, String tokenType, long expiresInSeconds, long issuedAtMillis) {
    /** When the token stops working. */
    public Instant expiresAt() {
        return Instant.ofEpochMilli(issuedAtMillis).plusSeconds(expiresInSeconds);
    }

    /** Whether it expires within {@code margin} from now. */
    public boolean expiresWithin(Duration margin) {
        return !Instant.now().plus(margin).isBefore(expiresAt());
    }

    /**
     * The token as one line of JSON, the secret included: access_token, token_type, expires_in,
     * issued_at and expires_at (ISO 8601, whole seconds).
     */
    public String toJson() {
        Map<String, Object> json = new java.util.LinkedHashMap<>();
        json.put("access_token", value);
        json.put("token_type", tokenType);
        json.put("expires_in", expiresInSeconds);
        json.put("issued_at", issuedAtMillis);
        json.put("expires_at", expiresAt().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        return NhsJson.compact(json);
    }

    /** Never shows the token itself. */
    @Override
    public String toString() {
        return "AccessToken[****, expires " + expiresAt() + "]";
    }
}
