package nhsauth.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** How the token endpoint's answers are read; whole answers through get-token are in GetTokenTest. */
class NhsTokenEndpointTest {

    @Test
    void clockSkewIsMeasuredAgainstTheEndpointsDateHeader() {
        java.time.Instant now = java.time.Instant.parse("2026-11-28T12:02:00Z");
        assertEquals("your clock is 120 s ahead of the token endpoint's (its Date: Sat, 28 Nov 2026 12:00:00 GMT)",
                NhsTokenEndpoint.clockSkew("Sat, 28 Nov 2026 12:00:00 GMT", now));
        assertEquals("your clock is 90 s behind the token endpoint's (its Date: Sat, 28 Nov 2026 12:03:30 GMT)",
                NhsTokenEndpoint.clockSkew("Sat, 28 Nov 2026 12:03:30 GMT", now));
        assertTrue(NhsTokenEndpoint.clockSkew(null, now).contains("no Date header"));
    }
}
