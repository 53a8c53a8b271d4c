package nhsauth.mock;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Issued access tokens and when each expires. */
final class MockAccessTokens {
    enum Check { VALID, EXPIRED, UNKNOWN }

    private static final SecureRandom RANDOM = new SecureRandom();
    private final ConcurrentHashMap<String, Long> expiresAt = new ConcurrentHashMap<>();
    private final AtomicLong issued = new AtomicLong();

    /** {@code n} random bytes as URL-safe text: for access and refresh tokens alike. */
    static String random(int n) {
        byte[] bytes = new byte[n];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** 168 random bits: 28 URL-safe characters, the length NHS tokens have. */
    String issue(long now, long lifetimeMs) {
        String token = random(21);
        expiresAt.put(token, now + lifetimeMs);
        issued.incrementAndGet();
        return token;
    }

    Check check(String token, long now) {
        Long until = expiresAt.get(token);
        return until == null ? Check.UNKNOWN : until > now ? Check.VALID : Check.EXPIRED;
    }

    void forgetExpired(long now) {
        expiresAt.values().removeIf(until -> until <= now);
    }

    int size() {
        return expiresAt.size();
    }

    long issued() {
        return issued.get();
    }
}
