package nhsauth.mock;

import nhsauth.client.*;

import java.io.IOException;
import java.nio.file.*;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicReference;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.*;

/** The registered apps' public keys: JWKS files and URLs, as the NHS token endpoint reads them. */
public final class MockJwks {
    /** The client's own default: a slow fetch holds only its app's requests, and a first TLS handshake may take seconds. */
    static final Duration JWKS_FETCH_TIMEOUT = Duration.ofSeconds(30);
    /** The largest JWKS file the mock reads (the client caps a URL's answer alike). */
    static final int MAX_JWKS_BYTES = 1024 * 1024;

    private MockJwks() {
    }

    public static boolean isUrl(String jwks) {
        String lower = jwks.toLowerCase(Locale.ROOT);
        return lower.startsWith("http://") || lower.startsWith("https://");
    }

    /** A registered app and its JWKS, null when it has no public key. */
    record Registration(MockIdentityService.App app, Jwks jwks) {
    }

    /** The registered apps by API key. */
    static Map<String, Registration> registry(List<MockIdentityService.App> apps, long cacheSeconds) {
        Map<String, Registration> byKey = new HashMap<>();
        for (MockIdentityService.App app : apps) {
            Jwks jwks = app.jwks() == null ? null : new Jwks(app.jwks(), cacheSeconds);
            if (byKey.putIfAbsent(app.apiKey(), new Registration(app, jwks)) != null) {
                throw new UsageException("API key '" + app.apiKey() + "' is registered twice: "
                        + "give each app once");
            }
        }
        return Map.copyOf(byKey);
    }

    /** Why an app's keys cannot be had right now: the endpoint's row 22. */
    static final class JwksUnavailable extends Exception {
        JwksUnavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    /** The keys a JWKS offers the endpoint, by kid: only RSA keys with a kid can ever match. */
    static Map<String, RSAPublicKey> keysOf(JWKSet set) {
        Map<String, RSAPublicKey> keys = new HashMap<>();
        for (JWK jwk : set.getKeys()) {
            if (jwk instanceof RSAKey rsa && rsa.getKeyID() != null) {
                try {
                    keys.putIfAbsent(rsa.getKeyID(), rsa.toRSAPublicKey());
                } catch (JOSEException unusable) {
                    // skipped, so it simply matches no kid (row 23)
                }
            }
        }
        return Map.copyOf(keys);
    }

    /**
     * An app's keys by kid from a JWKS file (as if uploaded on the portal) or URL (fetched as APIM does, cached even for
     * an unknown kid). Not a JWKS at all is unreachable (row 22): row 23 would send the user checking the wrong thing.
     * Requests finding the keys stale share one load under way: a burst of requests is never a burst of fetches.
     */
    static final class Jwks {
        /** Keys, or the problem that kept them; {@code stamp} is a file's time and size when read (null for a URL). */
        private record Loaded(List<Object> stamp, long atNanos, Map<String, RSAPublicKey> keys, String problem) {
        }

        private final String url;
        private final Path file;
        private final long cacheNanos;
        private volatile Loaded loaded;
        private final AtomicReference<CompletableFuture<Loaded>> loading = new AtomicReference<>();

        /** A JWKS file or URL; a URL's keys are reused for {@code cacheSeconds}. */
        Jwks(String source, long cacheSeconds) {
            this.url = isUrl(source) ? source : null;
            this.file = url == null ? Path.of(source) : null;
            this.cacheNanos = TimeUnit.SECONDS.toNanos(cacheSeconds);
        }

        Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            List<Object> stamp = stamp();
            Loaded l = loaded;
            boolean own = false;
            // Whoever waits shares a URL's load; a file's, only if that load read the file as this request saw it.
            while (!own && !fresh(l, stamp)) {
                CompletableFuture<Loaded> mine = new CompletableFuture<>();
                CompletableFuture<Loaded> running = loading.compareAndExchange(null, mine);
                if (running == null) {
                    try {
                        Loaded now = loaded;
                        mine.complete(fresh(now, stamp) ? now : (loaded = load(stamp)));
                    } finally {
                        loading.set(null);
                        // A fault (row 27 for this request) must not leave the others waiting.
                        mine.completeExceptionally(new IllegalStateException("the JWKS fetch failed"));
                    }
                    running = mine;
                    own = true;
                }
                l = running.join();
                if (file == null) {
                    break;
                }
            }
            if (l.keys() == null) {
                throw new JwksUnavailable(l.problem());
            }
            return l.keys();
        }

        private List<Object> stamp() throws JwksUnavailable {
            if (file == null) {
                return null;
            }
            try {
                BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
                return List.of(attributes.lastModifiedTime(), attributes.size());
            } catch (IOException e) {
                throw new JwksUnavailable("cannot read JWKS file " + file + " (" + e + ")");
            }
        }

        /** A file's keys or problem while it is unchanged; a URL's keys (never its problem) for the cache period. */
        private boolean fresh(Loaded l, List<Object> stamp) {
            return l != null && (file != null ? l.stamp().equals(stamp)
                    : l.keys() != null && System.nanoTime() - l.atNanos() < cacheNanos);
        }

        /** Read by the client's public loader (a URL fetched as APIM fetches it). */
        private Loaded load(List<Object> stamp) {
            if (file != null && (long) stamp.get(1) > MAX_JWKS_BYTES) {
                return new Loaded(stamp, System.nanoTime(), null, "JWKS file " + file + " is over 1 MiB");
            }
            try {
                JWKSet set = NhsKeys.loadJwks(file == null ? url : file.toString(), JWKS_FETCH_TIMEOUT, null);
                return new Loaded(stamp, System.nanoTime(), keysOf(set), null);
            } catch (NhsAuthException e) {
                return new Loaded(stamp, System.nanoTime(), null, e.getMessage());
            }
        }
    }
}
