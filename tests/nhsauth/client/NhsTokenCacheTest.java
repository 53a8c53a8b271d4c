package nhsauth.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the token cache lives on each platform, and its folder: created private, and never
 * trusted (no read, no write) when it is someone else's, open to others or a symbolic link.
 */
class NhsTokenCacheTest {

    static final String URL = "https://int.api.service.nhs.uk/oauth2/token";

    @TempDir
    Path tmp;

    final List<String> notices = new ArrayList<>();

    NhsTokenCache cache(Path dir) {
        return new NhsTokenCache(dir, notices::add);
    }

    static AccessToken token(String value) {
        return new AccessToken(value, "Bearer", 599, System.currentTimeMillis());
    }

    /** A cache folder holding one good token, as a previous run left it. */
    Path cacheWithAToken() throws Exception {
        Path dir = tmp.resolve("cache");
        cache(dir).write(URL, "key", "kid", "thumb", null, token("good"));
        assertNotNull(cache(dir).read(URL, "key", "kid", "thumb", null));
        assertEquals(List.of(), notices);
        return dir;
    }

    static Map<String, String> snapshot(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.collect(java.util.stream.Collectors.toMap(f -> f.getFileName().toString(), f -> {
                try {
                    return Files.readString(f);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        }
    }

    /** Reads miss, a write is refused with one warning line naming the folder, and nothing in it changes. */
    void assertUntrusted(Path dir, Path shown, String why) throws Exception {
        Map<String, String> before = snapshot(dir);
        assertNull(cache(shown).read(URL, "key", "kid", "thumb", null), "read from " + why);
        cache(shown).write(URL, "key", "kid", "thumb", null, token("new"));
        assertEquals(1, notices.size(), () -> "one warning for " + why + ": " + notices);
        String warning = notices.get(0);
        assertTrue(warning.startsWith("warning: ") && warning.contains(shown.toString()) && !warning.contains("\n"), warning);
        assertTrue(warning.contains(why), () -> "names the problem '" + why + "': " + warning);
        assertEquals(before, snapshot(dir), "nothing written into " + dir);
    }

    @Test
    void theDefaultFolderFollowsEachPlatformsConvention() {
        String local = "C:\\Users\\alice\\AppData\\Local";
        assertEquals(Path.of(local, "nhs-auth"), NhsTokenCache.defaultDir("Windows 11",
                Map.of("LOCALAPPDATA", local, "HOME", "/home/alice", "XDG_CACHE_HOME", "/xdg")));
        assertEquals(Path.of("C:\\Users\\alice", "AppData", "Local", "nhs-auth"),
                NhsTokenCache.defaultDir("Windows Server 2022", Map.of("USERPROFILE", "C:\\Users\\alice")));
        assertEquals(Path.of("/Users/alice/Library/Caches/nhs-auth"),
                NhsTokenCache.defaultDir("Mac OS X", Map.of("HOME", "/Users/alice", "XDG_CACHE_HOME", "/xdg")));
        assertEquals(Path.of("/xdg/nhs-auth"),
                NhsTokenCache.defaultDir("Linux", Map.of("HOME", "/home/alice", "XDG_CACHE_HOME", "/xdg")));
        assertEquals(Path.of("/home/alice/.cache/nhs-auth"), NhsTokenCache.defaultDir("Linux", Map.of("HOME", "/home/alice")));
        assertEquals(Path.of("/home/alice/.cache/nhs-auth"),
                NhsTokenCache.defaultDir("FreeBSD", Map.of("HOME", "/home/alice", "XDG_CACHE_HOME", "relative/cache")),
                "XDG: a relative path is ignored");
        assertEquals(Path.of(System.getProperty("user.home"), ".cache", "nhs-auth"), NhsTokenCache.defaultDir("Linux", Map.of()),
                "user.home only when HOME is unset");
    }

    @Test
    void aTokenIsForTheKeyItWasGotWith() throws Exception {
        Path dir = cacheWithAToken();
        assertNull(cache(dir).read(URL, "key", "kid", "another key's thumbprint", null));
    }

    /** A file older than any token's life goes when a token is written; a client-credentials file has no refresh fields. */
    @Test
    void writingATokenClearsFilesOlderThanAnyTokensLife() throws Exception {
        Path dir = cacheWithAToken();
        Path leftover = Files.writeString(dir.resolve("token-0123456789abcdef0123456789abcdef.json"), "{}");
        Files.setLastModifiedTime(leftover, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 2 * 86_400_000L));
        cache(dir).write(URL, "key", "kid", "other thumb", null, token("second"));
        assertTrue(Files.notExists(leftover), "a two-day-old file is gone");
        assertNotNull(cache(dir).read(URL, "key", "kid", "thumb", null), "a live token stays");
        try (Stream<Path> files = Files.list(dir)) {
            assertTrue(files.allMatch(f -> !snapshotOf(f).contains("refresh")), "no refresh fields for client credentials");
        }
    }

    static String snapshotOf(Path f) {
        try {
            return Files.readString(f);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A lifetime the token endpoint's answer may not have (an earlier version cached such) is no token, not a crash. */
    @Test
    void aCachedLifetimeOutsideTheEndpointsRangeIsReadAsNoToken() throws Exception {
        Path dir = tmp.resolve("cache");
        for (long lifetime : new long[] {Long.MAX_VALUE, 1_000_000_000L, 0}) {
            cache(dir).write(URL, "key", "kid", "thumb", null, new AccessToken("t", "Bearer", lifetime, System.currentTimeMillis()));
            assertNull(cache(dir).read(URL, "key", "kid", "thumb", null), "expires_in " + lifetime);
        }
    }

    @Test
    void aMissingFolderAndTheFoldersAboveItAreCreatedPrivate() throws Exception {
        Path dir = tmp.resolve("a/b/nhs-auth");
        cache(dir).write(URL, "key", "kid", "thumb", null, token("t"));
        for (Path made : List.of(dir, dir.getParent(), dir.getParent().getParent())) {
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(made)), made.toString());
        }
        assertEquals("t", cache(dir).read(URL, "key", "kid", "thumb", null).value());
        assertEquals(List.of(), notices);
    }

    @Test
    void aFolderOthersCanOpenIsNotTrusted() throws Exception {
        Path dir = cacheWithAToken();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
        assertUntrusted(dir, dir, "rwxrwx---");
        notices.clear();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertUntrusted(dir, dir, "rwxr-xr-x");
        notices.clear();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        assertNotNull(cache(dir).read(URL, "key", "kid", "thumb", null), "private again, trusted again");
    }

    @Test
    void someoneElsesFolderIsNotTrusted() throws Exception {
        Path dir = cacheWithAToken();
        UserPrincipal other;
        try {
            other = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Files.setOwner(dir, other);
        } catch (java.io.IOException e) {
            assumeTrue(false, "cannot give a folder to another user here (not root?): " + e);
            return;
        }
        assertUntrusted(dir, dir, "nobody");
    }

    @Test
    void aSymlinkedFolderIsNotTrusted() throws Exception {
        Path real = cacheWithAToken();
        Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
        assertUntrusted(real, link, "symbolic link");
    }

    @Test
    void aSymlinkedCacheFileIsNotRead() throws Exception {
        Path real = cacheWithAToken();
        Path decoy = tmp.resolve("decoy");
        cache(decoy).write(URL, "key", "kid", "thumb", null, token("planted"));
        Path file = cache(real).fileFor(NhsTokenCache.keyOf(URL, "key", "kid", "thumb", null));
        Files.delete(file);
        Files.createSymbolicLink(file, cache(decoy).fileFor(NhsTokenCache.keyOf(URL, "key", "kid", "thumb", null)));
        assertNull(cache(real).read(URL, "key", "kid", "thumb", null), "a link is not followed, even to a good private file");
    }

}
