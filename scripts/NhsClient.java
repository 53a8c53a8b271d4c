//DEPS info.picocli:picocli:4.7.7
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.shaded.gson.GsonBuilder;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.bc.BcPEMDecryptorProvider;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * The NHS signed-JWT client, and the little the nhs-auth commands share.
 *
 * <p>Pull it into a JBang script with one line: {@code //SOURCES path/to/NhsClient.java}; its
 * {@code //DEPS} come along.
 */
public final class NhsClient {
    // ------------------------------------------------------------------ the client

    /** How many times a token request is resent after a transient failure. */
    public static final int TOKEN_RETRIES = 2;
    /** Seconds a client assertion lives: the endpoint allows at most 300 (310 with its grace). */
    public static final int ASSERTION_LIFETIME_SECONDS = 240;
    /** A cached token is not reused within this many seconds of its expiry. */
    public static final int TOKEN_REUSE_MARGIN_SECONDS = 60;
    static final String FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";
    static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    private final Environment env;
    private final String apiKey;
    private final SigningKey signingKey;
    private final String kid;
    private final String tokenUrl;
    private final boolean tokenNeeded;
    private final Duration timeout;
    private final Transport transport;
    private final TokenCache tokenCache;
    private AccessToken cached;

    private NhsClient(Builder b) {
        this.env = b.env;
        this.apiKey = b.apiKey;
        this.signingKey = b.signingKey;
        this.kid = b.kid;
        this.tokenUrl = b.tokenUrl;
        this.tokenNeeded = b.tokenNeeded;
        this.timeout = b.timeout;
        this.transport = b.transport;
        this.tokenCache = b.tokenCacheDir == null ? null : new TokenCache(b.tokenCacheDir, b.notices);
    }

    /** Starts a client configuration; {@link Builder#build()} checks it. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A client configured from the same {@code NHS_*} environment variables the commands read:
     * NHS_API_KEY, NHS_PRIVATE_KEY (required), NHS_ENV, NHS_KID, NHS_TOKEN_URL, NHS_TIMEOUT,
     * NHS_CA_CERT, NHS_PRIVATE_KEY_PASSPHRASE.
     *
     * @throws UsageException a variable is missing or its value is unusable
     */
    public static NhsClient fromEnvironment() {
        Map<String, String> vars = System.getenv();
        Builder b = builder()
                .apiKey(vars.get("NHS_API_KEY"))
                .environment(vars.getOrDefault("NHS_ENV", "int"))
                .kid(vars.get("NHS_KID"))
                .tokenUrl(vars.get("NHS_TOKEN_URL"))
                .caCertificates(blankToNull(vars.get("NHS_CA_CERT")) == null ? null : Path.of(vars.get("NHS_CA_CERT")));
        String key = blankToNull(vars.get("NHS_PRIVATE_KEY"));
        if (key == null) {
            throw new UsageException("NHS_PRIVATE_KEY is not set: set it to the path of your private key PEM");
        }
        String passphrase = vars.get("NHS_PRIVATE_KEY_PASSPHRASE");
        b.privateKey(Path.of(key), passphrase == null ? null : passphrase.toCharArray());
        String seconds = blankToNull(vars.get("NHS_TIMEOUT"));
        if (seconds != null) {
            b.timeout(parseTimeout(seconds, "NHS_TIMEOUT"));
        }
        return b.build();
    }

    public Environment environment() {
        return env;
    }

    /** The key id sent in the client assertion's header. */
    public String kid() {
        return kid;
    }

    /** The token endpoint posted to; the client assertion's {@code aud}. */
    public String tokenUrl() {
        return tokenUrl;
    }

    /** RFC 7638 thumbprint of the signing key's public half, to compare with the registered JWKS. */
    public String keyThumbprint() {
        return signingKey.thumbprint();
    }

    /** Whether API calls carry a token: NHS sandboxes are open access unless a token URL is given. */
    public boolean usesToken() {
        return tokenNeeded;
    }

    /** A freshly signed client assertion (new jti, exp = now + 240 s). Treat it as a secret. */
    public String clientAssertion() {
        return signingKey.clientAssertion(apiKey, kid, tokenUrl, ASSERTION_LIFETIME_SECONDS);
    }

    /**
     * An access token, reusing the last one while it has more than a minute to live: from this
     * process, or with {@link Builder#tokenCache(Path)} from the cache shared across runs.
     *
     * @throws TokenRequestException the token endpoint refused the client assertion (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     */
    public String accessToken() {
        return token().value();
    }

    /**
     * Like {@link #accessToken()}, with the token's type and lifetime.
     *
     * @throws TokenRequestException the token endpoint refused the client assertion (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     */
    public synchronized AccessToken token() {
        Duration margin = Duration.ofSeconds(TOKEN_REUSE_MARGIN_SECONDS);
        if (cached == null || cached.expiresWithin(margin)) {
            AccessToken stored = tokenCache == null ? null : tokenCache.read(tokenUrl, apiKey, kid);
            if (stored != null && !stored.expiresWithin(margin)) {
                transport.trace("reusing a cached access token until " + stored.expiresAt());
                cached = stored;
            } else {
                cached = requestToken();
                if (tokenCache != null) {
                    tokenCache.write(tokenUrl, apiKey, kid, cached);
                }
            }
        }
        return cached;
    }

    /**
     * Exchanges a fresh client assertion for a new access token, retrying transient failures
     * (connection refused or reset, HTTP 429, 502, 503, 504) up to twice, each time with a newly
     * signed assertion so no jti is ever reused.
     *
     * @throws TokenRequestException the token endpoint refused, or answered with something that is not a token (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     */
    public AccessToken requestToken() {
        for (int attempt = 0; ; attempt++) {
            boolean last = attempt >= TOKEN_RETRIES;
            HttpRequest request = HttpRequest.newBuilder(URI.create(tokenUrl))
                    .timeout(timeout)
                    .header("Content-Type", FORM_CONTENT_TYPE)
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(tokenForm(clientAssertion())))
                    .build();
            HttpResponse<byte[]> response;
            try {
                response = transport.exchange(request, "token endpoint");
            } catch (NetworkException e) {
                if (last || !e.retryable()) {
                    throw e;
                }
                transport.trace("retrying the token request after: " + e.getMessage());
                sleep(backoff(attempt, null));
                continue;
            }
            int status = response.statusCode();
            if (!last && Transport.isTransient(status)) {
                transport.trace("retrying the token request after HTTP " + status);
                sleep(backoff(attempt, response.headers().firstValue("Retry-After").orElse(null)));
                continue;
            }
            return TokenResponses.read(response, this);
        }
    }

    /** Form body of the token request, exactly as the NHS token endpoint expects it. */
    static String tokenForm(String assertion) {
        return "grant_type=client_credentials"
                + "&client_assertion_type=" + URLEncoder.encode(ASSERTION_TYPE, StandardCharsets.UTF_8)
                + "&client_assertion=" + URLEncoder.encode(assertion, StandardCharsets.UTF_8);
    }

    /**
     * Sends an API request with {@code Authorization: Bearer} (unless the environment is an open
     * sandbox) and an {@code X-Request-ID} (a fresh UUID unless the request has one). With
     * {@code retries > 0}, 429, 502, 503 and 504 answers are resent with the same X-Request-ID.
     *
     * @throws TokenRequestException getting the token failed (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     * @throws UsageException the request has a header the JDK may not set (exit 2)
     */
    public HttpResponse<byte[]> send(HttpRequest.Builder request, int retries) {
        HttpRequest probe = request.copy().build();
        if (probe.headers().firstValue("X-Request-ID").isEmpty()) {
            request.header("X-Request-ID", UUID.randomUUID().toString());
        }
        if (tokenNeeded && probe.headers().firstValue("Authorization").isEmpty()) {
            request.header("Authorization", "Bearer " + accessToken());
        }
        if (probe.timeout().isEmpty()) {
            request.timeout(timeout);
        }
        HttpRequest built = request.build();
        for (int attempt = 0; ; attempt++) {
            HttpResponse<byte[]> response = transport.exchange(built, "API");
            if (attempt >= retries || !Transport.isTransient(response.statusCode())) {
                return response;
            }
            transport.trace("resending after HTTP " + response.statusCode() + " with the same X-Request-ID");
            sleep(backoff(attempt, response.headers().firstValue("Retry-After").orElse(null)));
        }
    }

    /**
     * GET a URL with the client's token; the body as text.
     *
     * @throws UsageException the URL is not http(s) (exit 2)
     * @throws TokenRequestException getting the token failed (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     */
    public HttpResponse<String> get(String url) {
        HttpResponse<byte[]> r = send(HttpRequest.newBuilder(checkUrl(url, "URL")).GET(), 0);
        return new TextResponse(r);
    }

    private static Duration backoff(int attempt, String retryAfter) {
        Duration hinted = Transport.parseRetryAfter(retryAfter);
        if (hinted != null) {
            return hinted;
        }
        long base = 500L << attempt;
        return Duration.ofMillis(base + java.util.concurrent.ThreadLocalRandom.current().nextLong(base));
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NhsAuthException(ExitCode.INTERNAL, "interrupted", e);
        }
    }

    /** An access token as the token endpoint issued it. */
    public record AccessToken(String value, String tokenType, long expiresInSeconds, long issuedAtMillis) {
        public Instant expiresAt() {
            return Instant.ofEpochMilli(issuedAtMillis).plusSeconds(expiresInSeconds);
        }

        public boolean expiresWithin(Duration margin) {
            return !Instant.now().plus(margin).isBefore(expiresAt());
        }

        @Override
        public String toString() {
            return "AccessToken[****, expires " + expiresAt() + "]";
        }
    }

    /** The kid the Python tool derived from a key file: its name without {@code .pem}; null for other names. */
    public static String kidFromKeyFile(Path pem) {
        String name = pem.getFileName().toString();
        return name.endsWith(".pem") && name.length() > 4 ? name.substring(0, name.length() - 4) : null;
    }

    /** Checks a URL names http or https and a host; anything else is a usage error. */
    public static URI checkUrl(String url, String what) {
        URI uri;
        try {
            uri = new URI(url == null ? "" : url.trim());
        } catch (java.net.URISyntaxException e) {
            throw new UsageException(what + " '" + url + "' is not a valid URL (" + e.getReason()
                    + "): give a full https:// URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new UsageException(what + " '" + url + "' must start with https:// (or http:// for a local server)");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new UsageException(what + " '" + url + "' has no host: give a full URL like https://int.api.service.nhs.uk/...");
        }
        return uri;
    }

    static Duration parseTimeout(String seconds, String what) {
        try {
            double s = Double.parseDouble(seconds.trim());
            if (s > 0 && s <= 3600) {
                return Duration.ofMillis(Math.round(s * 1000));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException(what + " '" + seconds + "' is not a number of seconds between 0 and 3600: e.g. 30");
    }

    static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    /** Configures a client; every setter accepts null to mean "the default". */
    public static final class Builder {
        private Environment env = Environment.INT;
        private String apiKey;
        private Path privateKeyFile;
        private char[] passphrase;
        private String kid;
        private String tokenUrlOverride;
        private Duration timeout = Duration.ofSeconds(30);
        private Path caCertificates;
        private Map<String, String> proxyVariables = System.getenv();
        private java.util.function.Consumer<String> notices = line -> System.err.println("nhs-auth: " + line);
        private PrintWriter trace;
        private Path tokenCacheDir;

        // derived by build()
        private SigningKey signingKey;
        private String tokenUrl;
        private boolean tokenNeeded;
        private Transport transport;

        private Builder() {
        }

        public Builder environment(Environment e) {
            this.env = e == null ? Environment.INT : e;
            return this;
        }

        /** @throws UsageException an unknown environment name */
        public Builder environment(String name) {
            return environment(blankToNull(name) == null ? null : Environment.parse(name));
        }

        public Builder apiKey(String key) {
            this.apiKey = blankToNull(key);
            return this;
        }

        public Builder privateKey(Path pemFile, char[] passphrase) {
            this.privateKeyFile = pemFile;
            this.passphrase = passphrase;
            return this;
        }

        public Builder kid(String kid) {
            this.kid = blankToNull(kid);
            return this;
        }

        /** Overrides the environment's token endpoint; the assertion's aud follows it. */
        public Builder tokenUrl(String url) {
            this.tokenUrlOverride = blankToNull(url);
            return this;
        }

        public Builder timeout(Duration d) {
            this.timeout = d == null ? Duration.ofSeconds(30) : d;
            return this;
        }

        /** Extra trusted CA certificates (PEM), on top of the JDK's: for TLS-inspecting proxies. */
        public Builder caCertificates(Path pemFile) {
            this.caCertificates = pemFile;
            return this;
        }

        /** Where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read from (default: the process environment). */
        public Builder proxyVariables(Map<String, String> vars) {
            this.proxyVariables = vars == null ? Map.of() : vars;
            return this;
        }

        /** Receives warnings and notes (a derived kid, a short key); default: stderr. */
        public Builder notices(java.util.function.Consumer<String> sink) {
            this.notices = sink == null ? line -> { } : sink;
            return this;
        }

        /**
         * Keeps access tokens across runs in this folder (owner-only), keyed by token URL, API key
         * and kid; null (the default) keeps them in memory only. See {@link TokenCache#defaultDir}.
         */
        public Builder tokenCache(Path dir) {
            this.tokenCacheDir = dir;
            return this;
        }

        /** Receives a request/response trace with secrets redacted; null for none. */
        public Builder trace(PrintWriter sink) {
            this.trace = sink;
            return this;
        }

        /**
         * Checks the configuration and loads the private key.
         *
         * @throws UsageException a missing API key or private key, an unusable key file, a bad URL or CA file
         */
        public NhsClient build() {
            if (apiKey == null) {
                throw new UsageException("no API key: pass --api-key or set NHS_API_KEY to your app's key from the developer portal");
            }
            if (privateKeyFile == null) {
                throw new UsageException("no private key: pass --private-key or set NHS_PRIVATE_KEY to your key's PEM file");
            }
            tokenUrl = tokenUrlOverride != null ? checkUrl(tokenUrlOverride, "--token-url").toString() : env.tokenUrl();
            tokenNeeded = env != Environment.SANDBOX || tokenUrlOverride != null;
            signingKey = SigningKey.load(privateKeyFile, passphrase);
            String kidNote = null;
            if (kid == null) {
                kid = kidFromKeyFile(privateKeyFile);
                if (kid != null) {
                    kidNote = "using kid '" + kid + "' (from the private key's file name; --kid or NHS_KID to change)";
                } else {
                    kid = env.defaultKid();
                    kidNote = "using kid '" + kid + "' (the " + env.id() + " default; --kid or NHS_KID to change)";
                }
            }
            transport = new Transport(timeout, caCertificates, proxyVariables, trace);
            // Notes only once everything is known good, so a failure stays a single line.
            if (signingKey.bits() < 4096) {
                notices.accept("warning: the private key has " + signingKey.bits()
                        + " bits; NHS guidance asks for 4096");
            }
            if (kidNote != null) {
                notices.accept(kidNote);
            }
            return new NhsClient(this);
        }
    }

    /**
     * Ends the JVM without the wait JDK 17 adds at exit: it gives threads blocked in native code
     * up to 0.3 s to settle, and every HttpClient keeps a selector thread blocked in one. Those
     * threads are stopped first (they stop when interrupted); then {@code System.exit(status)}.
     * For the end of a script's {@code main}, as the commands use it.
     */
    public static void exit(int status) {
        System.out.flush();
        System.err.flush();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("HttpClient-") && t.getName().endsWith("-SelectorManager")) {
                t.interrupt();
                try {
                    t.join(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        System.exit(status);
    }

    // ------------------------------------------------------------------ the token cache

    /**
     * Access tokens kept across runs, one owner-only file per token URL + API key + kid. A file
     * that is not ours, not private, unreadable or for another key is ignored and replaced: a
     * cache must never be a way to inject a token.
     */
    public static final class TokenCache {
        private final Path dir;
        private final java.util.function.Consumer<String> notices;

        TokenCache(Path dir, java.util.function.Consumer<String> notices) {
            this.dir = dir;
            this.notices = notices;
        }

        /** {@code $XDG_CACHE_HOME/nhs-auth}, else {@code ~/.cache/nhs-auth}. */
        public static Path defaultDir() {
            String xdg = blankToNull(System.getenv("XDG_CACHE_HOME"));
            Path base = xdg != null ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
            return base.resolve("nhs-auth");
        }

        /** Deletes every cached token in {@code dir}; returns how many. */
        public static int clear(Path dir) throws IOException {
            if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                return 0;
            }
            int n = 0;
            try (var files = Files.newDirectoryStream(dir, "token-*.json")) {
                for (Path f : files) {
                    Files.deleteIfExists(f);
                    n++;
                }
            }
            return n;
        }

        static String keyOf(String tokenUrl, String apiKey, String kid) {
            try {
                byte[] hash = java.security.MessageDigest.getInstance("SHA-256")
                        .digest((tokenUrl + "\n" + apiKey + "\n" + kid).getBytes(StandardCharsets.UTF_8));
                return java.util.HexFormat.of().formatHex(hash);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        Path fileFor(String key) {
            return dir.resolve("token-" + key.substring(0, 32) + ".json");
        }

        AccessToken read(String tokenUrl, String apiKey, String kid) {
            String key = keyOf(tokenUrl, apiKey, kid);
            Path file = fileFor(key);
            try {
                if (!Files.isRegularFile(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                        || !Files.getPosixFilePermissions(file, java.nio.file.LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY)
                        || !Files.getOwner(file, java.nio.file.LinkOption.NOFOLLOW_LINKS).getName()
                                .equals(System.getProperty("user.name"))
                        || Files.size(file) > 16_384) {
                    return null;
                }
                Map<String, Object> json = JSONObjectUtils.parse(Files.readString(file, StandardCharsets.UTF_8));
                if (!key.equals(json.get("key")) || !(json.get("access_token") instanceof String)
                        || !(json.get("expires_in") instanceof Number) || !(json.get("issued_at") instanceof Number)) {
                    return null;
                }
                return new AccessToken((String) json.get("access_token"), String.valueOf(json.get("token_type")),
                        ((Number) json.get("expires_in")).longValue(), ((Number) json.get("issued_at")).longValue());
            } catch (IOException | java.text.ParseException | RuntimeException e) {
                return null;
            }
        }

        void write(String tokenUrl, String apiKey, String kid, AccessToken token) {
            String key = keyOf(tokenUrl, apiKey, kid);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("key", key);
            json.put("token_url", tokenUrl);
            json.put("kid", kid);
            json.put("access_token", token.value());
            json.put("token_type", token.tokenType());
            json.put("expires_in", token.expiresInSeconds());
            json.put("issued_at", token.issuedAtMillis());
            try {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                writeAtomically(fileFor(key), toJson(json).getBytes(StandardCharsets.UTF_8), true, true);
            } catch (IOException | RuntimeException e) {
                // The token is good; only its reuse is lost.
                notices.accept("warning: cannot write the token cache in " + dir + " (" + oneLine(e.getMessage())
                        + "); the next run fetches a new token");
            }
        }
    }

    // ------------------------------------------------------------------ the signing key

    /**
     * Reads an RSA private key from PEM in any common form: PKCS#1 ({@code BEGIN RSA PRIVATE KEY},
     * as the Python tool and this toolkit write it), PKCS#8 ({@code BEGIN PRIVATE KEY}, as
     * {@code openssl genpkey} writes it), and both encrypted.
     *
     * @throws UsageException the file is missing or unreadable, is not an RSA private key (a public
     *         key, a certificate, an EC or DSA key, garbage), or the passphrase is missing or wrong
     */
    public static RSAPrivateCrtKey readPrivateKey(Path file, char[] passphrase) {
        String text = readText(file, "private key file");
        RSAPrivateCrtKey plain = PlainRsaPem.read(text);
        if (plain != null) {
            return plain;
        }
        return BouncyCastlePem.read(text, passphrase, "private key file '" + file + "'");
    }

    /**
     * Every other PEM form, through BouncyCastle: encrypted PKCS#8 and PKCS#1, and whatever is
     * not an RSA private key, named for the user. A class of its own so that the JVM touches
     * BouncyCastle's jars only when a key needs it.
     */
    static final class BouncyCastlePem {
        private BouncyCastlePem() {
        }

        static RSAPrivateCrtKey read(String text, char[] passphrase, String where) {
            Object pem;
            try (PEMParser parser = new PEMParser(new java.io.StringReader(text))) {
                pem = parser.readObject();
            } catch (IOException | RuntimeException e) {
                throw new UsageException(where + " is not valid PEM (" + oneLine(e.getMessage())
                        + "): give the private key PEM from generate-keys or openssl");
            }
            if (pem == null) {
                throw new UsageException(where + (text.isBlank() ? " is empty" : " holds no PEM block")
                        + ": give a private key PEM (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)");
            }
            PrivateKeyInfo info;
            try {
                info = privateKeyInfo(pem, passphrase, where);
            } catch (UsageException e) {
                throw e;
            } catch (Exception e) {
                throw new UsageException(where + " cannot be decrypted (" + oneLine(e.getMessage())
                        + "): check --private-key-passphrase / NHS_PRIVATE_KEY_PASSPHRASE", e);
            }
            String algorithm = info.getPrivateKeyAlgorithm().getAlgorithm().getId();
            if (!algorithm.equals(PKCSObjectIdentifiers.rsaEncryption.getId())) {
                throw new UsageException(where + " holds " + keyKind(algorithm)
                        + " private key: NHS signed JWTs need an RSA key (RS512); make one with generate-keys");
            }
            try {
                PrivateKey key = new JcaPEMKeyConverter().getPrivateKey(info);
                if (key instanceof RSAPrivateCrtKey) {
                    return (RSAPrivateCrtKey) key;
                }
            } catch (PEMException | RuntimeException e) {
                throw new UsageException(where + " holds a damaged RSA key (" + oneLine(e.getMessage())
                        + "): make a new one with generate-keys", e);
            }
            throw new UsageException(where + " holds an RSA key without its public parts: export it again in PKCS#1 or PKCS#8 form");
        }

        private static PrivateKeyInfo privateKeyInfo(Object pem, char[] passphrase, String where) throws Exception {
            if (pem instanceof PEMKeyPair) {
                return ((PEMKeyPair) pem).getPrivateKeyInfo();
            }
            if (pem instanceof PrivateKeyInfo) {
                return (PrivateKeyInfo) pem;
            }
            if (pem instanceof PKCS8EncryptedPrivateKeyInfo || pem instanceof PEMEncryptedKeyPair) {
                if (passphrase == null || passphrase.length == 0) {
                    throw new UsageException(where + " is encrypted: give its passphrase with --private-key-passphrase "
                            + "or NHS_PRIVATE_KEY_PASSPHRASE");
                }
                try {
                    if (pem instanceof PEMEncryptedKeyPair) {
                        return ((PEMEncryptedKeyPair) pem).decryptKeyPair(new BcPEMDecryptorProvider(passphrase))
                                .getPrivateKeyInfo();
                    }
                    // PBES2 needs a JCE provider; BouncyCastle is used for this one call only, never registered.
                    return ((PKCS8EncryptedPrivateKeyInfo) pem).decryptPrivateKeyInfo(
                            new JceOpenSSLPKCS8DecryptorProviderBuilder()
                                    .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                                    .build(passphrase));
                } catch (Exception e) {
                    throw new UsageException(where + " cannot be decrypted with the passphrase given: check "
                            + "--private-key-passphrase / NHS_PRIVATE_KEY_PASSPHRASE", e);
                }
            }
            if (pem instanceof SubjectPublicKeyInfo) {
                throw new UsageException(where + " holds a public key: give the private key (the .pem, not the .pem.pub)");
            }
            if (pem instanceof X509CertificateHolder) {
                throw new UsageException(where + " holds a certificate: give the RSA private key it was made from");
            }
            throw new UsageException(where + " holds a " + pem.getClass().getSimpleName()
                    + ", not a private key: give the RSA private key PEM");
        }

        private static String keyKind(String oid) {
            switch (oid) {
                case "1.2.840.10045.2.1": return "an EC";
                case "1.2.840.10040.4.1": return "a DSA";
                case "1.3.101.112": return "an Ed25519";
                case "1.3.101.113": return "an Ed448";
                case "1.2.840.113549.1.1.10": return "an RSASSA-PSS-only";
                default: return "a non-RSA (" + oid + ")";
            }
        }
    }

    /**
     * Unencrypted RSA keys in the two forms generate-keys and openssl write, read and written with
     * the JDK alone: BouncyCastle's signed jars cost about a quarter of a second to verify when
     * first loaded, on every run. Anything else (encrypted, EC, certificates, damage) reads as
     * null and goes to BouncyCastle, which also names what it found.
     */
    static final class PlainRsaPem {
        private static final java.util.regex.Pattern BLOCK = java.util.regex.Pattern.compile(
                "-----BEGIN (RSA )?PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END (RSA )?PRIVATE KEY-----");
        /** AlgorithmIdentifier { rsaEncryption, NULL }, DER. */
        private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
            (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

        private PlainRsaPem() {
        }

        static RSAPrivateCrtKey read(String pem) {
            java.util.regex.Matcher m = BLOCK.matcher(pem);
            if (!m.find() || !java.util.Objects.equals(m.group(1), m.group(3))) {
                return null;
            }
            try {
                byte[] der = java.util.Base64.getMimeDecoder().decode(m.group(2));
                byte[] pkcs8 = m.group(1) != null ? pkcs8Around(der) : der;
                PrivateKey key = java.security.KeyFactory.getInstance("RSA")
                        .generatePrivate(new java.security.spec.PKCS8EncodedKeySpec(pkcs8));
                return key instanceof RSAPrivateCrtKey ? (RSAPrivateCrtKey) key : null;
            } catch (IllegalArgumentException | java.security.GeneralSecurityException e) {
                return null;
            }
        }

        /** The PKCS#1 key inside a PKCS#8 PrivateKeyInfo: the OCTET STRING after version and algorithm. */
        static byte[] pkcs1Inside(byte[] pkcs8) {
            int[] at = {0};
            contentLength(pkcs8, at, 0x30);
            int version = contentLength(pkcs8, at, 0x02);
            at[0] += version;
            int algorithm = contentLength(pkcs8, at, 0x30);
            at[0] += algorithm;
            int length = contentLength(pkcs8, at, 0x04);
            return Arrays.copyOfRange(pkcs8, at[0], at[0] + length);
        }

        /** Reads a DER tag and length at {@code at[0]}, leaving {@code at[0]} on the content. */
        private static int contentLength(byte[] der, int[] at, int tag) {
            if ((der[at[0]++] & 0xff) != tag) {
                throw new IllegalArgumentException("unexpected DER tag in a PKCS#8 key");
            }
            int first = der[at[0]++] & 0xff;
            if (first < 0x80) {
                return first;
            }
            int length = 0;
            for (int i = 0; i < (first & 0x7f); i++) {
                length = (length << 8) | (der[at[0]++] & 0xff);
            }
            return length;
        }

        /** PEM text as OpenSSL writes it: base64 in lines of 64. */
        static String pem(String type, byte[] der) {
            return "-----BEGIN " + type + "-----\n"
                    + java.util.Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                    + "\n-----END " + type + "-----\n";
        }

        /** PKCS#8 PrivateKeyInfo { version 0, rsaEncryption, OCTET STRING { the PKCS#1 key } }. */
        static byte[] pkcs8Around(byte[] pkcs1) {
            java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
            body.writeBytes(new byte[] {0x02, 0x01, 0x00});
            body.writeBytes(RSA_ALGORITHM);
            body.writeBytes(tagged(0x04, pkcs1));
            return tagged(0x30, body.toByteArray());
        }

        private static byte[] tagged(int tag, byte[] content) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            out.write(tag);
            int n = content.length;
            if (n < 0x80) {
                out.write(n);
            } else {
                int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
                out.write(0x80 | bytes);
                for (int i = bytes - 1; i >= 0; i--) {
                    out.write(n >>> (8 * i));
                }
            }
            out.writeBytes(content);
            return out.toByteArray();
        }
    }

    /** The public half of an RSA private key. */
    public static RSAPublicKey publicKeyOf(RSAPrivateCrtKey key) {
        try {
            return (RSAPublicKey) java.security.KeyFactory.getInstance("RSA")
                    .generatePublic(new java.security.spec.RSAPublicKeySpec(key.getModulus(), key.getPublicExponent()));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("RSA is missing from this JDK", e);
        }
    }

    /** The private key and what signs client assertions with it. */
    static final class SigningKey {
        private final RSAPrivateCrtKey privateKey;
        private final RSAPublicKey publicKey;
        private final JWSSigner signer;

        private SigningKey(RSAPrivateCrtKey privateKey) {
            this.privateKey = privateKey;
            this.publicKey = publicKeyOf(privateKey);
            if (privateKey.getModulus().bitLength() < 2048) {
                throw new UsageException("the private key has only " + privateKey.getModulus().bitLength()
                        + " bits: RS512 needs at least 2048 and NHS guidance asks for 4096; make one with generate-keys");
            }
            this.signer = new RSASSASigner(privateKey);
        }

        static SigningKey load(Path file, char[] passphrase) {
            return new SigningKey(readPrivateKey(file, passphrase));
        }

        int bits() {
            return privateKey.getModulus().bitLength();
        }

        String thumbprint() {
            return NhsClient.thumbprint(publicKey);
        }

        /** Section 2 of the NHS reference: RS512, typ JWT, kid; iss = sub = API key, aud, jti, exp. */
        String clientAssertion(String apiKey, String kid, String audience, int lifetimeSeconds) {
            JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.RS512).type(JOSEObjectType.JWT).keyID(kid).build();
            JWTClaimsSet claims = new JWTClaimsSet.Builder()
                    .issuer(apiKey)
                    .subject(apiKey)
                    .audience(audience)
                    .jwtID(UUID.randomUUID().toString())
                    .expirationTime(new Date((Instant.now().getEpochSecond() + lifetimeSeconds) * 1000))
                    .build();
            SignedJWT jwt = new SignedJWT(header, claims);
            try {
                jwt.sign(signer);
            } catch (JOSEException e) {
                throw new NhsAuthException(ExitCode.INTERNAL, "cannot sign the client assertion: " + e.getMessage(), e);
            }
            return jwt.serialize();
        }
    }

    // ------------------------------------------------------------------ token endpoint answers

    /** The token endpoint refused the client assertion or did not answer with a token (exit 3). */
    public static class TokenRequestException extends NhsAuthException {
        private final int status;
        private final String error;
        private final String errorDescription;
        private final String messageId;
        private final String hint;

        public TokenRequestException(int status, String error, String errorDescription, String messageId,
                String summary, String hint) {
            super(ExitCode.TOKEN_REFUSED, summary, null);
            this.status = status;
            this.error = error;
            this.errorDescription = errorDescription;
            this.messageId = messageId;
            this.hint = hint;
        }

        /** HTTP status of the token endpoint's answer. */
        public int status() {
            return status;
        }

        /** The NHS {@code error} member, e.g. {@code invalid_request}; null if the answer was not NHS JSON. */
        public String error() {
            return error;
        }

        /** The NHS {@code error_description}, e.g. {@code Invalid 'kid' header in client_assertion JWT - no matching public key}. */
        public String errorDescription() {
            return errorDescription;
        }

        /** The NHS {@code message_id} that NHS support asks for. */
        public String messageId() {
            return messageId;
        }

        @Override
        public String hint() {
            return hint;
        }
    }

    /** DNS, connect, TLS or timeout failure talking to the token endpoint or the API (exit 5). */
    public static class NetworkException extends NhsAuthException {
        private final boolean retryable;
        private final String hint;

        public NetworkException(String message, String hint, boolean retryable, Throwable cause) {
            super(ExitCode.NETWORK, message, cause);
            this.retryable = retryable;
            this.hint = hint;
        }

        /** Whether resending could help: a refused or reset connection. */
        public boolean retryable() {
            return retryable;
        }

        @Override
        public String hint() {
            return hint;
        }
    }

    /** Turns the token endpoint's answer into a token or a {@link TokenRequestException} with a hint. */
    static final class TokenResponses {
        private TokenResponses() {
        }

        static AccessToken read(HttpResponse<byte[]> response, NhsClient client) {
            int status = response.statusCode();
            String body = new String(response.body(), StandardCharsets.UTF_8);
            Map<String, Object> json = parseObject(body);
            if (status == 200) {
                Object token = json == null ? null : json.get("access_token");
                if (!(token instanceof String) || ((String) token).isEmpty()) {
                    throw new TokenRequestException(status, null, null, null, "the token endpoint answered HTTP 200 "
                            + (json == null ? "but not with JSON (" + firstLine(body) + ")" : "without an access_token"),
                            "check --token-url points at an NHS token endpoint (" + client.tokenUrl + "), "
                                    + "and that no proxy rewrites its answers");
                }
                long expiresIn = number(json.get("expires_in"), 599);
                long issuedAt = number(json.get("issued_at"), System.currentTimeMillis());
                Object type = json.get("token_type");
                return new AccessToken((String) token, type instanceof String ? (String) type : "Bearer", expiresIn, issuedAt);
            }
            if (status >= 300 && status < 400) {
                String location = response.headers().firstValue("Location").orElse("(no Location)");
                throw new TokenRequestException(status, null, null, null, "the token endpoint redirected (HTTP "
                        + status + ") to " + location + "; not followed, so the client assertion stays with the "
                        + "endpoint it was signed for",
                        "give the final token URL with --token-url, or check --env");
            }
            String error = json == null ? null : string(json.get("error"));
            String description = json == null ? null : string(json.get("error_description"));
            String messageId = json == null ? null : string(json.get("message_id"));
            if (error == null && description == null) {
                throw new TokenRequestException(status, null, null, null, "the token endpoint answered HTTP " + status
                        + (body.isBlank() ? " with no body" : ", not NHS JSON (" + firstLine(body) + ")"),
                        status == 405 || status == 404
                                ? "check --token-url / --env: the token endpoint is <base>/oauth2/token"
                                : "a proxy or gateway may have answered instead of the NHS token endpoint; "
                                        + "check HTTPS_PROXY / NO_PROXY and --token-url");
            }
            String summary = "token endpoint refused: HTTP " + status + " " + error + ": " + description
                    + (messageId == null ? "" : " (message_id " + messageId + ")");
            throw new TokenRequestException(status, error, description, messageId, summary,
                    hint(status, description, response, client));
        }

        /** What to do about each row of the NHS token endpoint's error table. */
        static String hint(int status, String description, HttpResponse<?> response, NhsClient client) {
            String d = description == null ? "" : description;
            if (d.contains("'exp' claim") && (d.contains("expired") || d.contains("more than 5 minutes"))) {
                return clockSkew(response.headers().firstValue("Date").orElse(null), Instant.now()) + "; client assertions live " + ASSERTION_LIFETIME_SECONDS
                        + " s, so a clock more than a minute off fails: sync it (e.g. timedatectl set-ntp true)";
            }
            if (d.startsWith("Invalid 'iss'/'sub' claims")) {
                return "the API key is not known in this environment (" + client.tokenUrl + "): API keys are per "
                        + "environment, so check you used the key of your " + client.env.id()
                        + " app (a prod key fails in int), or pick the right --env";
            }
            if (d.startsWith("Invalid 'kid' header")) {
                return "the JWKS registered for the app has no key with kid '" + client.kid + "' (this key's "
                        + "thumbprint: " + client.keyThumbprint() + "): pass the registered --kid, or publish this "
                        + "key's JWKS; a JWKS URL is cached for an hour after each fetch";
            }
            if (d.startsWith("JWT signature verification failed")) {
                return "the key registered as kid '" + client.kid + "' is not this private key (thumbprint "
                        + client.keyThumbprint() + "): register this key's JWKS or use its private key; "
                        + "verify-keys compares a key with a JWKS";
            }
            if (d.startsWith("You need to register a public key")) {
                return "upload the JWKS from generate-keys on the developer portal ('Manage public key'), "
                        + "or register your JWKS URL on the app";
            }
            if (d.startsWith("The JWKS endpoint")) {
                return "the JWKS URL registered on the app must be public HTTPS with a path, reachable from the internet";
            }
            if (d.startsWith("Missing or invalid 'aud'")) {
                return "the assertion's aud was " + client.tokenUrl + ": it must be the exact URL posted to; "
                        + "check --token-url and that no proxy changes the host";
            }
            if (d.startsWith("Non-unique 'jti'")) {
                return "every token request needs a fresh client assertion: do not replay a saved --assertion-only output";
            }
            if (status == 401 && d.contains("not configured to use this authorization grant type")) {
                return "the app has no application-restricted access: add the API with the signed-JWT "
                        + "(application-restricted) access level to the app on the developer portal";
            }
            if (status == 415 || d.startsWith("grant_type") || d.startsWith("Missing or invalid client_assertion_type")
                    || d.startsWith("Missing client_assertion")) {
                return "the form reached the endpoint altered: a proxy may rewrite request bodies or headers";
            }
            if (status == 404 || status == 405) {
                return "check --token-url / --env: the token endpoint is <base>/oauth2/token";
            }
            if (status == 429) {
                return "rate limited (300 token requests a minute per app by default): reuse tokens "
                        + "(they live 10 minutes) instead of fetching one per call";
            }
            if (status >= 500) {
                return "a fault on the NHS side: try again later; NHS support asks for the message_id";
            }
            return "the client assertion was malformed: please report this with --verbose output";
        }

        /** How far this machine's clock is from the endpoint's, read from its Date header. */
        static String clockSkew(String dateHeader, Instant now) {
            return Optional.ofNullable(dateHeader).map(date -> {
                try {
                    Instant theirs = java.time.ZonedDateTime.parse(date, java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
                            .toInstant();
                    long skew = now.getEpochSecond() - theirs.getEpochSecond();
                    return "your clock is " + Math.abs(skew) + " s " + (skew >= 0 ? "ahead of" : "behind")
                            + " the token endpoint's (its Date: " + date + ")";
                } catch (RuntimeException e) {
                    return "the token endpoint's Date header could not be read (" + date + ")";
                }
            }).orElse("the token endpoint sent no Date header to compare clocks with");
        }

        static Map<String, Object> parseObject(String body) {
            try {
                return JSONObjectUtils.parse(body);
            } catch (java.text.ParseException | RuntimeException e) {
                return null;
            }
        }

        private static String string(Object o) {
            return o instanceof String ? (String) o : o == null ? null : String.valueOf(o);
        }

        /** NHS sends numbers as strings; accept both. */
        private static long number(Object o, long fallback) {
            if (o instanceof Number) {
                return ((Number) o).longValue();
            }
            if (o instanceof String) {
                try {
                    return Long.parseLong(((String) o).trim());
                } catch (NumberFormatException e) {
                    return fallback;
                }
            }
            return fallback;
        }

        static String firstLine(String body) {
            String line = body.strip().lines().findFirst().orElse("");
            return line.length() > 120 ? line.substring(0, 120) + "..." : line;
        }
    }

    // ------------------------------------------------------------------ HTTP

    /** The JDK HttpClient with the proxy, CA and timeout settings, and failures named for users. */
    static final class Transport {
        private final HttpClient http;
        private final EnvironmentProxies proxies;
        private final Duration timeout;
        private final PrintWriter trace;

        Transport(Duration timeout, Path caCertificates, Map<String, String> proxyVariables, PrintWriter trace) {
            this.timeout = timeout;
            this.trace = trace;
            this.proxies = new EnvironmentProxies(proxyVariables);
            // HTTP/1.1 as curl and requests speak it: no h2c upgrade headers for proxies to trip on.
            HttpClient.Builder b = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(timeout)
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .proxy(proxies);
            b.sslContext(caCertificates != null ? TrustedCertificates.sslContext(caCertificates)
                    : TrustedCertificates.jdkDefaultsOnFirstUse());
            if (proxies.credentials != null) {
                // The JDK refuses Basic proxy auth for HTTPS tunnels unless this is cleared.
                System.setProperty("jdk.http.auth.tunneling.disabledSchemes", "");
                b.authenticator(proxies.credentials);
            }
            this.http = b.build();
        }

        static boolean isTransient(int status) {
            return status == 429 || status == 502 || status == 503 || status == 504;
        }

        /** Retry-After in seconds or as an HTTP date, capped at a minute; null when absent or unreadable. */
        static Duration parseRetryAfter(String value) {
            if (value == null || value.isBlank()) {
                return null;
            }
            try {
                long seconds = Long.parseLong(value.trim());
                return Duration.ofSeconds(Math.max(0, Math.min(seconds, 60)));
            } catch (NumberFormatException e) {
                try {
                    Instant at = java.time.ZonedDateTime.parse(value.trim(),
                            java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                    long ms = Math.max(0, Math.min(at.toEpochMilli() - System.currentTimeMillis(), 60_000));
                    return Duration.ofMillis(ms);
                } catch (RuntimeException ignored) {
                    return null;
                }
            }
        }

        void trace(String line) {
            if (trace != null) {
                trace.println("* " + line);
                trace.flush();
            }
        }

        HttpResponse<byte[]> exchange(HttpRequest request, String what) {
            if (trace != null) {
                trace.println("> " + request.method() + " " + request.uri());
                request.headers().map().forEach((name, values) -> values.forEach(v ->
                        trace.println("> " + name + ": " + (name.equalsIgnoreCase("Authorization") ? redactAuthorization(v) : v))));
                trace.flush();
            }
            try {
                HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                if (trace != null) {
                    trace.println("< HTTP " + response.statusCode());
                    response.headers().map().forEach((name, values) -> values.forEach(v -> trace.println("< " + name + ": " + v)));
                    trace.flush();
                }
                return response;
            } catch (IOException e) {
                throw networkFailure(request.uri(), what, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new NhsAuthException(ExitCode.INTERNAL, "interrupted", e);
            } catch (IllegalArgumentException e) {
                throw new UsageException("cannot send the request: " + oneLine(e.getMessage()), e);
            }
        }

        static String redactAuthorization(String value) {
            int space = value.indexOf(' ');
            return space < 0 ? "****" : value.substring(0, space) + " ****";
        }

        private NetworkException networkFailure(URI uri, String what, IOException e) {
            String target = uri.getHost() + ":" + (uri.getPort() > 0 ? uri.getPort() : uri.getScheme().equals("https") ? 443 : 80);
            java.net.Proxy proxy = proxies.select(uri).get(0);
            String via = proxy.type() == java.net.Proxy.Type.DIRECT ? "" : " through the proxy " + proxy.address();
            Throwable root = e;
            for (Throwable t = e; t != null; t = t.getCause()) {
                root = t;
                if (t instanceof javax.net.ssl.SSLException) {
                    return new NetworkException("TLS handshake with " + target + " failed (" + oneLine(t.getMessage()) + ")",
                            "if a corporate proxy inspects TLS, pass its CA certificate with --cacert FILE (or NHS_CA_CERT)",
                            false, e);
                }
                if (t instanceof java.net.UnknownHostException || t instanceof java.nio.channels.UnresolvedAddressException) {
                    return new NetworkException("cannot resolve " + (via.isEmpty() ? uri.getHost() : "the proxy " + proxy.address()),
                            "check the URL, your DNS, or HTTPS_PROXY / NO_PROXY", false, e);
                }
            }
            if (e instanceof java.net.http.HttpConnectTimeoutException) {
                return new NetworkException("connecting to the " + what + " at " + target + via + " timed out after "
                        + timeout.toSeconds() + " s", "check the network or proxy; --timeout sets the limit", false, e);
            }
            if (e instanceof java.net.http.HttpTimeoutException) {
                return new NetworkException("the " + what + " at " + target + " did not answer within "
                        + timeout.toSeconds() + " s", "try again, or raise --timeout", false, e);
            }
            if (root instanceof java.net.ConnectException || e instanceof java.net.ConnectException) {
                return new NetworkException(via.isEmpty()
                        ? "cannot connect to the " + what + " at " + target + " (connection refused)"
                        : "cannot connect to the proxy " + proxy.address() + " for " + target,
                        via.isEmpty() ? "check the URL and that the server is running (for --env local: mock-server)"
                                : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY", true, e);
            }
            String detail = oneLine(String.valueOf(e.getMessage()));
            boolean hungUp = detail.contains("received no bytes") || detail.contains("bytes received");
            for (Throwable t = e; t != null && !hungUp; t = t.getCause()) {
                hungUp = t instanceof java.io.EOFException;
            }
            if (hungUp) {
                // The JDK words this as parser state ("fixed content-length: 400, bytes received: 28").
                return new NetworkException("the " + what + " at " + target + via + " closed the connection "
                        + (detail.contains("received no bytes") ? "without answering" : "before its answer was complete")
                        + " (" + detail + ")", "try again; if it keeps happening, a proxy or firewall may be cutting "
                        + "connections (--verbose shows the exchange)", true, e);
            }
            return new NetworkException("the connection to the " + what + " at " + target + via + " failed ("
                    + detail + ")", "try again; --verbose shows the exchange", true, e);
        }
    }

    /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case), read the way curl and Python's requests read them. */
    static final class EnvironmentProxies extends java.net.ProxySelector {
        private final URI httpsProxy;
        private final URI httpProxy;
        private final List<String> noProxy;
        final java.net.Authenticator credentials;

        EnvironmentProxies(Map<String, String> vars) {
            this.httpsProxy = proxyUri(first(vars, "https_proxy", "HTTPS_PROXY"), "HTTPS_PROXY");
            this.httpProxy = proxyUri(first(vars, "http_proxy", "HTTP_PROXY"), "HTTP_PROXY");
            String list = first(vars, "no_proxy", "NO_PROXY");
            this.noProxy = list == null ? List.of() : Arrays.stream(list.split("[,\\s]+")).map(String::trim)
                    .filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toList());
            this.credentials = authenticator(httpsProxy, httpProxy);
        }

        private static String first(Map<String, String> vars, String lower, String upper) {
            String v = blankToNull(vars.get(lower));
            return v != null ? v : blankToNull(vars.get(upper));
        }

        private static URI proxyUri(String value, String name) {
            if (value == null) {
                return null;
            }
            try {
                URI uri = new URI(value.contains("://") ? value : "http://" + value);
                if (uri.getHost() == null) {
                    throw new java.net.URISyntaxException(value, "no host");
                }
                return uri;
            } catch (java.net.URISyntaxException e) {
                throw new UsageException(name + " '" + value + "' is not a proxy URL: use http://host:port");
            }
        }

        private static java.net.Authenticator authenticator(URI... proxies) {
            for (URI p : proxies) {
                if (p != null && p.getUserInfo() != null) {
                    String[] parts = p.getUserInfo().split(":", 2);
                    String user = java.net.URLDecoder.decode(parts[0], StandardCharsets.UTF_8);
                    char[] pass = parts.length > 1 ? java.net.URLDecoder.decode(parts[1], StandardCharsets.UTF_8).toCharArray() : new char[0];
                    return new java.net.Authenticator() {
                        @Override
                        protected java.net.PasswordAuthentication getPasswordAuthentication() {
                            return getRequestorType() == RequestorType.PROXY ? new java.net.PasswordAuthentication(user, pass) : null;
                        }
                    };
                }
            }
            return null;
        }

        @Override
        public List<java.net.Proxy> select(URI uri) {
            URI proxy = "https".equalsIgnoreCase(uri.getScheme()) ? httpsProxy : httpProxy;
            if (proxy == null || bypassed(uri)) {
                return List.of(java.net.Proxy.NO_PROXY);
            }
            int port = proxy.getPort() > 0 ? proxy.getPort() : "https".equalsIgnoreCase(proxy.getScheme()) ? 443 : 80;
            return List.of(new java.net.Proxy(java.net.Proxy.Type.HTTP,
                    java.net.InetSocketAddress.createUnresolved(proxy.getHost(), port)));
        }

        /** NO_PROXY: '*', a host, a domain (leading dot optional) matching its subdomains, an optional :port. */
        boolean bypassed(URI uri) {
            String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
            host = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
            int port = uri.getPort() > 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
            for (String entry : noProxy) {
                if (entry.equals("*")) {
                    return true;
                }
                String name = entry;
                int colon = entry.lastIndexOf(':');
                if (colon > 0 && entry.indexOf(':') == colon && entry.substring(colon + 1).matches("\\d+")) {
                    if (Integer.parseInt(entry.substring(colon + 1)) != port) {
                        continue;
                    }
                    name = entry.substring(0, colon);
                }
                name = name.startsWith("*.") ? name.substring(2) : name.startsWith(".") ? name.substring(1) : name;
                if (host.equals(name) || host.endsWith("." + name)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void connectFailed(URI uri, java.net.SocketAddress sa, IOException ioe) {
            // Nothing to fall back to: the failure is reported by the request itself.
        }
    }

    /** The JDK's trusted CAs plus the user's, for TLS-inspecting corporate proxies. */
    static final class TrustedCertificates {
        private TrustedCertificates() {
        }

        /**
         * The JDK's own trust, loaded when a TLS handshake first needs it: the HttpClient builds
         * its SSL context up front, and reading the JDK's CA store costs a tenth of a second that
         * a plain-http call (the mock server, a local gateway) never needs.
         */
        static SSLContext jdkDefaultsOnFirstUse() {
            try {
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, new javax.net.ssl.TrustManager[] {new JdkTrustOnFirstUse()}, null);
                return context;
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException("TLS is missing from this JDK", e);
            }
        }

        /** Every check is the JDK default trust manager's own, hostname verification included. */
        static final class JdkTrustOnFirstUse extends javax.net.ssl.X509ExtendedTrustManager {
            private volatile javax.net.ssl.X509ExtendedTrustManager jdk;

            private javax.net.ssl.X509ExtendedTrustManager jdk() throws java.security.cert.CertificateException {
                if (jdk == null) {
                    try {
                        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                        tmf.init((java.security.KeyStore) null);
                        for (var tm : tmf.getTrustManagers()) {
                            if (tm instanceof javax.net.ssl.X509ExtendedTrustManager) {
                                jdk = (javax.net.ssl.X509ExtendedTrustManager) tm;
                                return jdk;
                            }
                        }
                    } catch (java.security.GeneralSecurityException e) {
                        throw new java.security.cert.CertificateException("the JDK's trusted certificates cannot be loaded", e);
                    }
                    throw new java.security.cert.CertificateException("the JDK has no X.509 trust manager");
                }
                return jdk;
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws java.security.cert.CertificateException {
                jdk().checkServerTrusted(chain, authType, engine);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws java.security.cert.CertificateException {
                jdk().checkServerTrusted(chain, authType, socket);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                jdk().checkServerTrusted(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws java.security.cert.CertificateException {
                jdk().checkClientTrusted(chain, authType, engine);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws java.security.cert.CertificateException {
                jdk().checkClientTrusted(chain, authType, socket);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                jdk().checkClientTrusted(chain, authType);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                try {
                    return jdk().getAcceptedIssuers();
                } catch (java.security.cert.CertificateException e) {
                    return new X509Certificate[0];
                }
            }
        }

        static SSLContext sslContext(Path pemFile) {
            String where = "--cacert '" + pemFile + "'";
            readText(pemFile, "CA certificate file");
            try {
                java.security.KeyStore store = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
                store.load(null, null);
                TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                jdk.init((java.security.KeyStore) null);
                int n = 0;
                for (var tm : jdk.getTrustManagers()) {
                    if (tm instanceof X509TrustManager) {
                        for (X509Certificate c : ((X509TrustManager) tm).getAcceptedIssuers()) {
                            store.setCertificateEntry("jdk-" + n++, c);
                        }
                    }
                }
                Collection<? extends java.security.cert.Certificate> extra;
                try (var in = Files.newInputStream(pemFile)) {
                    extra = CertificateFactory.getInstance("X.509").generateCertificates(in);
                }
                if (extra.isEmpty()) {
                    throw new UsageException(where + " holds no certificate: give a PEM file with -----BEGIN CERTIFICATE-----");
                }
                for (var c : extra) {
                    store.setCertificateEntry("user-" + n++, c);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(store);
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, tmf.getTrustManagers(), null);
                return context;
            } catch (java.security.cert.CertificateException e) {
                throw new UsageException(where + " is not a PEM certificate (" + oneLine(e.getMessage())
                        + "): give the CA certificate in PEM form", e);
            } catch (IOException | java.security.GeneralSecurityException e) {
                throw new UsageException("cannot use " + where + ": " + oneLine(e.getMessage()), e);
            }
        }
    }

    /** An HttpResponse whose body is text, for {@link #get(String)}. */
    private static final class TextResponse implements HttpResponse<String> {
        private final HttpResponse<byte[]> raw;

        TextResponse(HttpResponse<byte[]> raw) {
            this.raw = raw;
        }

        @Override public int statusCode() { return raw.statusCode(); }
        @Override public HttpRequest request() { return raw.request(); }
        @Override public Optional<HttpResponse<String>> previousResponse() { return Optional.empty(); }
        @Override public HttpHeaders headers() { return raw.headers(); }
        @Override public String body() { return new String(raw.body(), StandardCharsets.UTF_8); }
        @Override public Optional<javax.net.ssl.SSLSession> sslSession() { return raw.sslSession(); }
        @Override public URI uri() { return raw.uri(); }
        @Override public HttpClient.Version version() { return raw.version(); }
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }


    // ------------------------------------------------------------------ environments

    /** An NHS API platform environment and its base URL; {@code local} is the mock server. */
    public enum Environment {
        PROD("prod", "https://api.service.nhs.uk"),
        INT("int", "https://int.api.service.nhs.uk"),
        DEV("dev", "https://dev.api.service.nhs.uk"),
        SANDBOX("sandbox", "https://sandbox.api.service.nhs.uk"),
        REF("ref", "https://ref.api.service.nhs.uk"),
        INTERNAL_DEV("internal-dev", "https://internal-dev.api.service.nhs.uk"),
        INTERNAL_QA("internal-qa", "https://internal-qa.api.service.nhs.uk"),
        LOCAL("local", "http://127.0.0.1:9000");

        /** The mock server's default port, which {@code local} points at. */
        public static final int LOCAL_PORT = 9000;

        private final String id;
        private final String baseUrl;

        Environment(String id, String baseUrl) {
            this.id = id;
            this.baseUrl = baseUrl;
        }

        public String id() {
            return id;
        }

        public String baseUrl() {
            return baseUrl;
        }

        /** The token endpoint: the client assertion's {@code aud} must equal it exactly. */
        public String tokenUrl() {
            return baseUrl + "/oauth2/token";
        }

        /** The kid the Python tool defaulted to. */
        public String defaultKid() {
            return id + "-1";
        }

        public static String validNames() {
            return Arrays.stream(values()).map(Environment::id).collect(Collectors.joining(", "));
        }

        /** @throws UsageException naming the valid environments */
        public static Environment parse(String name) {
            String wanted = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
            for (Environment e : values()) {
                if (e.id.equals(wanted)) {
                    return e;
                }
            }
            throw new UsageException("unknown environment '" + name + "': use one of " + validNames());
        }

        @Override
        public String toString() {
            return id;
        }
    }

    // ------------------------------------------------------------------ errors and exit codes

    /** The toolkit's exit codes, one meaning each, the same for every command. */
    public static final class ExitCode {
        public static final int OK = 0;
        public static final int INTERNAL = 1;
        public static final int USAGE = 2;
        public static final int TOKEN_REFUSED = 3;
        public static final int API_ERROR = 4;
        public static final int NETWORK = 5;

        public static final String TABLE = "Exit codes:%n"
                + "  0  success%n"
                + "  1  unexpected internal error (run again with --verbose for a stack trace)%n"
                + "  2  bad usage or bad input: options, files, formats, refusal to overwrite%n"
                + "  3  the token endpoint refused the client assertion%n"
                + "  4  the API answered with a non-2xx status%n"
                + "  5  network failure: DNS, connect, TLS, timeout%n";

        private ExitCode() {
        }
    }

    /** A failure the user can act on; its message is one line that names the problem and the fix. */
    public static class NhsAuthException extends RuntimeException {
        private final int exitCode;

        public NhsAuthException(int exitCode, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }

        /** What to do about it, when there is more to say than the message; null otherwise. */
        public String hint() {
            return null;
        }
    }

    /** Bad options, files or formats (exit 2). */
    public static class UsageException extends NhsAuthException {
        public UsageException(String message) {
            this(message, null);
        }

        public UsageException(String message, Throwable cause) {
            super(ExitCode.USAGE, message, cause);
        }
    }

    // ------------------------------------------------------------------ keys and JWKS

    /** Key ids become file names, so only a safe alphabet is allowed. */
    public static String checkKid(String kid) {
        if (kid == null || !kid.matches("[A-Za-z0-9._-]{1,64}") || kid.equals(".") || kid.equals("..")) {
            throw new UsageException("invalid kid '" + kid + "': use 1-64 letters, digits, '.', '_' or '-'");
        }
        return kid;
    }

    /** The public JWK as the NHS portal and the Python tool publish it. */
    public static RSAKey publicJwk(RSAPublicKey publicKey, String kid) {
        return new RSAKey.Builder(publicKey)
                .keyID(kid)
                .algorithm(JWSAlgorithm.RS512)
                .keyUse(KeyUse.SIGNATURE)
                .build();
    }

    /** RFC 7638 SHA-256 thumbprint, base64url: the fingerprint to compare keys by. */
    public static String thumbprint(RSAPublicKey publicKey) {
        try {
            return new RSAKey.Builder(publicKey).build().computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** A JWK as a map in the Python tool's member order: kty, n, e, alg, kid, use. */
    static Map<String, Object> jwkMembers(JWK jwk) {
        Map<String, Object> json = jwk.toJSONObject();
        Map<String, Object> ordered = new LinkedHashMap<>();
        for (String name : List.of("kty", "n", "e", "alg", "kid", "use")) {
            if (json.containsKey(name)) {
                ordered.put(name, json.get(name));
            }
        }
        ordered.putAll(json);
        return ordered;
    }

    /** A JWKS document, indented by two spaces as the Python tool wrote it. */
    public static String jwksJson(List<? extends JWK> keys) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("keys", keys.stream().map(NhsClient::jwkMembers).collect(Collectors.toList()));
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(doc) + "\n";
    }

    /** Reads a JWKS file; any problem is a {@link UsageException} naming the file. */
    public static JWKSet readJwksFile(Path file) {
        String text = readText(file, "JWKS file");
        try {
            return JWKSet.parse(text);
        } catch (java.text.ParseException e) {
            throw new UsageException("'" + file + "' is not a valid JWKS (" + e.getMessage()
                    + "): expected {\"keys\": [ ... ]}");
        }
    }

    /**
     * A JWKS from a file or an http(s) URL (fetched as the NHS token endpoint fetches it, with
     * {@code User-Agent: APIM}, through the environment's proxy).
     *
     * @throws UsageException missing file, bad URL, a non-200 answer or not a JWKS
     * @throws NetworkException the URL cannot be reached
     */
    public static JWKSet loadJwks(String fileOrUrl, Duration timeout, Path caCertificates) {
        String source = fileOrUrl.trim();
        if (!source.matches("(?i)^[a-z][a-z0-9+.-]*://.*")) {
            return readJwksFile(Path.of(source));
        }
        URI uri = checkUrl(source, "--jwks");
        Transport transport = new Transport(timeout, caCertificates, System.getenv(), null);
        HttpResponse<byte[]> response = transport.exchange(HttpRequest.newBuilder(uri).timeout(timeout)
                .header("User-Agent", "APIM").header("Accept", "application/json").GET().build(), "JWKS URL");
        if (response.statusCode() != 200) {
            throw new UsageException("the JWKS URL " + source + " answered HTTP " + response.statusCode()
                    + ": the token endpoint could not fetch it either; publish the JWKS there");
        }
        try {
            return JWKSet.parse(new String(response.body(), StandardCharsets.UTF_8));
        } catch (java.text.ParseException e) {
            throw new UsageException("the JWKS URL " + source + " does not serve a valid JWKS (" + e.getMessage()
                    + "): publish the JSON from generate-keys");
        }
    }

    // ------------------------------------------------------------------ files

    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

    /** Reads a small text file, turning every I/O failure into a one-line usage error. */
    public static String readText(Path file, String what) {
        byte[] bytes = readBytes(file, what);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new UsageException(what + " '" + file + "' is not text: check you gave the right file");
        }
    }

    /** Reads a small file as bytes (a request body may be binary), every I/O failure a one-line usage error. */
    public static byte[] readBytes(Path file, String what) {
        try {
            if (Files.isDirectory(file)) {
                throw new UsageException(what + " '" + file + "' is a directory: give the path of a file");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UsageException(what + " '" + file + "' does not exist: check the path");
        } catch (AccessDeniedException e) {
            throw new UsageException(what + " '" + file + "' cannot be read: check its permissions");
        } catch (IOException e) {
            throw new UsageException("cannot read " + what + " '" + file + "': " + oneLine(e.getMessage()));
        }
    }

    /**
     * Writes a file so that no reader ever sees it half-written: a temp file in the same folder,
     * created with its final permissions, then moved into place. Without {@code replace} an
     * existing file is never touched, even if it appears while we write.
     */
    public static void writeAtomically(Path target, byte[] content, boolean ownerOnly, boolean replace)
            throws IOException {
        try (StagedFile staged = StagedFile.stage(target, content, ownerOnly)) {
            staged.commit(replace);
        }
    }

    /**
     * A file written in full, synced and given its final permissions beside its target, waiting
     * to be moved into place. Staging every file of a set before committing any shrinks the
     * moment a crash could leave the set half old, half new to a few renames.
     */
    public static final class StagedFile implements AutoCloseable {
        private final Path target;
        private final Path tmp;

        private StagedFile(Path target, Path tmp) {
            this.target = target;
            this.tmp = tmp;
        }

        public static StagedFile stage(Path target, byte[] content, boolean ownerOnly) throws IOException {
            Path dir = target.toAbsolutePath().getParent();
            Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp",
                    PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            try {
                Files.write(tmp, content);
                if (!ownerOnly) {
                    Files.setPosixFilePermissions(tmp, WORLD_READABLE);
                }
                try (var channel = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                    channel.force(true);
                }
                return new StagedFile(target, tmp);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
        }

        /** Moves the file into place; without {@code replace}, fails if the target exists. */
        public void commit(boolean replace) throws IOException {
            if (replace) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                // A hard link is an atomic create-if-absent: rename would silently replace.
                Files.createLink(target, tmp);
            }
        }

        /** Removes the temp file if it was not moved into place. */
        @Override
        public void close() throws IOException {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reports a file that appeared between our check and our write. */
    public static UsageException alreadyExists(Path file) {
        return new UsageException("'" + file + "' already exists: choose another --kid or --output-dir, "
                + "or pass --force to overwrite it");
    }

    // ------------------------------------------------------------------ JSON output

    /** Compact JSON for {@code --format json}, keeping the caller's member order. */
    public static String toJson(Map<String, ?> members) {
        return new GsonBuilder().disableHtmlEscaping().serializeNulls().create().toJson(members);
    }

    // ------------------------------------------------------------------ command-line plumbing

    /** What every command shares on the command line: exit codes, one-line errors, --verbose. */
    public static final class Cli {
        private Cli() {
        }

        /** Runs a picocli command and returns its exit code; all failures become one line on stderr. */
        public static int run(Object command, String... args) {
            return commandLine(command).execute(args);
        }

        /** A CommandLine wired with the toolkit's error handling, for main() and for tests. */
        public static CommandLine commandLine(Object command) {
            CommandLine cl = new CommandLine(command);
            // '@FILE' is call-api's body syntax, as in curl: never picocli's argument files.
            cl.setExpandAtFiles(false);
            cl.setExecutionExceptionHandler(Cli::onExecutionException);
            cl.setParameterExceptionHandler(Cli::onParameterException);
            cl.setExitCodeExceptionMapper(t -> t instanceof NhsAuthException
                    ? ((NhsAuthException) t).exitCode() : ExitCode.INTERNAL);
            return cl;
        }

        private static int onParameterException(CommandLine.ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            String name = cl.getCommandSpec().qualifiedName();
            cl.getErr().println(name + ": " + oneLine(ex.getMessage()) + " (see '" + name + " --help')");
            cl.getErr().flush();
            return ExitCode.USAGE;
        }

        private static int onExecutionException(Exception ex, CommandLine cl, ParseResult parsed) {
            PrintWriter err = cl.getErr();
            String name = cl.getCommandSpec().qualifiedName();
            boolean verbose = wantsVerbose(parsed);
            if (ex instanceof NhsAuthException) {
                err.println(name + ": " + ex.getMessage());
                String hint = ((NhsAuthException) ex).hint();
                if (hint != null) {
                    err.println("hint: " + hint);
                }
                if (verbose && ex.getCause() != null) {
                    ex.printStackTrace(err);
                }
                err.flush();
                return ((NhsAuthException) ex).exitCode();
            }
            err.println(name + ": internal error: " + oneLine(String.valueOf(ex))
                    + (verbose ? "" : " (run again with --verbose for details)"));
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ExitCode.INTERNAL;
        }

        private static boolean wantsVerbose(ParseResult parsed) {
            for (ParseResult p = parsed; p != null; p = p.subcommand()) {
                if (p.hasMatchedOption("--verbose")) {
                    return true;
                }
            }
            return false;
        }

        /** Converts {@code --env} values, naming the valid ones on a mistake. */
        public static final class EnvironmentConverter implements CommandLine.ITypeConverter<Environment> {
            @Override
            public Environment convert(String value) {
                try {
                    return Environment.parse(value);
                } catch (UsageException e) {
                    throw new CommandLine.TypeConversionException(e.getMessage());
                }
            }
        }

        /** Lists the valid {@code --env} values in --help. */
        public static final class EnvironmentCandidates implements Iterable<String> {
            @Override
            public java.util.Iterator<String> iterator() {
                return Arrays.stream(Environment.values()).map(Environment::id).iterator();
            }
        }

        /** The options get-token and call-api share, each also from an NHS_* environment variable. */
        public static final class ClientOptions {
            @CommandLine.Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:NHS_API_KEY}",
                    showDefaultValue = CommandLine.Help.Visibility.NEVER,
                    description = "The app's API key from the developer portal: iss and sub of the client assertion "
                            + "(env NHS_API_KEY). Required.")
            String apiKey;

            @CommandLine.Option(names = "--private-key", paramLabel = "PEM", defaultValue = "${env:NHS_PRIVATE_KEY}",
                    showDefaultValue = CommandLine.Help.Visibility.NEVER,
                    description = "RSA private key, PEM: PKCS#1 or PKCS#8, plain or encrypted (env NHS_PRIVATE_KEY). Required.")
            Path privateKey;

            @CommandLine.Option(names = "--env", paramLabel = "ENV", defaultValue = "${env:NHS_ENV:-int}",
                    converter = EnvironmentConverter.class, completionCandidates = EnvironmentCandidates.class,
                    description = "NHS environment: ${COMPLETION-CANDIDATES} (env NHS_ENV; default: ${DEFAULT-VALUE}).")
            Environment env;

            @CommandLine.Option(names = "--kid", paramLabel = "KID", defaultValue = "${env:NHS_KID}",
                    description = "Key id in the JWKS (env NHS_KID; default: the key file's name without .pem, "
                            + "else <env>-1).")
            String kid;

            @CommandLine.Option(names = "--token-url", paramLabel = "URL", defaultValue = "${env:NHS_TOKEN_URL}",
                    description = "Token endpoint instead of the environment's; the assertion's aud follows it "
                            + "(env NHS_TOKEN_URL).")
            String tokenUrl;

            @CommandLine.Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "${env:NHS_TIMEOUT:-30}",
                    description = "Seconds allowed to connect and to answer (env NHS_TIMEOUT; default: ${DEFAULT-VALUE}).")
            String timeout;

            @CommandLine.Option(names = "--cacert", paramLabel = "PEM", defaultValue = "${env:NHS_CA_CERT}",
                    description = "Extra trusted CA certificates, PEM, for TLS-inspecting proxies (env NHS_CA_CERT).")
            Path caCert;

            @CommandLine.Option(names = "--private-key-passphrase", paramLabel = "PASSPHRASE",
                    defaultValue = "${env:NHS_PRIVATE_KEY_PASSPHRASE}", showDefaultValue = CommandLine.Help.Visibility.NEVER,
                    description = "Passphrase of an encrypted key; prefer env NHS_PRIVATE_KEY_PASSPHRASE.")
            String passphrase;

            @CommandLine.Option(names = "--token-cache",
                    description = "Reuse an access token across runs until a minute before it expires (env NHS_TOKEN_CACHE=1); "
                            + "kept owner-only under $XDG_CACHE_HOME/nhs-auth (default ~/.cache/nhs-auth).")
            boolean tokenCache;

            @CommandLine.Option(names = "--no-token-cache", description = "Fetch a new token even if NHS_TOKEN_CACHE is set.")
            boolean noTokenCache;

            @CommandLine.Option(names = "--token-cache-dir", paramLabel = "DIR", defaultValue = "${env:NHS_TOKEN_CACHE_DIR}",
                    description = "Folder for the token cache (env NHS_TOKEN_CACHE_DIR).")
            Path tokenCacheDir;

            @CommandLine.Option(names = "--verbose",
                    description = "Trace requests and responses on stderr (secrets redacted); stack traces for internal errors.")
            boolean verbose;

            boolean tokenCacheWanted() {
                String env = blankToNull(System.getenv("NHS_TOKEN_CACHE"));
                boolean fromEnv = env != null && env.matches("(?i)1|true|yes|on");
                return !noTokenCache && (tokenCache || fromEnv);
            }

            /** The client these options describe; notes and the trace go to {@code err}. */
            public NhsClient client(PrintWriter err) {
                return builder()
                        .environment(env)
                        .apiKey(apiKey)
                        .privateKey(privateKey, passphrase == null ? null : passphrase.toCharArray())
                        .kid(kid)
                        .tokenUrl(tokenUrl)
                        .timeout(parseTimeout(timeout, "--timeout"))
                        .caCertificates(caCert)
                        .notices(line -> {
                            err.println(line);
                            err.flush();
                        })
                        .trace(verbose ? err : null)
                        .tokenCache(tokenCacheWanted() ? (tokenCacheDir != null ? tokenCacheDir : TokenCache.defaultDir()) : null)
                        .build();
            }
        }

        /** The stream a command writes its result to. */
        public static PrintWriter out(CommandSpec spec) {
            return spec.commandLine().getOut();
        }

        /** The stream a command writes its talk to. */
        public static PrintWriter err(CommandSpec spec) {
            return spec.commandLine().getErr();
        }

        /** stdout as UTF-8 text; {@link #rawStdout} recognises it to write bytes past it. */
        private static final PrintWriter STDOUT = new PrintWriter(
                new java.io.OutputStreamWriter(System.out, StandardCharsets.UTF_8), true);

        /** For {@code main}: run and exit with the command's code. */
        public static void main(Callable<Integer> command, String[] args) {
            CommandLine cl = commandLine(command);
            cl.setOut(STDOUT);
            exit(cl.execute(args));
        }

        /** The process's stdout when the command writes there (not to a test's buffer), for bodies byte for byte. */
        public static java.io.OutputStream rawStdout(CommandSpec spec) {
            return spec.commandLine().getOut() == STDOUT ? System.out : null;
        }
    }
}
