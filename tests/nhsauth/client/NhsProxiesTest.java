package nhsauth.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** NO_PROXY as curl reads it, and the proxy each URL goes through; the proxies themselves are in ProxyTest. */
class NhsProxiesTest {

    @ParameterizedTest(name = "{1} for {0}: {2}")
    @CsvSource({
        "http://10.1.2.3/x, 10.0.0.0/8, true",
        "http://11.1.2.3/x, 10.0.0.0/8, false",
        "http://192.168.7.9/x, 192.168.0.0/16, true",
        "http://192.169.7.9/x, 192.168.0.0/16, false",
        "http://[::1]:8080/x, ::1/128, true",
        "http://[fd00::5]/x, fd00::/8, true",
        "http://[fe80::5]/x, fd00::/8, false",
        "http://10.1.2.3/x, 10.1.2.3, true",
        "http://api.int.example.org/x, .example.org, true",
        "http://api.int.example.org/x, example.org, true",
        "http://notexample.org/x, example.org, false",
        "http://host.example.org:8080/x, host.example.org:8080, true",
        "http://host.example.org:8081/x, host.example.org:8080, false",
        "http://[::1]:8080/x, [::1]:8080, true",
        "http://anything/x, *, true",
        "http://name.resolving.to.loopback/x, 127.0.0.0/8, false"})
    void noProxyReadsAsCurlAndRequestsReadIt(String url, String noProxy, boolean bypassed) {
        NhsProxies proxies = new NhsProxies(Map.of("HTTP_PROXY", "http://127.0.0.1:3128", "NO_PROXY", noProxy));
        assertEquals(bypassed, proxies.bypassed(URI.create(url)));
        assertEquals(bypassed ? null : "127.0.0.1:3128",
                proxies.endpointFor(URI.create(url)) == null ? null : proxies.endpointFor(URI.create(url)).address());
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({"http://127.0.0.1:8080/x, direct", "http://127.9.9.9/x, direct", "http://[::1]/x, direct",
        "http://localhost:8080/x, direct", "https://localhost/x, direct", "http://10.0.0.1/x, proxied",
        "http://[::2]/x, proxied", "https://api.service.nhs.example/x, proxied", "http://origin.test/x, proxied",
        "http://api.evil.localhost/x, proxied", "http://localhost./x, proxied", "http://2130706433/x, proxied"})
    void loopbackIsNeverProxiedAndIsTheOneHostPlainHttpMayCarryASecretTo(String url, String way) {
        NhsProxies proxies = new NhsProxies(Map.of("HTTP_PROXY", "http://127.0.0.1:3128", "HTTPS_PROXY", "http://127.0.0.1:3128"));
        assertEquals(way.equals("direct"), proxies.endpointFor(URI.create(url)) == null);
        assertEquals(way.equals("direct"), NhsSetting.isLoopback(URI.create(url).getHost()));
    }
}
