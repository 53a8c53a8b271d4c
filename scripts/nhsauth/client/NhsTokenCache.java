package nhsauth.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.util.*;
import java.util.function.Consumer;

import com.nimbusds.jose.util.JSONObjectUtils;

/**
 * Access tokens kept across runs, one owner-only file per token URL, API key, kid, key thumbprint and (for an exchange)
 * subject token. A file not ours, not private, unreadable or for another key is ignored and replaced; a folder not the
 * user's alone is neither read nor written: a cache must never be a way to inject a token, nor to leak one.
 */
final class NhsTokenCache {
    private final Path dir;
    private final Consumer<String> notices;

    NhsTokenCache(Path dir, Consumer<String> notices) {
        this.dir = dir;
        this.notices = notices;
    }

    /** {@link #defaultDir(String, Map)} for this machine's OS. */
    static Path defaultDir(Map<String, String> vars) {
        return defaultDir(System.getProperty("os.name"), vars);
    }

    /**
     * Each platform's cache folder: {@code %LOCALAPPDATA%\nhs-auth} on Windows, {@code ~/Library/Caches/nhs-auth} on
     * macOS, else {@code $XDG_CACHE_HOME/nhs-auth} (if absolute, as the XDG spec says) or {@code $HOME/.cache/nhs-auth}.
     * Home is {@code HOME} as shells mean it; Java's {@code user.home} only when it is unset.
     */
    static Path defaultDir(String osName, Map<String, String> vars) {
        String os = osName == null ? "" : osName.toLowerCase(Locale.ROOT);
        if (os.startsWith("windows")) {
            String local = NhsSetting.blankToNull(vars.get("LOCALAPPDATA"));
            if (local != null) {
                return Path.of(local, "nhs-auth");
            }
            String profile = NhsSetting.blankToNull(vars.get("USERPROFILE"));
            return Path.of(profile != null ? profile : System.getProperty("user.home"), "AppData", "Local", "nhs-auth");
        }
        String home = NhsSetting.blankToNull(vars.get("HOME"));
        String base = home != null ? home : System.getProperty("user.home");
        if (os.startsWith("mac")) {
            return Path.of(base, "Library", "Caches", "nhs-auth");
        }
        String xdg = NhsSetting.blankToNull(vars.get("XDG_CACHE_HOME"));
        if (xdg != null && Path.of(xdg).isAbsolute()) {
            return Path.of(xdg, "nhs-auth");
        }
        return Path.of(base, ".cache", "nhs-auth");
    }

    /** Deletes every cached token in {@code dir}, refused as reading and writing are; returns how many. */
    static int clear(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return 0;
        }
        String problem = NhsFiles.privacyProblem(dir, true);
        if (problem != null) {
            throw new UsageException("not clearing the token cache in " + dir + ": " + problem
                    + ", so no run uses it: check " + NhsSetting.TOKEN_CACHE_DIR.named() + ", or clear it yourself");
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

    /** The hash that keys a token: an exchange's subject token is in it, and so never stored in clear. */
    static String keyOf(String tokenUrl, String apiKey, String kid, String thumbprint, String subjectToken) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest((String.join("\n", tokenUrl, apiKey, kid, thumbprint)
                    + (subjectToken == null ? "" : "\n" + subjectToken)).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Path fileFor(String key) {
        return dir.resolve("token-" + key.substring(0, 32) + ".json");
    }

    AccessToken read(String tokenUrl, String apiKey, String kid, String thumbprint, String subjectToken) {
        String key = keyOf(tokenUrl, apiKey, kid, thumbprint, subjectToken);
        try {
            byte[] bytes = NhsFiles.privacyProblem(dir, true) == null ? NhsFiles.readIfPrivate(fileFor(key), 16_384) : null;
            if (bytes == null) {
                return null;
            }
            Map<String, Object> json = JSONObjectUtils.parse(new String(bytes, StandardCharsets.UTF_8));
            String token = JSONObjectUtils.getString(json, "access_token");
            long expiresIn = JSONObjectUtils.getLong(json, "expires_in");
            return token == null || !key.equals(json.get("key")) || !NhsTokenEndpoint.usableLifetime(expiresIn) ? null
                    : new AccessToken(token, String.valueOf(json.get("token_type")), expiresIn,
                            JSONObjectUtils.getLong(json, "issued_at"), JSONObjectUtils.getString(json, "refresh_token"),
                            json.get("refresh_token_expires_in") instanceof Number n ? n.longValue() : 0,
                            JSONObjectUtils.getString(json, "issued_token_type"));
        } catch (IOException | java.text.ParseException | RuntimeException e) {
            return null;
        }
    }

    void write(String tokenUrl, String apiKey, String kid, String thumbprint, String subjectToken, AccessToken token) {
        String key = keyOf(tokenUrl, apiKey, kid, thumbprint, subjectToken);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("key", key);
        json.put("token_url", tokenUrl);
        json.put("kid", kid);
        json.put("access_token", token.value());
        json.put("token_type", token.tokenType());
        json.put("expires_in", token.expiresInSeconds());
        json.put("issued_at", token.issuedAtMillis());
        if (token.refreshToken() != null) { // an exchanged token's
            json.put("refresh_token", token.refreshToken());
            json.put("refresh_token_expires_in", token.refreshTokenExpiresInSeconds());
            json.put("issued_token_type", token.issuedTokenType());
        }
        try {
            NhsFiles.createFolders(dir);
            String problem = NhsFiles.privacyProblem(dir, true);
            if (problem != null) {
                notices.accept("warning: not using the token cache in " + dir + ": " + problem
                        + "; make it yours alone (e.g. chmod 700) or choose another token cache folder;"
                        + " the next run fetches a new token");
                return;
            }
            try (var staged = NhsFiles.StagedFile.stage(fileFor(key), NhsJson.compact(json).getBytes(StandardCharsets.UTF_8), true)) {
                staged.commit(true);
            }
            // No token lives over a day (NhsTokenEndpoint.usableLifetime): an older file is a leftover.
            try (var files = Files.newDirectoryStream(dir, "token-*.json")) {
                for (Path f : files) {
                    if (Files.getLastModifiedTime(f, LinkOption.NOFOLLOW_LINKS).toMillis() < System.currentTimeMillis() - 86_400_000L) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // The token is good; only its reuse is lost.
            notices.accept("warning: cannot write the token cache in " + dir + " (" + NhsFiles.reason(e)
                    + "); the next run fetches a new token");
        }
    }
}
