//SOURCES NhsClient.java

package nhsauth.client;

import static nhsauth.client.Diagnosis.Check.*;
import static nhsauth.client.NhsClient.ExitCode.*;

import java.net.*;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.security.cert.*;
import java.time.Instant;
import java.util.*;

import javax.net.ssl.SSLSession;

import com.nimbusds.jose.jwk.JWKSet;

import nhsauth.client.Diagnosis.Check;

/**
 * The chain from settings to an API answer, checked link by link; every check reports whatever failed
 * before it, or says why it was skipped. Nothing secret is reported: the API key only by its first characters.
 */
final class NhsDoctor {
    /** The endpoint takes an exp at most 310 s ahead of its clock; behind it, the assertion has expired on arrival. */
    private static final long MAX_CLOCK_AHEAD_SECONDS = 310 - NhsClient.ASSERTION_LIFETIME_SECONDS;
    private static final long MAX_CLOCK_BEHIND_SECONDS = NhsClient.ASSERTION_LIFETIME_SECONDS;

    private final NhsClient.Builder s;
    private final String jwks;
    private final String apiUrl;
    private final NhsSetting.Words names;
    private final NhsAuthPattern auth;
    private final List<Check> checks = new ArrayList<>();

    // What earlier checks learnt, for the later ones.
    private NhsSigningKey key;
    private String kid;
    private URI target;
    private NhsProxies.Endpoint proxy; // null: direct
    private InetAddress address;
    private boolean connected;
    private HttpResponse<byte[]> probe;
    private boolean tokenGot;
    private NhsClient client;

    private NhsDoctor(NhsClient.Builder settings, String jwks, String apiUrl) {
        // The doctor reports; it neither prints notices nor reuses cached tokens.
        this.s = settings.notices(null).tokenCache(null);
        this.jwks = jwks;
        this.apiUrl = apiUrl;
        this.names = settings.settingNames;
        this.auth = settings.auth != null ? settings.auth : NhsAuthPattern.defaultFor(settings.env, settings.tokenUrl != null);
    }

    static List<Check> run(NhsClient.Builder settings, String jwks, String apiUrl) {
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
        Check run(String name) throws Exception;
    }

    /** A check that throws becomes a failure with its message: one check's fault never stops the rest. */
    private void check(String name, Step step) {
        try {
            checks.add(step.run(name));
        } catch (NhsAuthException e) {
            checks.add(failed(name, e.exitCode(), e.message(names), e.hint(names)));
        } catch (Exception e) {
            checks.add(failed(name, INTERNAL, "unexpected: " + NhsSetting.oneLine(String.valueOf(e)),
                    "please report this with the output of " + said(NhsSetting.TRACE.named())));
        }
    }

    private String said(String text) {
        return NhsSetting.render(text, names);
    }

    private Check java(String name) {
        Runtime.Version v = Runtime.version();
        String found = "Java " + v + " (" + System.getProperty("java.vendor", "unknown vendor") + "), nhs-auth "
                + NhsClient.VERSION;
        return v.feature() >= 17 ? passed(name, found) : failed(name, USAGE, found, "install a JDK 17 or newer");
    }

    private Check apiKey(String name) {
        if (auth == NhsAuthPattern.NONE) {
            return skipped(name, "not needed with auth none");
        }
        if (s.apiKey == null) {
            return failed(name, USAGE, "no API key",
                    said(NhsSetting.API_KEY.action() + " to your app's key from the developer portal"));
        }
        return passed(name, masked(s.apiKey) + ", sent as "
                + (auth == NhsAuthPattern.API_KEY ? "the apikey header" : "iss and sub of the client assertion"));
    }

