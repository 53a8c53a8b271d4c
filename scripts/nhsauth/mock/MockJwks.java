
package nhsauth.mock;

import nhsauth.client.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;

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
            NhsClient http = null;
            for (MockIdentityService.App app : apps) {
                Jwks jwks = null;
                if (app.jwks() != null && isUrl(app.jwks())) {
                    if (http == null) {
                        // The client's public transport, for its proxy rules; no credentials are sent.
                        http = NhsClient.builder().auth(NhsAuthPattern.NONE).timeout(JWKS_FETCH_TIMEOUT)
                                .notices(null).build();
                    }
                    jwks = new JwksUrl(URI.create(app.jwks()), cacheSeconds, http);
                } else if (app.jwks() != null) {
                    jwks = new JwksFile(Path.of(app.jwks()));
                }
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

        static Map<String, RSAPublicKey> parse(byte[] document, String source) throws JwksUnavailable {
            try {
                String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(document)).toString();
                Map<String, RSAPublicKey> keys = new HashMap<>();
                for (JWK jwk : JWKSet.parse(text).getKeys()) {
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
                throw new JwksUnavailable(source + " is not a JWKS (" + e.getMessage() + ")");
            }
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
                s = load(attributes);
                snapshot = s;
            }
            if (s.keys() == null) {
                throw new JwksUnavailable(s.problem());
            }
            return s.keys();
        }

        private Snapshot load(BasicFileAttributes attributes) throws JwksUnavailable {
            FileTime modified = attributes.lastModifiedTime();
            if (attributes.size() > MAX_JWKS_BYTES) {
                return new Snapshot(modified, attributes.size(), null, "JWKS file " + path + " is over 1 MiB");
            }
            byte[] document;
            try {
                document = Files.readAllBytes(path);
            } catch (IOException e) {
                throw new JwksUnavailable("cannot read JWKS file " + path + " (" + e + ")");
            }
            try {
                return new Snapshot(modified, attributes.size(), Jwks.parse(document, path.toString()), null);
            } catch (JwksUnavailable e) {
                return new Snapshot(modified, attributes.size(), null, e.getMessage());
            }
        }
    }

    /** A JWKS URL, fetched as APIM fetches it and then reused for the cache period, even for an unknown kid. */
    static final class JwksUrl implements Jwks {
        private record Fetched(long atNanos, Map<String, RSAPublicKey> keys) {
        }

        private final URI uri;
        private final long cacheNanos;
        private final NhsClient http;
        private final Object fetching = new Object();
        private volatile Fetched fetched;

        JwksUrl(URI uri, long cacheSeconds, NhsClient http) {
            this.uri = uri;
            this.cacheNanos = TimeUnit.SECONDS.toNanos(cacheSeconds);
            this.http = http;
        }

        @Override
        public Map<String, RSAPublicKey> keysByKid() throws JwksUnavailable {
            Fetched f = fetched;
            if (fresh(f)) {
                return f.keys();
            }
            // One fetch at a time: a burst of token requests must not become a burst of fetches.
            synchronized (fetching) {
                f = fetched;
                if (fresh(f)) {
                    return f.keys();
                }
                Map<String, RSAPublicKey> keys = Jwks.parse(fetch(), uri.toString());
                fetched = new Fetched(System.nanoTime(), keys);
                return keys;
            }
        }

        private boolean fresh(Fetched f) {
            return f != null && System.nanoTime() - f.atNanos() < cacheNanos;
        }

        private byte[] fetch() throws JwksUnavailable {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                    .timeout(JWKS_FETCH_TIMEOUT)
                    .header("User-Agent", "APIM")
                    .header("Accept", "application/json")
                    .GET();
            HttpResponse<java.io.InputStream> response;
            byte[] body;
            try {
                response = http.send(request, 0, HttpResponse.BodyHandlers.ofInputStream());
                try (java.io.InputStream in = response.body()) {
                    body = in.readNBytes(MAX_JWKS_BYTES + 1);
                }
            } catch (NhsAuthException | IOException e) {
                throw new JwksUnavailable(e.getMessage());
            }
            if (response.statusCode() != 200) {
                throw new JwksUnavailable(uri + " answered HTTP " + response.statusCode());
            }
            if (body.length > MAX_JWKS_BYTES) {
                throw new JwksUnavailable(uri + " sent over 1 MiB");
            }
            return body;
        }
    }
}
