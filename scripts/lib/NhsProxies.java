import java.io.IOException;
import java.net.Authenticator;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case), read the way curl and Python's requests read them. */
final class NhsProxies extends ProxySelector {
    private final URI httpsProxy;
    private final URI httpProxy;
    private final List<String> noProxy;
    final Authenticator credentials;

    NhsProxies(Map<String, String> vars) {
        this.httpsProxy = proxyUri(first(vars, "https_proxy", "HTTPS_PROXY"), "HTTPS_PROXY");
        this.httpProxy = proxyUri(first(vars, "http_proxy", "HTTP_PROXY"), "HTTP_PROXY");
        String list = first(vars, "no_proxy", "NO_PROXY");
        this.noProxy = list == null ? List.of() : Arrays.stream(list.split("[,\\s]+")).map(String::trim)
                .filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toList());
        this.credentials = authenticator(httpsProxy, httpProxy);
    }

    private static String first(Map<String, String> vars, String lower, String upper) {
        String v = NhsSetting.blankToNull(vars.get(lower));
        return v != null ? v : NhsSetting.blankToNull(vars.get(upper));
    }

    private static URI proxyUri(String value, String name) {
        if (value == null) {
            return null;
        }
        try {
            URI uri = new URI(value.contains("://") ? value : "http://" + value);
            if (uri.getHost() == null) {
                throw new URISyntaxException(value, "no host");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new NhsClient.UsageException(name + " '" + value + "' is not a proxy URL: use http://host:port");
        }
    }

    private static Authenticator authenticator(URI... proxies) {
        for (URI p : proxies) {
            if (p != null && p.getUserInfo() != null) {
                String[] parts = p.getUserInfo().split(":", 2);
                String user = URLDecoder.decode(parts[0], StandardCharsets.UTF_8);
                char[] pass = parts.length > 1 ? URLDecoder.decode(parts[1], StandardCharsets.UTF_8).toCharArray() : new char[0];
                return new Authenticator() {
                    @Override
                    protected PasswordAuthentication getPasswordAuthentication() {
                        return getRequestorType() == RequestorType.PROXY ? new PasswordAuthentication(user, pass) : null;
                    }
                };
            }
        }
        return null;
    }

    @Override
    public List<Proxy> select(URI uri) {
        URI proxy = "https".equalsIgnoreCase(uri.getScheme()) ? httpsProxy : httpProxy;
        if (proxy == null || bypassed(uri)) {
            return List.of(Proxy.NO_PROXY);
        }
        int port = proxy.getPort() > 0 ? proxy.getPort() : "https".equalsIgnoreCase(proxy.getScheme()) ? 443 : 80;
        return List.of(new Proxy(Proxy.Type.HTTP,
                InetSocketAddress.createUnresolved(proxy.getHost(), port)));
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
    public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
        // Nothing to fall back to: the failure is reported by the request itself.
    }
}