    private Check key(String name) {
        if (auth != NhsAuthPattern.SIGNED_JWT) {
            return skipped(name, "not needed with auth " + auth.id());
        }
        if (s.privateKeyFile == null) {
            return failed(name, USAGE, "no private key",
                    said(NhsSetting.PRIVATE_KEY.action() + " to your key's PEM file (generate-keys makes one)"));
        }
        NhsClient.KeyId keyId = s.keyId();
        String[] warning = {""};
        // NhsSigningKey refuses a key too short to sign with, as get-token would.
        key = new NhsSigningKey(NhsKeys.readPrivateKey(s.privateKeyFile, s.passphrase, w -> warning[0] = "; " + w));
        kid = keyId.value();
        String from = keyId.given() ? "given" : keyId.fromFileName() ? "from the file name" : "the " + s.env.id() + " default";
        int bits = key.bits();
        return passed(name, s.privateKeyFile + ": RSA " + bits + " bits"
                + (bits < NhsKeys.RECOMMENDED_BITS ? " (NHS guidance asks for " + NhsKeys.RECOMMENDED_BITS + ")" : "")
                + ", kid '" + kid + "' (" + from + "), thumbprint " + key.thumbprint() + warning[0]);
    }

    private Check jwks(String name) {
        if (jwks == null) {
            return skipped(name, "no JWKS given to compare the key with");
        }
        if (key == null) {
            return skipped(name, "no usable private key to compare");
        }
        JWKSet set = NhsKeys.loadJwks(jwks, s.timeout, s.caCertificates);
        NhsKeys.Mismatch mismatch = NhsKeys.mismatch(key.publicKey(), kid, set, jwks);
        return mismatch == null ? passed(name, "kids in " + jwks + ": " + String.join(", ", set.getKeys().stream()
                .map(k -> k.getKeyID() + (NhsKeys.thumbprint(k).equals(key.thumbprint()) ? " (this key)" : "")).toList()))
                : failed(name, USAGE, said(mismatch.problem()), said(mismatch.fix()));
    }

    /** The proxy the library will use for the first URL of the chain, and why: read through its own rules. */
    private Check proxy(String name) {
        String url = auth == NhsAuthPattern.SIGNED_JWT
                ? (s.tokenUrl != null ? NhsSetting.checkUrl(s.tokenUrl, said(NhsSetting.TOKEN_URL.named())).toString()
                        : s.env.tokenUrl())
                : apiUrl != null ? apiUrl : s.env.baseUrl();
        target = NhsSetting.checkUrl(url, "URL");
        NhsProxies proxies = new NhsProxies(s.proxyVariables);
        proxy = proxies.endpointFor(target);
        boolean https = "https".equalsIgnoreCase(target.getScheme());
        String variable = https ? setVariable("https_proxy", "HTTPS_PROXY") : setVariable("http_proxy", "HTTP_PROXY");
        String what = (auth == NhsAuthPattern.SIGNED_JWT ? "token endpoint " : "") + target;
        if (proxy != null) {
            return passed(name, what + " through the proxy " + proxy.address() + " (" + variable
                    + (proxy.hasCredentials() ? ", with credentials" : "") + ")");
        }
        if (variable != null) {
            return passed(name, what + " direct: " + (proxies.bypassed(target) ? setVariable("no_proxy", "NO_PROXY")
                    + " matches " + target.getHost() : "loopback is never proxied") + " (" + variable + " is set)");
        }
        return passed(name, what + " direct (no " + (https ? "HTTPS_PROXY" : "HTTP_PROXY") + " set)");
    }

    private String setVariable(String lower, String upper) {
        Map<String, String> vars = s.proxyVariables;
        return NhsSetting.blankToNull(vars.get(lower)) != null ? lower
                : NhsSetting.blankToNull(vars.get(upper)) != null ? upper : null;
    }

    /** Through a proxy the proxy resolves the target's name: what this machine must find and reach is the proxy. */
    private InetSocketAddress firstHop() {
        return proxy == null ? InetSocketAddress.createUnresolved(target.getHost(), NhsProxies.port(target))
                : InetSocketAddress.createUnresolved(proxy.host(), proxy.port());
    }

