
package nhsauth.mock;

import nhsauth.client.*;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;

import nhsauth.mock.MockTokenEndpoint.Refusal;
import nhsauth.mock.MockTokenEndpoint.Refused;

/** The registered apps' public keys: JWKS files and URLs, as the NHS token endpoint reads them. */
public final class MockJwks {
    static final Duration JWKS_FETCH_TIMEOUT = Duration.ofSeconds(5);
    /** The largest JWKS the mock reads, from a file or a URL. */
    static final int MAX_JWKS_BYTES = 1024 * 1024;

    private MockJwks() {
    }

    public static boolean isUrl(String jwks) {
        String lower = jwks.toLowerCase(Locale.ROOT);
        return lower.startsWith("http://") || lower.startsWith("https://");
    }

    /** An app as the token endpoint finds it by API key; {@code jwks} null when it has no public key. */
    record Registration(Jwks jwks, boolean level3) {
    }

    static Map<String, Registration> register(List<MockIdentityService.App> apps, long cacheSeconds) {
        Map<String, Registration> byApiKey = new HashMap<>();
        NhsClient http = null;
        for (MockIdentityService.App app : apps) {
            Jwks jwks = null;
            if (app.jwks() != null && isUrl(app.jwks())) {
                if (http == null) {
                    // The client's public transport, for its proxy rules; no credentials are sent.
                    http = NhsClient.builder().auth(NhsAuthPattern.NONE).timeout(JWKS_FETCH_TIMEOUT).notices(null)
                            .build();
                }
                jwks = new JwksUrl(URI.create(app.jwks()), cacheSeconds, http);
            } else if (app.jwks() != null) {
                jwks = new JwksFile(Path.of(app.jwks()));
            }
            if (byApiKey.putIfAbsent(app.apiKey(), new Registration(jwks, app.level3())) != null) {
                throw new NhsClient.UsageException("API key '" + app.apiKey() + "' is registered twice: "
                        + "give each app once");
            }
        }
        return Map.copyOf(byApiKey);
    }

    /** Why an app's keys cannot be had right now: row 22. */
    static Refused unreachable(String reason) {
        return new Refused(Refusal.JWKS_UNREACHABLE, reason);
    }

    /**
     * An app's public keys by kid. Only RSA keys with a kid can ever match; a key that cannot be
     * turned into a public key is skipped, so it simply matches no kid (row 23). A document that is
     * not a JWKS at all counts as unreachable (row 22), not as "no matching key": the endpoint never
     * got keys to compare the kid with, and row 23 would send the user checking the wrong thing.
     */
    interface Jwks {
        Map<String, RSAPublicKey> keysByKid() throws Refused;

        static Map<String, RSAPublicKey> parse(byte[] document, String source) throws Refused {
            try {
                Map<String, RSAPublicKey> keys = new HashMap<>();
                for (JWK jwk : JWKSet.parse(MockTokenEndpoint.strictUtf8(document)).getKeys()) {
                    if (jwk instanceof RSAKey rsa && rsa.getKeyID() != null) {
                        try {
                            keys.putIfAbsent(rsa.getKeyID(), rsa.toRSAPublicKey());
                        } catch (JOSEException unusable) {
                            // skipped: see above
                        }
                    }
                }
                return Map.copyOf(keys);
            } catch (java.text.ParseException | CharacterCodingException | RuntimeException e) {
                throw unreachable(source + " is not a JWKS (" + e.getMessage() + ")");
            }
        }
    }

    /** A JWKS file, as if uploaded on the portal: re-read only when its time or size changes. */
    static final class JwksFile implements Jwks {
        /** One version of the file: its keys, or why it has none. */
        private record Snapshot(FileTime modified, long size, Map<String, RSAPublicKey> keys, Refused problem) {
        }

        private final Path path;
        private volatile Snapshot snapshot;

        JwksFile(Path path) {
            this.path = path;
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws Refused {
            Snapshot s = snapshot;
            try {
                BasicFileAttributes file = Files.readAttributes(path, BasicFileAttributes.class);
                if (s == null || !s.modified().equals(file.lastModifiedTime()) || s.size() != file.size()) {
                    s = load(file);
                    snapshot = s;
                }
            } catch (IOException e) {
                throw unreachable("cannot read JWKS file " + path + " (" + e + ")");
            }
            if (s.problem() != null) {
                throw s.problem();
            }
            return s.keys();
        }

        private Snapshot load(BasicFileAttributes file) throws IOException {
            try {
                if (file.size() > MAX_JWKS_BYTES) {
                    throw unreachable("JWKS file " + path + " is over 1 MiB");
                }
                return new Snapshot(file.lastModifiedTime(), file.size(),
                        Jwks.parse(Files.readAllBytes(path), path.toString()), null);
            } catch (Refused r) {
                return new Snapshot(file.lastModifiedTime(), file.size(), null, r);
            }
        }
    }

    /** A JWKS URL, fetched as APIM fetches it and then reused for the cache period, even for an unknown kid. */
    static final class JwksUrl implements Jwks {
        private final URI uri;
        private final long cacheNanos;
        private final NhsClient http;
        private Map<String, RSAPublicKey> keys;
        private long fetchedAtNanos;

        JwksUrl(URI uri, long cacheSeconds, NhsClient http) {
            this.uri = uri;
            this.cacheNanos = TimeUnit.SECONDS.toNanos(cacheSeconds);
            this.http = http;
        }

        /** Synchronized: a burst of token requests must not become a burst of fetches. */
        @Override
        public synchronized Map<String, RSAPublicKey> keysByKid() throws Refused {
            if (keys == null || System.nanoTime() - fetchedAtNanos >= cacheNanos) {
                keys = Jwks.parse(fetch(), uri.toString());
                fetchedAtNanos = System.nanoTime();
            }
            return keys;
        }

        /** The JWKS, over the client's transport: its timeout is JWKS_FETCH_TIMEOUT, and no retries. */
        private byte[] fetch() throws Refused {
            HttpResponse<InputStream> response;
            byte[] body;
            try {
                response = http.send(HttpRequest.newBuilder(uri).header("User-Agent", "APIM")
                        .header("Accept", "application/json"), 0, HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream in = response.body()) {
                    body = in.readNBytes(MAX_JWKS_BYTES + 1);
                }
            } catch (NhsClient.NhsAuthException | IOException e) {
                throw unreachable(e.getMessage());
            }
            if (response.statusCode() != 200) {
                throw unreachable(uri + " answered HTTP " + response.statusCode());
            }
            if (body.length > MAX_JWKS_BYTES) {
                throw unreachable(uri + " sent over 1 MiB");
            }
            return body;
        }
    }
}
