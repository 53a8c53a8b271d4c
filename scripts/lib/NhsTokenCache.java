import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import com.nimbusds.jose.util.JSONObjectUtils;

/**
 * Access tokens kept across runs, one owner-only file per token URL + API key + kid. A file
 * that is not ours, not private, unreadable or for another key is ignored and replaced: a
 * cache must never be a way to inject a token.
 */
final class NhsTokenCache {
    private final Path dir;
    private final Consumer<String> notices;

    NhsTokenCache(Path dir, Consumer<String> notices) {
        this.dir = dir;
        this.notices = notices;
    }

    /** {@code $XDG_CACHE_HOME/nhs-auth}, else {@code ~/.cache/nhs-auth}. */
    static Path defaultDir(Map<String, String> vars) {
        String xdg = NhsSetting.blankToNull(vars.get("XDG_CACHE_HOME"));
        Path base = xdg != null ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("nhs-auth");
    }

    /** Deletes every cached token in {@code dir}; returns how many. */
    static int clear(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
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
            byte[] hash = MessageDigest.getInstance("SHA-256")
                    .digest((tokenUrl + "\n" + apiKey + "\n" + kid).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Path fileFor(String key) {
        return dir.resolve("token-" + key.substring(0, 32) + ".json");
    }

    NhsClient.AccessToken read(String tokenUrl, String apiKey, String kid) {
        String key = keyOf(tokenUrl, apiKey, kid);
        Path file = fileFor(key);
        try {
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)
                    || !Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS).equals(NhsFiles.OWNER_ONLY)
                    || !Files.getOwner(file, LinkOption.NOFOLLOW_LINKS).getName()
                            .equals(System.getProperty("user.name"))
                    || Files.size(file) > 16_384) {
                return null;
            }
            Map<String, Object> json = JSONObjectUtils.parse(Files.readString(file, StandardCharsets.UTF_8));
            if (!key.equals(json.get("key")) || !(json.get("access_token") instanceof String)
                    || !(json.get("expires_in") instanceof Number) || !(json.get("issued_at") instanceof Number)) {
                return null;
            }
            return new NhsClient.AccessToken((String) json.get("access_token"), String.valueOf(json.get("token_type")),
                    ((Number) json.get("expires_in")).longValue(), ((Number) json.get("issued_at")).longValue());
        } catch (IOException | java.text.ParseException | RuntimeException e) {
            return null;
        }
    }

    void write(String tokenUrl, String apiKey, String kid, NhsClient.AccessToken token) {
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
            NhsFiles.writeAtomically(fileFor(key), NhsJson.compact(json).getBytes(StandardCharsets.UTF_8), true, true);
        } catch (IOException | RuntimeException e) {
            // The token is good; only its reuse is lost.
            notices.accept("warning: cannot write the token cache in " + dir + " (" + NhsSetting.oneLine(e.getMessage())
                    + "); the next run fetches a new token");
        }
    }
}

