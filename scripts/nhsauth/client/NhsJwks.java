package nhsauth.client;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;

/** Public keys as the NHS token endpoint reads them: JWKs, JWKS documents (files and URLs), thumbprints. */
public final class NhsJwks {
    private NhsJwks() {
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
        doc.put("keys", keys.stream().map(NhsJwks::jwkMembers).collect(Collectors.toList()));
        return NhsJson.pretty(doc) + "\n";
    }

    /** Reads a JWKS file; any problem is a {@link NhsClient.UsageException} naming the file. */
    public static JWKSet readJwksFile(Path file) {
        String text = NhsFiles.readText(file, "JWKS file");
        try {
            return JWKSet.parse(text);
        } catch (java.text.ParseException e) {
            throw new NhsClient.UsageException("'" + file + "' is not a valid JWKS (" + e.getMessage()
                    + "): expected {\"keys\": [ ... ]}");
        }
    }

    /**
     * A JWKS file as its owner wrote it, every member in order (top-level and per key, keys of types
     * we do not know included): the document a new key is added to, so nothing published is lost.
     * It must also read as a JWKS ({@link #readJwksFile}).
     */
    public static Map<String, Object> readJwksDocument(Path file) {
        readJwksFile(file);
        try {
            return com.nimbusds.jose.util.JSONObjectUtils.parse(NhsFiles.readText(file, "JWKS file"));
        } catch (java.text.ParseException e) {
            throw new NhsClient.UsageException("'" + file + "' is not a valid JWKS (" + e.getMessage()
                    + "): expected {\"keys\": [ ... ]}");
        }
    }

    /** The document's keys, each as written. */
    @SuppressWarnings("unchecked")
    public static List<Map<String, Object>> keysOf(Map<String, Object> document) {
        return (List<Map<String, Object>>) document.get("keys");
    }

    /** The document with {@code jwk} appended to its keys, everything else kept, as JWKS text. */
    public static String withKeyAdded(Map<String, Object> document, JWK jwk) {
        Map<String, Object> doc = new LinkedHashMap<>(document);
        List<Object> keys = new java.util.ArrayList<>(keysOf(document));
        keys.add(jwkMembers(jwk));
        doc.put("keys", keys);
        return NhsJson.pretty(doc) + "\n";
    }

    /**
     * A JWKS from a file or an http(s) URL (fetched as the NHS token endpoint fetches it, with
     * {@code User-Agent: APIM}, through the environment's proxy).
     *
     * @throws NhsClient.UsageException missing file, bad URL, a non-200 answer or not a JWKS
     * @throws NhsClient.NetworkException the URL cannot be reached
     */
    public static JWKSet loadJwks(String fileOrUrl, Duration timeout, Path caCertificates) {
        String source = fileOrUrl.trim();
        if (!source.matches("(?i)^[a-z][a-z0-9+.-]*://.*")) {
            return readJwksFile(Path.of(source));
        }
        URI uri = NhsSetting.checkUrl(source, "JWKS URL");
        NhsHttp http = new NhsHttp(timeout, caCertificates, System.getenv(), null);
        HttpResponse<byte[]> response = http.exchange(HttpRequest.newBuilder(uri).timeout(timeout)
                .header("User-Agent", "APIM").header("Accept", "application/json").GET().build(), "JWKS URL",
                NhsHttp.MAX_JWKS_BYTES);
        if (response.statusCode() != 200) {
            throw new NhsClient.UsageException("the JWKS URL " + source + " answered HTTP " + response.statusCode()
                    + ": the token endpoint could not fetch it either; publish the JWKS there");
        }
        try {
            return JWKSet.parse(new String(response.body(), StandardCharsets.UTF_8));
        } catch (java.text.ParseException e) {
            throw new NhsClient.UsageException("the JWKS URL " + source + " does not serve a valid JWKS (" + e.getMessage()
                    + "): publish the JSON from generate-keys");
        }
    }
}
