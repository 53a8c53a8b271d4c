//SOURCES NhsClient.java

package nhsauth.client;

import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.security.cert.*;
import java.security.interfaces.RSAPrivateCrtKey;
import java.time.Instant;
import java.util.*;

import javax.net.ssl.SSLSession;

import com.nimbusds.jose.jwk.JWKSet;

/**
 * The whole chain from settings to an API answer, checked link by link: the key, the JWKS, the
 * proxy, DNS, TCP, TLS, the clock, the token request and the API call. Every check runs and
 * reports, whatever failed before it; one that cannot mean anything after an earlier failure
 * says why it was skipped. Nothing secret is reported: the API key only by its first characters.
 */
final class NhsDoctor {
    /**
     * A client's clock may be this far ahead of the token endpoint's: an assertion's exp (now +
     * 240 s) must be at most 310 s ahead of the endpoint's clock.
     */
    static final long MAX_CLOCK_AHEAD_SECONDS = 310 - NhsClient.ASSERTION_LIFETIME_SECONDS;
    /** ...and this far behind it, or the assertion has expired on arrival. */
    static final long MAX_CLOCK_BEHIND_SECONDS = NhsClient.ASSERTION_LIFETIME_SECONDS;

    private final NhsClient.Builder s;
    private final String jwks;
    private final String apiUrl;
    private final NhsSetting.Words names;
    private final NhsAuthPattern auth;
    private final List<Diagnosis.Check> checks = new ArrayList<>();

    // What earlier checks learnt, for the later ones.
    private RSAPrivateCrtKey key;
    private String kid;
    private URI target;
    private Proxy proxy;
    private InetAddress address;
    private boolean connected;
    private HttpResponse<byte[]> probe;
    private boolean tokenGot;

    private NhsDoctor(NhsClient.Builder settings, String jwks, String apiUrl) {
        // The doctor reports; it neither prints notices nor reuses cached tokens.
        this.s = settings.notices(null).tokenCache(null);
        this.jwks = jwks;
        this.apiUrl = apiUrl;
        this.names = settings.settingNames;
        this.auth = settings.auth != null ? settings.auth : NhsAuthPattern.defaultFor(settings.env, settings.tokenUrl != null);
    }

    /** Runs every check in order. */
    static List<Diagnosis.Check> run(NhsClient.Builder settings, String jwks, String apiUrl) {
        NhsDoctor doctor = new NhsDoctor(settings, jwks, apiUrl);
        doctor.check("java", doctor::java);
        doctor.check("api key", doctor::apiKey);
        doctor.check("key", doctor::key);
        doctor.check("jwks", doctor::jwks);
        doctor.check("proxy", doctor::proxy);
        doctor.check("dns", doctor::dns);
        doctor.check("connect", doctor::connect);
        doctor.check("tls", doctor::tls);
        doctor.check("clock", doctor::clock);
        doctor.check("token", doctor::token);
        doctor.check("api", doctor::api);
        return List.copyOf(doctor.checks);
    }

    private interface Step {
        Diagnosis.Check run(String name) throws Exception;
    }

    /** A check that throws becomes a failure with its message: one check's fault never stops the rest. */
    private void check(String name, Step step) {
        Diagnosis.Check result;
        try {
            result = step.run(name);
        } catch (NhsAuthException e) {
            result = Diagnosis.Check.failed(name, e.exitCode(), e.message(names), e.hint(names));
        } catch (Exception e) {
            result = Diagnosis.Check.failed(name, NhsClient.ExitCode.INTERNAL, "unexpected: " + NhsSetting.oneLine(String.valueOf(e)),
                    "please report this with the output of " + said(NhsSetting.TRACE.named()));
        }
        checks.add(result);
    }

    private String said(String text) {
        return NhsSetting.render(text, names);
    }

    // ------------------------------------------------------------------ the checks

    private Diagnosis.Check java(String name) {
        Runtime.Version v = Runtime.version();
        String found = "Java " + v + " (" + System.getProperty("java.vendor", "unknown vendor") + "), nhs-auth "
                + NhsClient.VERSION;
        return v.feature() >= 17 ? Diagnosis.Check.passed(name, found)
                : Diagnosis.Check.failed(name, NhsClient.ExitCode.USAGE, found, "install a JDK 17 or newer");
    }