    private Check dns(String name) {
        if (target == null) {
            return skipped(name, "no URL to look up");
        }
        String host = firstHop().getHostString();
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            address = all[0];
            return passed(name, host + " is " + address.getHostAddress()
                    + (all.length > 1 ? " (and " + (all.length - 1) + " more)" : ""));
        } catch (UnknownHostException e) {
            return failed(name, NETWORK, "cannot resolve " + host, "check the host name, your DNS, or HTTPS_PROXY / NO_PROXY");
        }
    }

    private Check connect(String name) throws Exception {
        if (address == null) {
            return skipped(name, "no address to connect to");
        }
        InetSocketAddress to = new InetSocketAddress(address, firstHop().getPort());
        String shown = firstHop().getHostString() + ":" + to.getPort() + (proxy == null ? "" : " (the proxy)");
        long start = System.nanoTime();
        try (Socket socket = new Socket()) {
            socket.connect(to, (int) Math.min(Integer.MAX_VALUE, s.timeout.toMillis()));
        } catch (SocketTimeoutException e) {
            return failed(name, NETWORK, "connecting to " + shown + " timed out after " + s.timeout.toSeconds() + " s",
                    "check the network or proxy, or a firewall; " + said(NhsSetting.TIMEOUT.named()) + " sets the limit");
        } catch (java.io.IOException e) {
            return failed(name, NETWORK, "cannot connect to " + shown + " (" + NhsSetting.oneLine(e.getMessage()) + ")",
                    proxy == null ? "check the URL and that the server is running (for the local environment: mock-server)"
                            : "check HTTPS_PROXY / HTTP_PROXY, or list the host in NO_PROXY");
        }
        connected = true;
        return passed(name, shown + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    }

    /** One request through the library's own transport: its handshake is the TLS check, its Date the clock's. */
    private HttpResponse<byte[]> probe() {
        if (probe == null) {
            NhsClient client = s.copy().auth(NhsAuthPattern.NONE).subjectToken(null).build();
            probe = client.send(HttpRequest.newBuilder(target).GET().header("Accept", "application/json"));
        }
        return probe;
    }

    private Check tls(String name) throws Exception {
        if (!connected) {
            return skipped(name, "no connection to shake hands over");
        }
        if (!"https".equalsIgnoreCase(target.getScheme())) {
            probe();
            return skipped(name, target.getScheme() + "://" + target.getAuthority() + " is plain HTTP");
        }
        SSLSession session = probe().sslSession().orElse(null);
        if (session == null) {
            return passed(name, "handshake done (no session details)");
        }
        X509Certificate[] chain = Arrays.stream(session.getPeerCertificates()).map(c -> (X509Certificate) c)
                .toArray(X509Certificate[]::new);
        X509Certificate leaf = chain[0];
        String trust = s.caCertificates == null ? "trusted by the JDK's CAs"
                : jdkTrusts(chain) ? "trusted by the JDK's CAs (" + said(NhsSetting.CA_CERT.named()) + " not needed)"
                : "trusted through " + said(NhsSetting.CA_CERT.named()) + " (the JDK's CAs alone do not)";
        return passed(name, session.getProtocol() + " with " + leaf.getSubjectX500Principal().getName()
                + ", issued by " + leaf.getIssuerX500Principal().getName() + "; " + trust);
    }

    private static boolean jdkTrusts(X509Certificate[] chain) throws Exception {
        try {
            // "UNKNOWN" is what TLS 1.3 passes: no key-exchange type to hold the certificate to.
            NhsTls.jdkTrust().checkServerTrusted(chain, "UNKNOWN");
            return true;
        } catch (CertificateException e) {
            return false;
        }
    }

    private Check clock(String name) {
        if (!connected || probe == null) {
            return skipped(name, "no answer to read the server's time from");
        }
        Instant now = Instant.now();
        String date = probe.headers().firstValue("Date").orElse(null);
        if (date == null) {
            return skipped(name, "the server sent no Date header to compare with");
        }
        Instant theirs = NhsHttp.parseDate(date);
        if (theirs == null) {
            return skipped(name, "the server's Date header cannot be read (" + date + ")");
        }
        long skew = now.getEpochSecond() - theirs.getEpochSecond();
        String found = skew == 0 ? "the same as the server's (within a second)"
                : Math.abs(skew) + " s " + (skew > 0 ? "ahead of" : "behind") + " the server's";
        boolean tooFar = skew > MAX_CLOCK_AHEAD_SECONDS || skew < -MAX_CLOCK_BEHIND_SECONDS;
        if (tooFar && auth != NhsAuthPattern.SIGNED_JWT) {
            return passed(name, "this machine's clock is " + found + "; only a signed-jwt assertion would mind");
        }
        if (tooFar) {
            return failed(name, TOKEN_REFUSED, "this machine's clock is " + found + " (its Date: " + date
                    + "): the token endpoint would refuse the assertion's exp", "sync the clock (e.g. timedatectl set-ntp true)");
        }
        return passed(name, "this machine's clock is " + found);
    }

    private Check token(String name) {
        if (auth != NhsAuthPattern.SIGNED_JWT) {
            return skipped(name, "auth " + auth.id() + " needs no token");
        }
        if (key == null || s.apiKey == null) {
            return skipped(name, "needs an API key and a usable private key (above)");
        }
        if (probe == null) {
            return skipped(name, "the token endpoint cannot be reached (above)");
        }
        try {
            AccessToken token = client().token();
            tokenGot = true;
            return passed(name, "a " + token.tokenType() + " token for " + token.expiresInSeconds() + " s from " + target
                    + (s.subjectToken == null ? "" : " for the ID token") + " (not shown)");
        } catch (TokenRequestException e) {
            return failed(name, e.exitCode(), e.message(names) + "; API key " + masked(s.apiKey) + ", kid '" + kid + "'",
                    e.hint(names));
        }
    }

    private NhsClient client() {
        if (client == null) {
            client = s.copy().auth(auth).build();
        }
        return client;
    }

    private Check api(String name) {
        if (apiUrl == null) {
            return skipped(name, "no API URL given to call");
        }
        URI url = NhsSetting.checkUrl(apiUrl, "URL");
        if (auth == NhsAuthPattern.SIGNED_JWT && !tokenGot) {
            return skipped(name, "no token to call " + url + " with");
        }
        if (auth == NhsAuthPattern.API_KEY && s.apiKey == null) {
            return skipped(name, "no API key to call " + url + " with");
        }
        if (auth != NhsAuthPattern.SIGNED_JWT && probe == null) {
            return skipped(name, url.getHost() + " cannot be reached (above)");
        }
        long start = System.nanoTime();
        HttpResponse<byte[]> response = client().send(HttpRequest.newBuilder(url).GET());
        long ms = (System.nanoTime() - start) / 1_000_000;
        int status = response.statusCode();
        String found = "GET " + url + ": HTTP " + status + " in " + ms + " ms";
        if (status / 100 == 2) {
            return passed(name, found);
        }
        String body = NhsTokenEndpoint.firstLine(new String(response.body(), StandardCharsets.UTF_8));
        return failed(name, API_ERROR, found + (body.isEmpty() ? "" : " (" + body + ")"),
                status == 401 || status == 403
                        ? "check that the app is subscribed to this API and that it takes auth " + auth.id()
                                + " (" + said(NhsSetting.AUTH.named()) + "; see 'Which pattern?' in the README)"
                        : status == 404 ? "check the URL and " + said(NhsSetting.ENV.named())
                        : "the API refused the request; its answer is above");
    }

    /** An API key by its first four characters and length: enough to tell keys apart, not to use one. */
    private static String masked(String apiKey) {
        return (apiKey.length() > 8 ? "'" + apiKey.substring(0, 4) + "…'" : "'…'") + " (" + apiKey.length() + " characters)";
    }
}
