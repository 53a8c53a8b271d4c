//RUNTIME_OPTIONS -Djdk.http.auth.tunneling.disabledSchemes=

package nhsauth.client;

import java.io.IOException;
import java.math.BigInteger;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.regex.Pattern;

/**
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case), read as curl and Python's requests read them. A proxy URL's
 * {@code user:password@} goes out as a {@code Proxy-Authorization} header on the request: the JDK sends it to the proxy
 * (in an https tunnel's CONNECT, never through it) and, unlike an {@code Authenticator}, leaves {@code Authorization}
 * alone. It copies Basic into a CONNECT only when {@code jdk.http.auth.tunneling.disabledSchemes} is empty as its
 * HTTP classes load, hence the JVM flag above: set from code it is too late, and changes the whole process.
 */
final class NhsProxies extends ProxySelector {
    static final String TUNNELING_PROPERTY = "jdk.http.auth.tunneling.disabledSchemes";
    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /** One proxy: where it is, and the Basic credentials it wants, if the URL gave them. */
    record Endpoint(String host, int port, String variable, String authorization) {
        /** {@code host:port}, as users write it. */
        String address() {
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        }

        boolean hasCredentials() {
            return authorization != null;
        }
    }

    private final Endpoint httpsProxy;
    private final Endpoint httpProxy;
    private final List<String> noProxy;

