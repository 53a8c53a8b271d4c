import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --token-cache: reuse across runs, owner-only files, never trusting a file it did not write. */
class TokenCacheTest {

    @TempDir
    static Path keys;
    static Path pem;

    @TempDir
    Path cacheDir;

    @BeforeAll
    static void makeKey() {
        pem = TestFixture.key(keys, "cache-kid");
    }

    TestSupport.Result run(Object command, FakeServer tokenEndpoint, String... extra) {
        List<String> args = new ArrayList<>(List.of("--api-key", "k", "--private-key", pem.toString(),
                "--token-url", tokenEndpoint.url("/oauth2/token"), "--token-cache-dir", cacheDir.toString()));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(command, args.toArray(String[]::new));
    }

    @Test
    void aSecondCallWithinTheTokensLifeMakesNoTokenRequest() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("cached-" + n.incrementAndGet()));
             FakeServer api = new FakeServer(r -> FakeServer.Reply.json(200, "{}"))) {
            run(new CallApi(), tokens, "--token-cache", "--url", api.url("/a")).assertOk();
            run(new CallApi(), tokens, "--token-cache", "--url", api.url("/b")).assertOk();
            assertEquals(1, tokens.requests.size(), "the second run reuses the cached token");
            assertEquals("Bearer cached-1", api.requests.get(1).header("Authorization"));
            assertEquals("cached-1\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").assertOk().out());

            try (var files = Files.list(cacheDir)) {
                Path file = files.findFirst().orElseThrow();
                assertEquals("rw-------", TestSupport.posixMode(file));
            }
            assertEquals("cached-2\n", run(new GetToken(), tokens, "--format", "token").assertOk().out(),
                    "without --token-cache a new token is fetched");
            assertEquals("cached-3\n", run(new GetToken(), tokens, "--token-cache", "--no-token-cache", "--format", "token")
                    .assertOk().out());
            assertEquals(3, tokens.requests.size());
        }
    }

    @Test
    void differentKidsOrUrlsDoNotShareATokenAndClearEmptiesTheCache() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("t" + n.incrementAndGet()))) {
            assertEquals("t1\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());
            assertEquals("t2\n", run(new GetToken(), tokens, "--token-cache", "--kid", "other", "--format", "token").out());
            assertEquals("t1\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());
            TestSupport.Result cleared = TestSupport.runInProcess(new NhsAuth(), "cache", "clear", "--token-cache-dir",
                    cacheDir.toString()).assertOk();
            assertTrue(cleared.err().contains("removed 2 cached tokens"), cleared.err());
            assertEquals("t3\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());
        }
    }

    @Test
    void anotherKeyWithTheSameKidApiKeyAndUrlGetsItsOwnToken() throws Exception {
        Path otherPem = TestFixture.otherKey(Files.createDirectories(keys.resolve("other")), "cache-kid");
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("t" + n.incrementAndGet()))) {
            assertEquals("t1\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());
            assertEquals("t2\n", TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key", otherPem.toString(),
                    "--token-url", tokens.url("/oauth2/token"), "--token-cache-dir", cacheDir.toString(), "--token-cache",
                    "--format", "token").assertOk().out(), "the cached token is for another key: a wrong key must not hide");
        }
    }

    @Test
    void clearRefusesAFolderEveryOtherCommandRefuses() throws Exception {
        Path shared = Files.createDirectories(cacheDir.resolve("shared"));
        Path token = Files.writeString(shared.resolve("token-0123.json"), "{}");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        TestSupport.runInProcess(new NhsAuth(), "cache", "clear", "--token-cache-dir", shared.toString())
                .assertOneLineError(2, shared.toString(), "others can open it (rwxrwxrwx)", "--token-cache-dir");
        assertTrue(Files.exists(token), "nothing deleted");
    }

    @Test
    void aTamperedOrLooselyPermittedCacheFileIsIgnoredAndReplaced() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("real-" + n.incrementAndGet()))) {
            run(new GetToken(), tokens, "--token-cache", "--format", "token").assertOk();
            Path file;
            try (var files = Files.list(cacheDir)) {
                file = files.findFirst().orElseThrow();
            }
            String original = Files.readString(file);

            Files.writeString(file, "{not json");
            assertEquals("real-2\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());

            Files.writeString(file, original.replace("real-1", "injected"));
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
            assertEquals("real-3\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out(),
                    "a world-writable cache file is not trusted");
            assertEquals("rw-------", TestSupport.posixMode(file));

            String current = Files.readString(file);
            Files.writeString(file, current.replaceAll("\"key\":\"[0-9a-f]+\"", "\"key\":\"" + "0".repeat(64) + "\""));
            assertEquals("real-4\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out(),
                    "a file for another key is not trusted");
            assertFalse(Files.readString(file).contains("injected"));
        }
    }

    @Test
    void anExpiringTokenIsNotReused() throws Exception {
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.json(200, "{\"access_token\": \"short-"
                + n.incrementAndGet() + "\", \"expires_in\": \"59\", \"token_type\": \"Bearer\", \"issued_at\": \""
                + System.currentTimeMillis() + "\"}"))) {
            assertEquals("short-1\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out());
            assertEquals("short-2\n", run(new GetToken(), tokens, "--token-cache", "--format", "token").out(),
                    "less than a minute left: fetch a new one");
        }
    }

    @Test
    void helpNamesEachPlatformsFolder() {
        // picocli may wrap anywhere, so the words are compared without whitespace
        for (String help : List.of(TestSupport.runInProcess(new NhsAuth(), "cache", "clear", "--help").assertOk().out(),
                TestSupport.runInProcess(new GetToken(), "--help").assertOk().out())) {
            String words = help.replaceAll("\\s+", "");
            assertTrue(words.contains("%LOCALAPPDATA%\\nhs-auth") && words.contains("~/Library/Caches/nhs-auth")
                    && words.contains("~/.cache/nhs-auth"), help);
        }
    }

    @Test
    void getTokenWithAnUntrustedFolderWarnsOnceAndStillPrintsTheToken() throws Exception {
        Path dir = Files.createDirectories(cacheDir.resolve("shared"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        AtomicInteger n = new AtomicInteger();
        try (FakeServer tokens = new FakeServer(r -> FakeServer.Reply.token("fresh-" + n.incrementAndGet()))) {
            for (int run = 1; run <= 2; run++) {
                TestSupport.Result r = TestSupport.runInProcess(new GetToken(), "--api-key", "k", "--private-key",
                        pem.toString(), "--token-url", tokens.url("/oauth2/token"), "--token-cache", "--token-cache-dir",
                        dir.toString(), "--format", "token").assertOk();
                assertEquals("fresh-" + run + "\n", r.out(), "a new token each run: the cache is not used");
                List<String> about = r.err().lines().filter(l -> l.contains(dir.toString())).toList();
                assertEquals(1, about.size(), r.err());
                assertTrue(about.get(0).startsWith("warning: "), r.err());
            }
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(0, files.count(), "nothing written into it");
            }
        }
    }
}