    private Diagnosis.Check apiKey(String name) {
        if (auth == NhsAuthPattern.NONE) {
            return Diagnosis.Check.skipped(name, "not needed with auth none");
        }
        if (s.apiKey == null) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.USAGE, "no API key",
                    said(NhsSetting.API_KEY.action() + " to your app's key from the developer portal"));
        }
        return Diagnosis.Check.passed(name, masked(s.apiKey) + ", sent as " + (auth == NhsAuthPattern.API_KEY
                ? "the apikey header" : "iss and sub of the client assertion"));
    }

    private Diagnosis.Check key(String name) {
        if (auth != NhsAuthPattern.SIGNED_JWT) {
            return Diagnosis.Check.skipped(name, "not needed with auth " + auth.id());
        }
        if (s.privateKeyFile == null) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.USAGE, "no private key",
                    said(NhsSetting.PRIVATE_KEY.action() + " to your key's PEM file (generate-keys makes one)"));
        }
        String[] warning = {""};
        RSAPrivateCrtKey loaded = NhsKeys.readPrivateKey(s.privateKeyFile, s.passphrase, w -> warning[0] = "; " + w);
        new NhsSigningKey(loaded); // refuses a key too short to sign with, as get-token would
        NhsClient.KeyId keyId = s.keyId();
        kid = keyId.value();
        String from = keyId.given() ? "given" : keyId.fromFileName() ? "from the file name" : "the " + s.env.id() + " default";
        key = loaded;
        int bits = loaded.getModulus().bitLength();
        return Diagnosis.Check.passed(name, s.privateKeyFile + ": RSA " + bits + " bits" + (bits < NhsKeys.RECOMMENDED_BITS ? " (NHS guidance asks for " + NhsKeys.RECOMMENDED_BITS + ")" : "")
                + ", kid '" + kid + "' (" + from + "), thumbprint " + NhsKeys.thumbprint(NhsKeys.publicKeyOf(loaded)) + warning[0]);
    }

    private Diagnosis.Check jwks(String name) {
        if (jwks == null) {
            return Diagnosis.Check.skipped(name, "no JWKS given to compare the key with");
        }
        if (key == null) {
            return Diagnosis.Check.skipped(name, "no usable private key to compare");
        }
        JWKSet set = NhsKeys.loadJwks(jwks, s.timeout, s.caCertificates);
        NhsKeys.Mismatch mismatch = NhsKeys.mismatch(NhsKeys.publicKeyOf(key), kid, set, jwks);
        String mine = NhsKeys.thumbprint(NhsKeys.publicKeyOf(key));
        return mismatch == null ? Diagnosis.Check.passed(name, "kids in " + jwks + ": " + String.join(", ", set.getKeys().stream()
                .map(k -> k.getKeyID() + (NhsKeys.thumbprint(k).equals(mine) ? " (this key)" : "")).toList()))
                : Diagnosis.Check.failed(name, NhsClient.ExitCode.USAGE, said(mismatch.problem()), said(mismatch.fix()));
    }

    /** The proxy the library will use for the first URL of the chain, and why: read through its own rules. */
    private Diagnosis.Check proxy(String name) {
        String url = auth == NhsAuthPattern.SIGNED_JWT
                ? (s.tokenUrl != null ? NhsSetting.checkUrl(s.tokenUrl, said(NhsSetting.TOKEN_URL.named())).toString()
                        : s.env.tokenUrl())
                : apiUrl != null ? apiUrl : s.env.baseUrl();
        target = NhsSetting.checkUrl(url, "URL");
        NhsProxies proxies = new NhsProxies(s.proxyVariables);
        proxy = proxies.select(target).get(0);
        boolean https = "https".equalsIgnoreCase(target.getScheme());
        String variable = https ? setVariable("https_proxy", "HTTPS_PROXY") : setVariable("http_proxy", "HTTP_PROXY");
        String what = (auth == NhsAuthPattern.SIGNED_JWT ? "token endpoint " : "") + target;
        if (proxy.type() != Proxy.Type.DIRECT) {
            return Diagnosis.Check.passed(name, what + " through the proxy " + proxies.endpointFor(target).address() + " ("
                    + variable + (proxies.endpointFor(target).hasCredentials() ? ", with credentials" : "") + ")");
        }
        if (variable != null) {
            return Diagnosis.Check.passed(name, what + " direct: " + (proxies.bypassed(target) ? setVariable("no_proxy",
                    "NO_PROXY") + " matches " + target.getHost() : "loopback is never proxied") + " (" + variable + " is set)");
        }
        return Diagnosis.Check.passed(name, what + " direct (no " + (https ? "HTTPS_PROXY" : "HTTP_PROXY") + " set)");
    }

    private String setVariable(String lower, String upper) {
        Map<String, String> vars = s.proxyVariables;
        return NhsSetting.blankToNull(vars.get(lower)) != null ? lower
                : NhsSetting.blankToNull(vars.get(upper)) != null ? upper : null;
    }

    /** Through a proxy the proxy resolves the target's name: what this machine must find is the proxy. */
    private String firstHop() {
        return proxy.type() == Proxy.Type.DIRECT ? target.getHost() : ((InetSocketAddress) proxy.address()).getHostString();
    }

    private int firstHopPort() {
        if (proxy.type() != Proxy.Type.DIRECT) {
            return ((InetSocketAddress) proxy.address()).getPort();
        }
        return target.getPort() > 0 ? target.getPort() : "https".equalsIgnoreCase(target.getScheme()) ? 443 : 80;
    }

    private Diagnosis.Check dns(String name) {
        if (target == null) {
            return Diagnosis.Check.skipped(name, "no URL to look up");
        }
        String host = firstHop();
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            address = all[0];
            return Diagnosis.Check.passed(name, host + " is " + address.getHostAddress()
                    + (all.length > 1 ? " (and " + (all.length - 1) + " more)" : ""));
        } catch (UnknownHostException e) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.NETWORK, "cannot resolve " + host,
                    "check the host name, your DNS, or HTTPS_PROXY / NO_PROXY");
        }
    }

    private Diagnosis.Check connect(String name) throws Exception {
        if (address == null) {
            return Diagnosis.Check.skipped(name, "no address to connect to");
        }
        InetSocketAddress to = new InetSocketAddress(address, firstHopPort());
        String shown = firstHop() + ":" + to.getPort() + (proxy.type() == Proxy.Type.DIRECT ? "" : " (the proxy)");
        long start = System.nanoTime();
        try (Socket socket = new Socket()) {
            socket.connect(to, (int) Math.min(Integer.MAX_VALUE, s.timeout.toMillis()));
        } catch (java.net.SocketTimeoutException e) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.NETWORK, "connecting to " + shown + " timed out after "
                    + s.timeout.toSeconds() + " s", "check the network or proxy, or a firewall; "
                    + said(NhsSetting.TIMEOUT.named()) + " sets the limit");
        } catch (java.io.IOException e) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.NETWORK, "cannot connect to " + shown + " ("
                    + NhsSetting.oneLine(e.getMessage()) + ")", proxy.type() == Proxy.Type.DIRECT
                    ? "check the URL and that the server is running (for the local environment: mock-server)"
                    : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY");
        }
        connected = true;
        return Diagnosis.Check.passed(name, shown + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    }

    /**
     * One request to the first URL, through the library's own transport (proxy, CA, timeout):
     * its handshake is the TLS check and its Date header the clock check. Any answer will do.
     */
    private HttpResponse<byte[]> probe() {
        if (probe == null) {
            NhsClient client = s.copy().auth(NhsAuthPattern.NONE).subjectToken(null).build();
            probe = client.send(HttpRequest.newBuilder(target).GET().header("Accept", "application/json"));
        }
        return probe;
    }

    private Diagnosis.Check tls(String name) throws Exception {
        if (!connected) {
            return Diagnosis.Check.skipped(name, "no connection to shake hands over");
        }
        if (!"https".equalsIgnoreCase(target.getScheme())) {
            probe();
            return Diagnosis.Check.skipped(name, target.getScheme() + "://" + target.getAuthority() + " is plain HTTP");
        }
        SSLSession session = probe().sslSession().orElse(null);
        if (session == null) {
            return Diagnosis.Check.passed(name, "handshake done (no session details)");
        }
        Certificate[] chain = session.getPeerCertificates();
        X509Certificate leaf = (X509Certificate) chain[0];
        String trust;
        if (s.caCertificates == null) {
            trust = "trusted by the JDK's CAs";
        } else {
            X509Certificate[] x509 = Arrays.stream(chain).map(c -> (X509Certificate) c).toArray(X509Certificate[]::new);
            trust = jdkTrusts(x509) ? "trusted by the JDK's CAs (" + said(NhsSetting.CA_CERT.named()) + " not needed)"
                    : "trusted through " + said(NhsSetting.CA_CERT.named()) + " (the JDK's CAs alone do not)";
        }
        return Diagnosis.Check.passed(name, session.getProtocol() + " with " + leaf.getSubjectX500Principal().getName()
                + ", issued by " + leaf.getIssuerX500Principal().getName() + "; " + trust);
    }

    private static boolean jdkTrusts(X509Certificate[] chain) throws Exception {
        try {
            // "UNKNOWN" is what TLS 1.3 passes: no key-exchange type to hold the certificate to.
            NhsTls.jdkTrust().checkServerTrusted(chain, "UNKNOWN");
            return true;
        } catch (java.security.cert.CertificateException e) {
            return false;
        }
    }

    private Diagnosis.Check clock(String name) {
        if (!connected || probe == null) {
            return Diagnosis.Check.skipped(name, "no answer to read the server's time from");
        }
        Instant now = Instant.now();
        String date = probe.headers().firstValue("Date").orElse(null);
        if (date == null) {
            return Diagnosis.Check.skipped(name, "the server sent no Date header to compare with");
        }
        Instant theirs = NhsHttp.parseDate(date);
        if (theirs == null) {
            return Diagnosis.Check.skipped(name, "the server's Date header cannot be read (" + date + ")");
        }
        long skew = now.getEpochSecond() - theirs.getEpochSecond();
        String found = skew == 0 ? "the same as the server's (within a second)"
                : Math.abs(skew) + " s " + (skew > 0 ? "ahead of" : "behind") + " the server's";
        boolean tooFar = skew > MAX_CLOCK_AHEAD_SECONDS || skew < -MAX_CLOCK_BEHIND_SECONDS;
        if (tooFar && auth != NhsAuthPattern.SIGNED_JWT) {
            return Diagnosis.Check.passed(name, "this machine's clock is " + found + "; only a signed-jwt assertion would mind");
        }
        if (tooFar) {
            return Diagnosis.Check.failed(name, NhsClient.ExitCode.TOKEN_REFUSED, "this machine's clock is " + found
                    + " (its Date: " + date + "): the token endpoint would refuse the assertion's exp",
                    "sync the clock (e.g. timedatectl set-ntp true)");
        }
        return Diagnosis.Check.passed(name, "this machine's clock is " + found);
    }

    private Diagnosis.Check token(String name) {
        if (auth != NhsAuthPattern.SIGNED_JWT) {
            return Diagnosis.Check.skipped(name, "auth " + auth.id() + " needs no token");
        }
        if (key == null || s.apiKey == null) {
            return Diagnosis.Check.skipped(name, "needs an API key and a usable private key (above)");
        }
        if (probe == null) {
            return Diagnosis.Check.skipped(name, "the token endpoint cannot be reached (above)");
        }
        try {
            AccessToken token = client().token();
            tokenGot = true;
            return Diagnosis.Check.passed(name, "a " + token.tokenType() + " token for " + token.expiresInSeconds()
                    + " s from " + target + (s.subjectToken == null ? "" : " for the ID token") + " (not shown)");
        } catch (TokenRequestException e) {
            return Diagnosis.Check.failed(name, e.exitCode(), e.message(names) + "; API key " + masked(s.apiKey)
                    + ", kid '" + kid + "'", e.hint(names));
        }
    }

    private NhsClient client;

    private NhsClient client() {
        if (client == null) {
            client = s.copy().auth(auth).build();
        }
        return client;
    }

    private Diagnosis.Check api(String name) {
        if (apiUrl == null) {
            return Diagnosis.Check.skipped(name, "no API URL given to call");
        }
        URI url = NhsSetting.checkUrl(apiUrl, "URL");
        if (auth == NhsAuthPattern.SIGNED_JWT && !tokenGot) {
            return Diagnosis.Check.skipped(name, "no token to call " + url + " with");
        }
        if (auth == NhsAuthPattern.API_KEY && s.apiKey == null) {
            return Diagnosis.Check.skipped(name, "no API key to call " + url + " with");
        }
        if (auth != NhsAuthPattern.SIGNED_JWT && probe == null) {
            return Diagnosis.Check.skipped(name, url.getHost() + " cannot be reached (above)");
        }
        long start = System.nanoTime();
        HttpResponse<byte[]> response = client().send(HttpRequest.newBuilder(url).GET());
        long ms = (System.nanoTime() - start) / 1_000_000;
        int status = response.statusCode();
        String found = "GET " + url + ": HTTP " + status + " in " + ms + " ms";
        if (status / 100 == 2) {
            return Diagnosis.Check.passed(name, found);
        }
        String body = NhsTokenEndpoint.firstLine(new String(response.body(), StandardCharsets.UTF_8));
        return Diagnosis.Check.failed(name, NhsClient.ExitCode.API_ERROR, found + (body.isEmpty() ? "" : " (" + body + ")"),
                status == 401 || status == 403
                        ? "check that the app is subscribed to this API and that it takes auth " + auth.id()
                                + " (" + said(NhsSetting.AUTH.named()) + "; see 'Which pattern?' in the README)"
                        : status == 404 ? "check the URL and " + said(NhsSetting.ENV.named())
                        : "the API refused the request; its answer is above");
    }

    /** An API key by its first four characters and length: enough to tell keys apart, not to use one. */
    static String masked(String apiKey) {
        return (apiKey.length() > 8 ? "'" + apiKey.substring(0, 4) + "…'" : "'…'") + " (" + apiKey.length() + " characters)";
    }
}