    NhsProxies(Map<String, String> vars) {
        this.httpsProxy = endpoint(first(vars, "https_proxy", "HTTPS_PROXY"), "HTTPS_PROXY");
        this.httpProxy = endpoint(first(vars, "http_proxy", "HTTP_PROXY"), "HTTP_PROXY");
        String list = first(vars, "no_proxy", "NO_PROXY");
        this.noProxy = list == null ? List.of() : Arrays.stream(list.split("[,\\s]+"))
                .filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).toList();
    }

    private static String first(Map<String, String> vars, String lower, String upper) {
        String v = NhsSetting.blankToNull(vars.get(lower));
        return v != null ? v : NhsSetting.blankToNull(vars.get(upper));
    }

    /** The proxy a request to {@code uri} goes through; null for direct, as loopback always is (as in the JDK and Go). */
    Endpoint endpointFor(URI uri) {
        Endpoint proxy = "https".equalsIgnoreCase(uri.getScheme()) ? httpsProxy : httpProxy;
        return proxy == null || bypassed(uri) || NhsSetting.isLoopback(uri.getHost()) ? null : proxy;
    }

    @Override
    public List<Proxy> select(URI uri) {
        Endpoint proxy = endpointFor(uri);
        return List.of(proxy == null ? Proxy.NO_PROXY
                : new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(proxy.host(), proxy.port())));
    }

    @Override
    public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
        // Nothing to fall back to: the failure is reported by the request itself.
    }

    private static Endpoint endpoint(String value, String variable) {
        if (value == null) {
            return null;
        }
        String url = value.contains("://") ? value : "http://" + value;
        URI uri;
        try {
            uri = new URI(url);
            if (uri.getHost() == null) {
                throw new URISyntaxException(url, "no host");
            }
        } catch (URISyntaxException e) {
            throw new UsageException(variable + " '" + masked(value) + "' is not a proxy URL: use "
                    + "http://host:port, or http://user:password@host:port with the password percent-encoded "
                    + "(% as %25, @ as %40, : as %3A, space as %20)");
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new UsageException(variable + " '" + masked(value) + "' is a " + scheme
                    + " proxy: only HTTP proxies are supported (http://host:port)");
        }
        return new Endpoint(unbracketed(uri.getHost()), port(uri), variable, basicAuthorization(uri.getRawUserInfo()));
    }

    /** RFC 3986 user info, each part percent-decoded exactly once: {@code %2B} is '+', a '+' stays '+'. */
    private static String basicAuthorization(String rawUserInfo) {
        if (rawUserInfo == null) {
            return null;
        }
        int colon = rawUserInfo.indexOf(':');
        String user = percentDecoded(colon < 0 ? rawUserInfo : rawUserInfo.substring(0, colon));
        String password = colon < 0 ? "" : percentDecoded(rawUserInfo.substring(colon + 1));
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** URLDecoder reads a form, where '+' is a space; java.net.URI has already refused a bad '%'. */
    private static String percentDecoded(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** A proxy URL fit to print: any {@code user:password@} becomes {@code ****@}. */
    static String masked(String proxyUrl) {
        int scheme = proxyUrl.indexOf("://");
        int start = scheme < 0 ? 0 : scheme + 3;
        int at = proxyUrl.lastIndexOf('@');
        return at < start ? proxyUrl : proxyUrl.substring(0, start) + "****" + proxyUrl.substring(at);
    }

    /**
     * NO_PROXY as curl (7.86+) and requests read it: '*', a host, a domain (leading '.' or '*.' optional) matching its
     * subdomains, an optional :port, and CIDR ranges, matching an address literal in the URL (never a resolved name).
     */
    boolean bypassed(URI uri) {
        String host = unbracketed(uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT));
        byte[] address = literalAddress(host);
        return noProxy.stream().anyMatch(entry -> matches(entry, host, port(uri), address));
    }

    /** Whether a NO_PROXY entry matches a URL's host, port, and address (null unless the host is a literal). */
    private static boolean matches(String entry, String host, int port, byte[] address) {
        if (entry.equals("*")) {
            return true;
        }
        int portAt = portSeparator(entry);
        if (portAt > 0 && Integer.parseInt(entry.substring(portAt + 1)) != port) {
            return false;
        }
        String name = unbracketed(portAt > 0 ? entry.substring(0, portAt) : entry);
        int slash = name.indexOf('/');
        if (slash > 0) {
            return address != null && inRange(address, name.substring(0, slash), name.substring(slash + 1));
        }
        byte[] entryAddress = literalAddress(name);
        if (address != null && entryAddress != null) {
            return Arrays.equals(address, entryAddress);
        }
        name = name.startsWith("*.") ? name.substring(2) : name.startsWith(".") ? name.substring(1) : name;
        return !name.isEmpty() && (host.equals(name) || host.endsWith("." + name));
    }

    /** The port a URL names, else its scheme's. */
    static int port(URI uri) {
        return uri.getPort() > 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
    }

    private static String unbracketed(String host) {
        return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    }

    /** Where ":port" starts in an entry ({@code host:80}, {@code [::1]:80}); -1 for none. */
    private static int portSeparator(String entry) {
        int colon = entry.lastIndexOf(':');
        if (colon <= 0 || !entry.substring(colon + 1).matches("\\d{1,5}")) {
            return -1;
        }
        boolean bracketed = entry.startsWith("[") && entry.charAt(colon - 1) == ']';
        return bracketed || entry.indexOf(':') == colon ? colon : -1;
    }

    private static boolean inRange(byte[] address, String network, String bits) {
        byte[] base = literalAddress(network);
        if (base == null || base.length != address.length || !bits.matches("\\d{1,3}")) {
            return false;
        }
        int hostBits = base.length * 8 - Integer.parseInt(bits);
        return hostBits >= 0 && new BigInteger(1, address).shiftRight(hostBits).equals(new BigInteger(1, base).shiftRight(hostBits));
    }

    /** The bytes of an IPv4 or IPv6 literal, without any DNS lookup; null for a host name. */
    static byte[] literalAddress(String host) {
        boolean v4 = IPV4.matcher(host).matches()
                && Arrays.stream(host.split("\\.")).allMatch(octet -> Integer.parseInt(octet) <= 255);
        if (!v4 && !(host.contains(":") && host.matches("[0-9a-f:.]+"))) {
            return null;
        }
        try {
            return InetAddress.getByName(host).getAddress();
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
