
package nhsauth.mock;

import nhsauth.client.*;

import java.io.IOException;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicReference;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.*;

/** The registered apps' public keys: JWKS files and URLs, as the NHS token endpoint reads them. */
public final class MockJwks {
    /**
     * A JWKS URL's whole answer, body included, must come within this: the client's own default, as a
     * slow fetch holds only its own app's requests (they share it) and a loaded CI machine's first
     * TLS handshake through a proxy can take seconds.
     */
    static final Duration JWKS_FETCH_TIMEOUT = Duration.ofSeconds(30);
    /** The largest JWKS file the mock reads (the client caps a URL's answer alike). */
    static final int MAX_JWKS_BYTES = 1024 * 1024;

    private MockJwks() {
    }

    public static boolean isUrl(String jwks) {
        String lower = jwks.toLowerCase(Locale.ROOT);
        return lower.startsWith("http://") || lower.startsWith("https://");
    }

    /** The registered apps by API key, each with its JWKS source. */
    static final class Registry {
        record Registration(MockIdentityService.App app, Jwks jwks) {
            boolean level3() {
                return app.level3();
            }
        }

        private final Map<String, Registration> byApiKey;

        private Registry(Map<String, Registration> byApiKey) {
            this.byApiKey = byApiKey;
        }

        static Registry of(List<MockIdentityService.App> apps, long cacheSeconds) {
            Map<String, Registration> byKey = new HashMap<>();
            for (MockIdentityService.App app : apps) {
                Jwks jwks = app.jwks() == null ? null : Jwks.of(app.jwks(), cacheSeconds);
                if (byKey.putIfAbsent(app.apiKey(), new Registration(app, jwks)) != null) {
                    throw new UsageException("API key '" + app.apiKey() + "' is registered twice: "
                            + "give each app once");
                }
            }
            return new Registry(Map.copyOf(byKey));
        }

        Registration app(String apiKey) {
            return byApiKey.get(apiKey);
        }
    }

    /** Why an app's keys cannot be had right now: the endpoint's row 22. */
    static final class JwksUnavailable extends Exception {
        JwksUnavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    /**
     * An app's public keys by kid. Only RSA keys with a kid can ever match; a key that cannot be
     * turned into a public key is skipped, so it simply matches no kid (row 23). A document that is
     * not a JWKS at all counts as unreachable (row 22), not as "no matching key": the endpoint never
     * got keys to compare the kid with, and row 23 would send the user checking the wrong thing.
     */
    interface Jwks {
        Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable;

        /** A JWKS file or URL; a URL's keys are reused for {@code cacheSeconds}. */
        static Jwks of(String source, long cacheSeconds) {
            return isUrl(source) ? new JwksUrl(source, cacheSeconds) : new JwksFile(Path.of(source));
        }

        /** A file or URL read by the client's public loader (a URL fetched as APIM fetches it). */
        static Map<String, RSAPublicKey> load(String source) throws JwksUnavailable {
            JWKSet set;
            try {
                set = NhsKeys.loadJwks(source, JWKS_FETCH_TIMEOUT, null);
            } catch (NhsAuthException e) {
                throw new JwksUnavailable(e.getMessage());
            }
            return keysOf(set);
        }

        /** The keys a JWKS offers the endpoint, by kid. */
        static Map<String, RSAPublicKey> keysOf(JWKSet set) {
            Map<String, RSAPublicKey> keys = new HashMap<>();
            for (JWK jwk : set.getKeys()) {
                if (jwk instanceof RSAKey rsa && rsa.getKeyID() != null) {
                    try {
                        keys.putIfAbsent(rsa.getKeyID(), rsa.toRSAPublicKey());
                    } catch (JOSEException unusable) {
                        // skipped: see above
                    }
                }
            }
            return Map.copyOf(keys);
        }
    }

    /** A JWKS file, as if uploaded on the portal: re-read only when its time or size changes. */
    static final class JwksFile implements Jwks {
        private record Snapshot(FileTime modified, long size, Map<String, RSAPublicKey> keys, String problem) {
        }

        private final Path path;
        private volatile Snapshot snapshot;

        JwksFile(Path path) {
            this.path = path;
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(path, BasicFileAttributes.class);
            } catch (IOException e) {
                throw new JwksUnavailable("cannot read JWKS file " + path + " (" + e + ")");
            }
            Snapshot s = snapshot;
            if (s == null || !s.modified().equals(attributes.lastModifiedTime()) || s.size() != attributes.size()) {
                s = new Snapshot(attributes.lastModifiedTime(), attributes.size(), null, "JWKS file " + path + " is over 1 MiB");
                if (attributes.size() <= MAX_JWKS_BYTES) {
                    try {
                        s = new Snapshot(s.modified(), s.size(), Jwks.load(path.toString()), null);
                    } catch (JwksUnavailable e) {
                        s = new Snapshot(s.modified(), s.size(), null, e.getMessage());
                    }
                }
                snapshot = s;
            }
            if (s.keys() == null) {
                throw new JwksUnavailable(s.problem());
            }
            return s.keys();
        }
    }

    /**
     * A JWKS URL, fetched as APIM fetches it and then reused for the cache period, even for an
     * unknown kid. The cached keys are read without a lock. Requests that find them stale while a
     * fetch is under way wait for that one fetch, bounded by its timeout, and share its outcome:
     * a burst of token requests is never a burst of fetches, nor a queue of them one after another.
     */
    static final class JwksUrl implements Jwks {
        /** Keys, or the problem that kept them; only keys are kept for the cache period. */
        private record Fetched(long atNanos, Map<String, RSAPublicKey> keys, String problem) {
        }

        private final String url;
        private final long cacheNanos;
        private volatile Fetched fetched;
        private final AtomicReference<CompletableFuture<Fetched>> fetching = new AtomicReference<>();

        JwksUrl(String url, long cacheSeconds) {
            this.url = url;
            this.cacheNanos = TimeUnit.SECONDS.toNanos(cacheSeconds);
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            Fetched f = fetched;
            if (!fresh(f)) {
                CompletableFuture<Fetched> mine = new CompletableFuture<>();
                CompletableFuture<Fetched> running = fetching.compareAndExchange(null, mine);
                if (running == null) {
                    try {
                        Fetched now = fetched;
                        mine.complete(fresh(now) ? now : fetch());
                    } finally {
                        fetching.set(null);
                        // A fault (row 27 for this request) must not leave the others waiting.
                        mine.completeExceptionally(new IllegalStateException("the JWKS fetch failed"));
                    }
                    running = mine;
                }
                f = running.join();
            }
            if (f.keys() == null) {
                throw new JwksUnavailable(f.problem());
            }
            return f.keys();
        }

        private boolean fresh(Fetched f) {
            return f != null && f.keys() != null && System.nanoTime() - f.atNanos() < cacheNanos;
        }

        private Fetched fetch() {
            try {
                Fetched f = new Fetched(System.nanoTime(), Jwks.load(url), null);
                fetched = f;
                return f;
            } catch (JwksUnavailable e) {
                return new Fetched(System.nanoTime(), null, e.getMessage());
            }
        }
    }
}
