//DEPS com.google.jimfs:jimfs:1.3.1

package nhsauth.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.AclEntry;
import java.nio.file.attribute.AclEntryFlag;
import java.nio.file.attribute.AclEntryPermission;
import java.nio.file.attribute.AclEntryType;
import java.nio.file.attribute.AclFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import com.google.common.jimfs.Configuration;
import com.google.common.jimfs.Feature;
import com.google.common.jimfs.Jimfs;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Key files and the token cache on filesystems unlike the test machine's: Windows (ACLs, no POSIX
 * permissions), one without hard links (FAT, exFAT, some SMB shares) and one with neither
 * permissions nor ACLs. Each is an in-memory filesystem, so the same staging and commit code
 * generate-keys and the cache use runs here exactly as it would there.
 */
class WindowsFilesTest {

    /** Jimfs names principals by name; files it creates belong to whoever runs the tests. */
    static final String ME = System.getProperty("user.name");
    static final String URL = "https://int.api.service.nhs.uk/oauth2/token";

    static KeyPair first;
    static KeyPair second;

    @BeforeAll
    static void makeKeyPairs() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        first = generator.generateKeyPair();
        second = generator.generateKeyPair();
    }

    static FileSystem windows() {
        return Jimfs.newFileSystem(Configuration.windows().toBuilder()
                .setAttributeViews("basic", "owner", "dos", "acl", "user")
                .setDefaultAttributeValue("owner:owner", ME)
                .build());
    }

    /** POSIX permissions, but no hard links: createLink fails as it does on FAT or exFAT. */
    static FileSystem withoutHardLinks() {
        return Jimfs.newFileSystem(Configuration.unix().toBuilder()
                .setAttributeViews("basic", "owner", "posix", "unix")
                .setSupportedFeatures(Feature.SYMBOLIC_LINKS, Feature.FILE_CHANNEL, Feature.SECURE_DIRECTORY_STREAM)
                .setDefaultAttributeValue("owner:owner", ME)
                .build());
    }

    /** win-1's key files in {@code dir}, as generate-keys writes them: private key, public key, JWKS. */
    static List<Path> writeKeys(Path dir, KeyPair pair, boolean force) throws Exception {
        NhsKeys.writeKeyFiles(dir, "win-1", pair, null, force);
        return NhsKeys.keyFiles(dir, "win-1");
    }

    static List<AclEntry> acl(Path p) throws Exception {
        return Files.getFileAttributeView(p, AclFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).getAcl();
    }

    /** Exactly one entry, ALLOW, for the file's owner, who is the user running the tests, inheriting nothing. */
    static void assertOwnerOnly(Path p) throws Exception {
        List<AclEntry> acl = acl(p);
        assertEquals(1, acl.size(), () -> p + " ACL: " + acl);
        AclEntry entry = acl.get(0);
        assertEquals(AclEntryType.ALLOW, entry.type());
        assertEquals(Files.getOwner(p, LinkOption.NOFOLLOW_LINKS), entry.principal());
        assertEquals(ME, entry.principal().getName());
        assertEquals(Set.of(), entry.flags(), "no inheritance flags");
        assertTrue(entry.permissions().containsAll(Set.of(AclEntryPermission.READ_DATA, AclEntryPermission.WRITE_DATA)));
    }

    static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void keyFilesOnWindowsAreOwnerOnlyThroughAnAclAndNeverOverwrittenWithoutForce() throws Exception {
        try (FileSystem fs = windows()) {
            Path dir = Files.createDirectories(fs.getPath("C:\\Users\\me\\keys"));
            List<Path> files = writeKeys(dir, first, false);
            Path privateKey = files.get(0);

            assertEquals(List.of("win-1.json", "win-1.pem", "win-1.pem.pub"), names(dir), "no temp file left behind");
            assertTrue(Files.readString(privateKey).startsWith("-----BEGIN RSA PRIVATE KEY-----\n"));
            assertOwnerOnly(privateKey);
            assertEquals(List.of(), acl(files.get(1)), "public files keep what the folder gives them");
            assertEquals(List.of(), acl(files.get(2)));

            byte[] first = Files.readAllBytes(privateKey);
            FileAlreadyExistsException refused = assertThrows(FileAlreadyExistsException.class,
                    () -> writeKeys(dir, second, false));
            assertEquals(privateKey.toString(), refused.getFile());
            assertArrayEquals(first, Files.readAllBytes(privateKey));
            assertEquals(3, names(dir).size());

            writeKeys(dir, second, true);
            assertTrue(!java.util.Arrays.equals(first, Files.readAllBytes(privateKey)), "--force replaces");
            assertOwnerOnly(privateKey);
            assertEquals(3, names(dir).size());
        }
    }

    @Test
    void aTemporaryEndsAsItsTargetEndsSoTheIgnoreRulesForKeysCoverIt() throws Exception {
        try (FileSystem fs = windows()) {
            Path dir = Files.createDirectories(fs.getPath("C:\\keys"));
            for (String ending : List.of(".pem", ".pem.pub", ".json")) {
                try (var staged = NhsFiles.StagedFile.stage(dir.resolve("win-1" + ending), new byte[0], ending.equals(".pem"))) {
                    String name = staged.tmp().getFileName().toString();
                    assertTrue(name.matches("\\.win-1\\.\\d+\\.tmp" + java.util.regex.Pattern.quote(ending)), name);
                }
            }
        }
    }

    @Test
    void theTokenCacheOnWindowsKeepsOwnerOnlyFilesAndIgnoresForeignOrInheritedAclEntries() throws Exception {
        try (FileSystem fs = windows()) {
            Path dir = fs.getPath("C:\\Users\\me\\AppData\\Local\\nhs-auth");
            List<String> notices = new ArrayList<>();
            NhsTokenCache cache = new NhsTokenCache(dir, notices::add);
            AccessToken token = new AccessToken("windows-token", "Bearer", 599, System.currentTimeMillis());
            cache.write(URL, "key", "win-1", "thumb", null, token);
            assertEquals(List.of(), notices);
            assertOwnerOnly(dir);
            Path file = cache.fileFor(NhsTokenCache.keyOf(URL, "key", "win-1", "thumb", null));
            assertOwnerOnly(file);
            AccessToken hit = cache.read(URL, "key", "win-1", "thumb", null);
            assertNotNull(hit, "written, then read back");
            assertEquals("windows-token", hit.value());

            UserPrincipal me = Files.getOwner(file);
            UserPrincipal someoneElse = fs.getUserPrincipalLookupService().lookupPrincipalByName("someone-else");
            AclEntry mine = acl(file).get(0);
            AclEntry theirs = AclEntry.newBuilder().setType(AclEntryType.ALLOW).setPrincipal(someoneElse)
                    .setPermissions(AclEntryPermission.READ_DATA).build();
            setAcl(file, List.of(mine, theirs));
            assertNull(cache.read(URL, "key", "win-1", "thumb", null), "a file another user can read is not trusted");
            setAcl(file, List.of(AclEntry.newBuilder(mine).setFlags(AclEntryFlag.FILE_INHERIT).build()));
            assertNull(cache.read(URL, "key", "win-1", "thumb", null), "an entry with inheritance flags is not trusted");
            setAcl(file, List.of(AclEntry.newBuilder(mine).setType(AclEntryType.DENY).build()));
            assertNull(cache.read(URL, "key", "win-1", "thumb", null));
            Files.setOwner(file, someoneElse);
            setAcl(file, List.of(AclEntry.newBuilder(mine).setPrincipal(someoneElse).build()));
            assertNull(cache.read(URL, "key", "win-1", "thumb", null), "someone else's file is not trusted");
            Files.setOwner(file, me);

            cache.write(URL, "key", "win-1", "thumb", null, token);
            assertOwnerOnly(file);
            assertNotNull(cache.read(URL, "key", "win-1", "thumb", null), "rewritten owner-only");

            setAcl(dir, List.of(acl(dir).get(0), theirs));
            byte[] before = Files.readAllBytes(file);
            assertNull(cache.read(URL, "key", "win-1", "thumb", null), "a folder another user can open is not trusted");
            cache.write(URL, "key", "win-1", "thumb", null, new AccessToken("other", "Bearer", 599, System.currentTimeMillis()));
            assertEquals(1, notices.size(), () -> "one warning: " + notices);
            assertTrue(notices.get(0).startsWith("warning: ") && notices.get(0).contains(dir.toString()), notices.get(0));
            assertArrayEquals(before, Files.readAllBytes(file), "nothing written into an untrusted folder");
            assertEquals(1, names(dir).size());
        }
    }

    static void setAcl(Path p, List<AclEntry> acl) throws Exception {
        Files.getFileAttributeView(p, AclFileAttributeView.class).setAcl(acl);
    }

    @Test
    void withoutHardLinksTheCommitStillNeverReplacesAnExistingFile() throws Exception {
        try (FileSystem fs = withoutHardLinks()) {
            Path dir = Files.createDirectories(fs.getPath("/keys"));
            Path existing = Files.writeString(dir.resolve("win-1.pem"), "precious");
            assertThrows(UnsupportedOperationException.class, () -> Files.createLink(dir.resolve("l"), existing),
                    "this filesystem really has no hard links");

            FileAlreadyExistsException refused = assertThrows(FileAlreadyExistsException.class,
                    () -> writeKeys(dir, first, false));
            assertEquals(existing.toString(), refused.getFile());
            assertEquals("precious", Files.readString(existing));
            assertEquals(List.of("win-1.pem"), names(dir), "the staged files are cleaned up, nothing else committed");

            Files.delete(existing);
            List<Path> files = writeKeys(dir, first, false);
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(files.get(0))));
            assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(files.get(1))));
            byte[] first = Files.readAllBytes(files.get(0));
            assertThrows(FileAlreadyExistsException.class, () -> writeKeys(dir, second, false));
            assertArrayEquals(first, Files.readAllBytes(files.get(0)));
            assertEquals(3, names(dir).size());
        }
    }

    @Test
    void aPrivateKeyIsNotWrittenWhereNeitherPermissionsNorAclsExist() throws Exception {
        try (FileSystem fs = Jimfs.newFileSystem(Configuration.unix().toBuilder().setAttributeViews("basic").build())) {
            Path dir = Files.createDirectories(fs.getPath("/stick"));
            UsageException refused = assertThrows(UsageException.class,
                    () -> writeKeys(dir, first, false));
            assertTrue(refused.getMessage().contains("win-1.pem") && refused.getMessage().contains("private"),
                    refused.getMessage());
            assertEquals(List.of(), names(dir), "nothing written, not even the public files");
        }
    }
}
