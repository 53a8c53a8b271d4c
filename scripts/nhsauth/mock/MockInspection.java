//SOURCES MockIdentityService.java
package nhsauth.mock;

import nhsauth.mock.MockTokenEndpoint.*;

import java.security.GeneralSecurityException;
import java.util.*;

import com.nimbusds.jose.jwk.JWKSet;

/** The token endpoint's judgement of a client assertion, offline and every row at once: what inspect reports. */
public final class MockInspection {
    private MockInspection() {
    }

    /** A row of the endpoint's table: {@code passed} true, false, or null when it cannot be checked offline. */
    public record Rule(int row, String id, int status, String error, String errorDescription, Boolean passed) {
    }

    /** The decoded assertion (never its signature) and every row from 8 to 26, in the endpoint's order. */
    public record Result(Map<String, Object> header, Map<String, Object> claims, List<Rule> rules) {
        /** The row the endpoint would report, or null if none fails offline. */
        public Rule firstFailure() {
            return rules.stream().filter(r -> Boolean.FALSE.equals(r.passed())).findFirst().orElse(null);
        }
    }

    /**
     * Judges {@code jwt} by the endpoint's own checks; a null {@code aud} (token URL), {@code apiKey} or {@code jwks}
     * leaves its rows not checkable, as are the rows that need the service's state.
     * @throws IllegalArgumentException if it is not a JWT (row 8), saying why
     */
    public static Result inspect(String jwt, String aud, String apiKey, JWKSet jwks, long now) throws GeneralSecurityException {
        ClientAssertion assertion;
        try {
            assertion = ClientAssertion.decode(jwt);
        } catch (Refused r) {
            throw new IllegalArgumentException(r.detail);
        }
        var keys = jwks == null ? null : MockJwks.keysOf(jwks);
        List<Rule> rules = new ArrayList<>();
        for (Refusal row : EnumSet.range(Refusal.MALFORMED_JWT, Refusal.NOT_LEVEL_3)) {
            Boolean passed = row == Refusal.MALFORMED_JWT ? Boolean.TRUE : assertion.verdict(row, now, aud, apiKey, keys);
            rules.add(new Rule(row.row, row.name().toLowerCase(Locale.ROOT), row.status, row.error, row.description, passed));
        }
        return new Result(Collections.unmodifiableMap(assertion.header()), Collections.unmodifiableMap(assertion.claims()),
                rules);
    }
}
