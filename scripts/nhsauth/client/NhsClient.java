//JAVA 17+
//SOURCES AccessToken.java
//SOURCES Diagnosis.java
//SOURCES NhsAuthException.java
//SOURCES UsageException.java
//SOURCES TokenRequestException.java
//SOURCES NetworkException.java
//SOURCES NhsCommands.java
//SOURCES NhsEnvironment.java
//SOURCES NhsAuthPattern.java
//SOURCES NhsSetting.java
//SOURCES NhsSigningKey.java
//SOURCES NhsHttp.java
//SOURCES NhsProxies.java
//SOURCES NhsTls.java
//SOURCES NhsKeys.java
//SOURCES NhsTokenEndpoint.java
//SOURCES NhsTokenCache.java
//SOURCES NhsFiles.java
//SOURCES NhsJson.java
//SOURCES NhsDoctor.java

package nhsauth.client;

import java.io.PrintWriter;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A client for NHS England's application-restricted APIs with signed-JWT authentication: it signs a client assertion
 * with your private key, exchanges it for an access token, reuses the token while it lives, and sends API requests with
 * {@code Authorization: Bearer}. The other patterns, an {@code apikey} header and open access, are one
 * {@link Builder#auth(NhsAuthPattern)} away. Pull it into a JBang script with
 * {@code //SOURCES <path or URL>/nhsauth/client/NhsClient.java}; its helpers and {@code //DEPS} come along.
 * Failures are {@link NhsAuthException}s: a one-line message naming the problem and the fix, and an exit code.
 */
public final class NhsClient {
    /** How many times a token request is resent after a transient failure. */
    public static final int TOKEN_RETRIES = 2;
    /** Seconds a client assertion lives: the endpoint allows at most 300 (310 with its grace). */
    public static final int ASSERTION_LIFETIME_SECONDS = 240;
    /** A token is not reused within this many seconds of its expiry. */
    public static final int TOKEN_REUSE_MARGIN_SECONDS = 60;
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** This toolkit's version, as {@code --version} shows it. */
    public static final String VERSION = "1.0";
    /** Names the toolkit on its requests (unless the caller sets its own), so API owners can tell its traffic. */
    public static final String USER_AGENT = "nhs-auth/" + VERSION;

    private final Builder config;
    private final NhsAuthPattern auth;
    private final NhsSigningKey signingKey;
    private final String kid;
    private final String tokenUrl;
    private final NhsHttp http;
    private final NhsTokenCache tokenCache;
    private AccessToken cached;
    private int renewals;

    private NhsClient(Builder b, NhsAuthPattern auth, NhsSigningKey signingKey, String kid, String tokenUrl, NhsHttp http) {
        this.config = b.copy();
        this.auth = auth;
        this.signingKey = signingKey;
        this.kid = kid;
        this.tokenUrl = tokenUrl;
        this.http = http;
        this.tokenCache = b.tokenCacheDir == null ? null : new NhsTokenCache(b.tokenCacheDir, b.notices);
    }

    /** Starts a client configuration; {@link Builder#build()} checks it. */
    public static Builder builder() { return new Builder(); }

    /**
     * A client configured from the {@code NHS_*} variables as the commands read them.
     *
     * @throws UsageException a variable is missing or its value is unusable, naming the variable
     */
    public static NhsClient fromEnvironment() {
        return builder().fromEnvironment().build();
    }

    /** This client's configuration, to change a setting and build another client. */
    public Builder toBuilder() {
        return config.copy();
    }

    /** The NHS environment this client talks to. */
    public NhsEnvironment environment() {
        return config.env;
    }

    /** How requests prove which app sends them: a bearer token, the API key, or nothing. */
    public NhsAuthPattern auth() {
        return auth;
    }

    /** The key id sent in the client assertion's header; null unless the pattern is signed-jwt. */
    public String kid() {
        return kid;
    }

    /** The token endpoint posted to, the client assertion's {@code aud}; null unless the pattern is signed-jwt. */
    public String tokenUrl() {
        return tokenUrl;
    }

    /** RFC 7638 thumbprint of the signing key's public half, to compare with the registered JWKS; null without a key. */
    public String keyThumbprint() {
        return signingKey == null ? null : signingKey.thumbprint();
    }

    /** Whether API calls carry a token: with the signed-jwt pattern (sandboxes are open access unless told otherwise). */
    public boolean usesToken() {
        return auth == NhsAuthPattern.SIGNED_JWT;
    }

    /** A freshly signed client assertion (new jti, exp = now + 240 s), a secret; signed-jwt only (else UsageException). */
    public String clientAssertion() {
        return signingKey().clientAssertion(config.apiKey, kid, tokenUrl, ASSERTION_LIFETIME_SECONDS);
    }

    private NhsSigningKey signingKey() {
        if (signingKey == null) {
            throw auth.noToken();
        }
        return signingKey;
    }

    /**
     * An access token, reusing the last one (from this process, or the {@link Builder#tokenCache(Path)}) while it has
     * more than a minute to live.
     *
     * @throws TokenRequestException the token endpoint refused the client assertion (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     */
    public String accessToken() {
        return token().value();
    }

    /** Like {@link #accessToken()}, with the token's type and lifetime; fails as it does. */
    public synchronized AccessToken token() {
        signingKey();
        Duration margin = Duration.ofSeconds(TOKEN_REUSE_MARGIN_SECONDS);
        if (cached == null || cached.expiresWithin(margin)) {
            AccessToken stored = tokenCache == null ? null
                    : tokenCache.read(tokenUrl, config.apiKey, kid, signingKey.thumbprint(), config.subjectToken);
            if (stored != null && !stored.expiresWithin(margin)) {
                http.trace("reusing a cached access token until " + stored.expiresAt());
                cached = stored;
            } else {
                renewToken();
            }
        }
        return cached;
    }

    private synchronized AccessToken renewToken() {
        renewals++;
        cached = requestToken();
        if (tokenCache != null) {
            tokenCache.write(tokenUrl, config.apiKey, kid, signingKey.thumbprint(), config.subjectToken, cached);
        }
        return cached;
    }

    /**
     * Exchanges a fresh client assertion (and the subject token, if given) for a new access token, resending after a
     * refused or reset connection or HTTP 429, 502, 503, 504 up to twice, each time newly signed so no jti is reused.
     *
     * @throws TokenRequestException the token endpoint refused, or answered with something that is not a token (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure, or a 200 that is not JSON (exit 5)
     */
    public AccessToken requestToken() {
        signingKey();
        return NhsTokenEndpoint.request(http, config.timeout, this::clientAssertion, config.subjectToken,
                new NhsTokenEndpoint.Asked(tokenUrl, config.env, kid, signingKey::thumbprint, config.subjectToken != null));
    }

    /**
     * Sends an API request with the pattern's credentials ({@code Authorization: Bearer}, {@code apikey} or none), an
     * {@code X-Request-ID} (a fresh UUID) and {@code User-Agent: nhs-auth/<version>} unless it has them; the caller's
     * builder is left as it was. With {@code retries > 0}, 429, 502, 503 and 504 answers are resent with the same
     * X-Request-ID.
     *
     * @throws TokenRequestException getting the token failed (exit 3)
     * @throws NetworkException DNS, connect, TLS or timeout failure (exit 5)
     * @throws UsageException the request has a header the JDK may not set, or would send a credential in clear (exit 2)
     */
    public HttpResponse<byte[]> send(HttpRequest.Builder request, int retries) {
        return send(request, retries, HttpResponse.BodyHandlers.ofByteArray());
    }

    /** {@link #send(HttpRequest.Builder, int)} without resending. */
    public HttpResponse<byte[]> send(HttpRequest.Builder request) {
        return send(request, 0);
    }

    /**
     * Like {@link #send(HttpRequest.Builder, int)}, the body handed to {@code body} as it arrives; only the answer
     * returned reaches it. A reused token (from an earlier request or the cache) that the API answers 401 to is
     * replaced once by a new one.
     */
    public <T> HttpResponse<T> send(HttpRequest.Builder request, int retries, HttpResponse.BodyHandler<T> body) {
        HttpRequest.Builder ours = request.copy();
        HttpRequest probe = request.build();
        if (probe.headers().firstValue("X-Request-ID").isEmpty()) {
            ours.header("X-Request-ID", java.util.UUID.randomUUID().toString());
        }
        if (probe.headers().firstValue("User-Agent").isEmpty()) {
            ours.header("User-Agent", USER_AGENT);
        }
        if (probe.timeout().isEmpty()) {
            ours.timeout(config.timeout);
        }
        boolean addToken = auth == NhsAuthPattern.SIGNED_JWT && probe.headers().firstValue("Authorization").isEmpty();
        boolean addApiKey = auth == NhsAuthPattern.API_KEY && probe.headers().firstValue("apikey").isEmpty();
        if (addToken || addApiKey) {
            NhsSetting.checkNotInClear(probe.uri(), "the API URL", addToken ? "bearer token" : "API key");
        }
        if (addApiKey) {
            ours.header("apikey", config.apiKey);
        }
        int renewedBefore = renewals;
        AccessToken[] token = {addToken ? token() : null};
        // Only a token this call did not just get can be stale (revoked, or from another server's run).
        boolean[] mayRenew = {token[0] != null && renewals == renewedBefore};
        return http.send(() -> (token[0] == null ? ours : ours.setHeader("Authorization", "Bearer " + token[0].value())).build(),
                "API", retries, false, status -> mayRenew[0] && status == 401, () -> {
                    http.trace("the API refused the reused access token (HTTP 401): getting a new one");
                    token[0] = renewToken();
                    mayRenew[0] = false;
                }, body);
    }

    /** UTF-8, whatever charset the answer names. */
    private static final HttpResponse.BodyHandler<String> TEXT = HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8);

    /** GET a URL with the pattern's credentials; the answer as text. Fails as {@link #send} does. */
    public HttpResponse<String> get(String url) {
        return send(HttpRequest.newBuilder(NhsSetting.checkUrl(url, "URL")).GET(), 0, TEXT);
    }

    /** POST a body of the given content type with the pattern's credentials; the answer as text. */
    public HttpResponse<String> post(String url, String body, String contentType) {
        return send(post(url, body).header("Content-Type", contentType), 0, TEXT);
    }

    /** POST JSON text ({@code Content-Type} and {@code Accept: application/json}); the answer as text. */
    public HttpResponse<String> postJson(String url, String json) {
        return send(post(url, json).header("Content-Type", "application/json")
                .header("Accept", "application/json"), 0, TEXT);
    }

    private static HttpRequest.Builder post(String url, String body) {
        return HttpRequest.newBuilder(NhsSetting.checkUrl(url, "URL"))
                .POST(HttpRequest.BodyPublishers.ofString(body == null ? "" : body, StandardCharsets.UTF_8));
    }

    /** Configures a client; every setter accepts null to mean "the default". */
    public static final class Builder implements Cloneable {
        NhsEnvironment env = NhsEnvironment.INT;
        NhsAuthPattern auth;
        String apiKey;
        Path privateKeyFile;
        char[] passphrase;
        String kid;
        String tokenUrl;
        String subjectToken;
        Duration timeout = DEFAULT_TIMEOUT;
        Path caCertificates;
        Map<String, String> proxyVariables = System.getenv();
        Consumer<String> notices = line -> System.err.println("nhs-auth: " + line);
        PrintWriter trace;
        Path tokenCacheDir;
        NhsSetting.Words settingNames = NhsSetting.LIBRARY;

        private Builder() { }

        /** A copy that shares nothing mutable: a field added to the builder is copied without a word here. */
        Builder copy() {
            try {
                Builder b = (Builder) super.clone();
                b.passphrase = passphrase == null ? null : passphrase.clone();
                return b;
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }

        /** Takes every setting the {@code NHS_*} and proxy variables give (the README's table); setters after it win. */
        public Builder fromEnvironment() {
            return fromEnvironment(System.getenv());
        }

        /** {@link #fromEnvironment()} from a map of variables instead of the process's. */
        public Builder fromEnvironment(Map<String, String> vars) {
            NhsSetting.configure(this, vars);
            return this;
        }

        /** The NHS environment: its token endpoint and default kid (default {@code int}). */
        public Builder environment(NhsEnvironment e) {
            this.env = e == null ? NhsEnvironment.INT : e;
            return this;
        }

        /** @throws UsageException an unknown environment name */
        public Builder environment(String name) {
            return environment(NhsSetting.blankToNull(name) == null ? null : NhsEnvironment.parse(name));
        }

        /** SIGNED_JWT, API_KEY (needs only the API key) or NONE; null: signed-jwt, or none for a sandbox without a token URL. */
        public Builder auth(NhsAuthPattern pattern) {
            this.auth = pattern;
            return this;
        }

        /** The app's API key from the developer portal: iss and sub of the client assertion, or the apikey header. */
        public Builder apiKey(String key) {
            this.apiKey = NhsSetting.blankToNull(key);
            return this;
        }

        /** The RSA private key's PEM file (PKCS#1 or PKCS#8), and its passphrase if encrypted. */
        public Builder privateKey(Path pemFile, char[] passphrase) {
            this.privateKeyFile = pemFile;
            this.passphrase = passphrase;
            return this;
        }

        /** The kid of the registered public key (default: the key file's name without .pem, else {@code <env>-1}). */
        public Builder kid(String kid) {
            this.kid = NhsSetting.blankToNull(kid);
            return this;
        }

        /** Overrides the environment's token endpoint; the assertion's aud follows it. */
        public Builder tokenUrl(String url) {
            this.tokenUrl = NhsSetting.blankToNull(url);
            return this;
        }

        /** An ID token from NHS CIS2 or NHS login (a secret) to exchange for a user-restricted access token. */
        public Builder subjectToken(String idToken) {
            this.subjectToken = NhsTokenEndpoint.subjectToken(idToken);
            return this;
        }

        /** How long to wait to connect and for an answer (default 30 s). */
        public Builder timeout(Duration d) {
            this.timeout = d == null ? DEFAULT_TIMEOUT : d;
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
        public Builder notices(Consumer<String> sink) {
            this.notices = sink == null ? line -> { } : sink;
            return this;
        }

        /**
         * Keeps access tokens across runs in this owner-only folder, keyed by token URL, API key, kid, key and subject
         * token (the commands': {@link NhsCommands#defaultTokenCacheDir()}); null (the default): in memory only.
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

        /** Notices name settings as a command user sets them (options and variables), not as a library user does. */
        public Builder commandLineNames() {
            this.settingNames = NhsSetting.COMMAND_LINE;
            return this;
        }

        /**
         * Checks every link of the chain this configuration would use, not stopping at a failure: the key, the JWKS
         * ({@code jwks}: a file or URL, or null), the proxy, DNS, TCP, TLS, the clock, the token request and the API
         * ({@code apiUrl}: a URL to GET last, or null). Nothing secret is reported.
         */
        public Diagnosis diagnose(String jwks, String apiUrl) {
            return new Diagnosis(NhsDoctor.run(copy(), NhsSetting.blankToNull(jwks), NhsSetting.blankToNull(apiUrl)));
        }

        /**
         * Checks the configuration and loads the private key, if the pattern needs one.
         *
         * @throws UsageException a missing API key or private key, an unusable key file, a bad URL or CA file
         */
        public NhsClient build() {
            NhsAuthPattern pattern = NhsAuthPattern.resolve(this);
            if (pattern != NhsAuthPattern.SIGNED_JWT) {
                return new NhsClient(this, pattern, null, null, null, http());
            }
            if (apiKey == null) {
                throw new UsageException("no API key: " + NhsSetting.API_KEY.action()
                        + " to your app's key from the developer portal");
            }
            if (privateKeyFile == null) {
                throw new UsageException("no private key: " + NhsSetting.PRIVATE_KEY.action() + " to your key's PEM file");
            }
            String url = tokenUrl == null ? env.tokenUrl() : NhsSetting.checkNotInClear(
                    NhsSetting.checkUrl(tokenUrl, NhsSetting.TOKEN_URL.named()), NhsSetting.TOKEN_URL.named(),
                    "client assertion").toString();
            NhsSigningKey signingKey = new NhsSigningKey(NhsKeys.readPrivateKey(privateKeyFile, passphrase, notices));
            KeyId keyId = keyId();
            NhsHttp http = http();
            // Notes only once everything is known good, so a failure stays a single line.
            if (signingKey.bits() < NhsKeys.RECOMMENDED_BITS) {
                notices.accept("warning: the private key has " + signingKey.bits() + " bits; NHS guidance asks for "
                        + NhsKeys.RECOMMENDED_BITS);
            }
            if (!keyId.given()) {
                notices.accept(NhsSetting.render("using kid '" + keyId.value() + "' (" + (keyId.fromFileName()
                        ? "from the private key's file name" : "the " + env.id() + " default") + "; "
                        + NhsSetting.KID.named() + " to change)", settingNames));
            }
            return new NhsClient(this, pattern, signingKey, keyId.value(), url, http);
        }

        private NhsHttp http() {
            return new NhsHttp(timeout, caCertificates, proxyVariables, trace, notices);
        }

        /** The kid sent: the one given, else the private key file's name without .pem, else the environment's default. */
        KeyId keyId() {
            String fromFile = kid != null || privateKeyFile == null ? null : NhsKeys.kidFromKeyFile(privateKeyFile);
            return new KeyId(kid != null ? kid : fromFile != null ? fromFile : env.defaultKid(), kid != null, fromFile != null);
        }
    }

    /** A kid and where it came from. */
    record KeyId(String value, boolean given, boolean fromFileName) { }

    /** The toolkit's exit codes, one meaning each, the same for every command. */
    public static final class ExitCode {
        public static final int OK = 0;
        public static final int INTERNAL = 1;
        public static final int USAGE = 2;
        public static final int TOKEN_REFUSED = 3;
        public static final int API_ERROR = 4;
        public static final int NETWORK = 5;

        private ExitCode() { }
    }
}
