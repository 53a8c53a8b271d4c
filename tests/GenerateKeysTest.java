import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.List;
import java.util.Map;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;

import org.bouncycastle.asn1.pkcs.RSAPrivateKey;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.util.io.pem.PemReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** generate-keys in-process: files, formats, permissions, refusals. */
class GenerateKeysTest {

    @TempDir
    Path dir;

    static TestSupport.Result generate(String... args) {
        return TestSupport.runInProcess(new GenerateKeys(), args);
    }

    /** A fast key for tests that are not about the key size. */
    TestSupport.Result generateSmall(String... args) {
        String[] all = new String[args.length + 4];
        all[0] = "--output-dir";
        all[1] = dir.toString();
        all[2] = "--key-size";
        all[3] = "2048";
        System.arraycopy(args, 0, all, 4, args.length);
        return generate(all);
    }

    @Test
    void writesTheThreeFilesAsThePythonToolDidWith4096BitsByDefault() throws Exception {
        TestSupport.Result r = generate("--output-dir", dir.toString(), "--api-key", "ignored").assertOk();
        assertEquals("", r.out(), "text mode reports on stderr only");
        assertTrue(r.err().contains("NEXT STEPS"), r.err());

        Path pem = dir.resolve("int-1.pem");
        String privatePem = Files.readString(pem);
        assertTrue(privatePem.startsWith("-----BEGIN RSA PRIVATE KEY-----\n"), "PKCS#1 expected");
        assertEquals("rw-------", TestSupport.posixMode(pem));
        String publicPem = Files.readString(dir.resolve("int-1.pem.pub"));
        assertTrue(publicPem.startsWith("-----BEGIN PUBLIC KEY-----\n"), "SubjectPublicKeyInfo expected");

        RSAPrivateKey pkcs1 = readPkcs1(privatePem);
        assertEquals(4096, pkcs1.getModulus().bitLength());
        assertEquals(65537, pkcs1.getPublicExponent().intValueExact());

        RSAPublicKey spki = readSpki(publicPem);
        assertEquals(pkcs1.getModulus(), spki.getModulus());

        String jwksText = Files.readString(dir.resolve("int-1.json"));
        assertTrue(jwksText.startsWith("{\n  \"keys\": [\n    {\n      \"kty\": \"RSA\",\n      \"n\": \""), jwksText);
        List<String> members = jwksText.lines().map(String::trim).filter(l -> l.startsWith("\""))
                .map(l -> l.substring(1, l.indexOf('"', 1))).toList();
        assertEquals(List.of("keys", "kty", "n", "e", "alg", "kid", "use"), members, "Python tool's member order");
        RSAKey jwk = (RSAKey) JWKSet.parse(jwksText).getKeyByKeyId("int-1");
        assertEquals(pkcs1.getModulus(), jwk.getModulus().decodeToBigInteger());
        assertEquals("AQAB", jwk.getPublicExponent().toString());
        assertEquals("RS512", jwk.getAlgorithm().getName());
        assertEquals("sig", jwk.getKeyUse().identifier());
        assertFalse(jwksText.contains("="), "base64url without padding");
        assertTrue(r.err().contains(jwk.computeThumbprint().toString()), "thumbprint reported");
    }

    @Test
    void kidDefaultsToTheEnvironmentAndCanBeChosen() throws Exception {
        generateSmall("--env", "dev").assertOk();
        assertTrue(Files.exists(dir.resolve("dev-1.pem")));
        generateSmall("--env", "internal-qa", "--kid", "my-int-key-01").assertOk();
        assertTrue(Files.exists(dir.resolve("my-int-key-01.pem")));
        assertTrue(Files.readString(dir.resolve("my-int-key-01.json")).contains("\"kid\": \"my-int-key-01\""));
    }

    @Test
    void refusesToOverwriteAndLeavesEveryFileUntouched() throws Exception {
        generateSmall().assertOk();
        Map<String, byte[]> before = snapshot();
        generateSmall().assertOneLineError(2, "int-1.pem", "already exists", "--force");
        assertSnapshotEquals(before);

        // Any one of the three existing is enough to refuse all three.
        Files.delete(dir.resolve("int-1.pem"));
        Files.delete(dir.resolve("int-1.pem.pub"));
        generateSmall().assertOneLineError(2, "int-1.json", "--force");
        assertFalse(Files.exists(dir.resolve("int-1.pem")), "no file written when refusing");
    }

    @Test
    void forceReplacesTheKeyAndKeepsItOwnerOnly() throws Exception {
        generateSmall().assertOk();
        byte[] old = Files.readAllBytes(dir.resolve("int-1.pem"));
        generateSmall("--force").assertOk();
        assertFalse(java.util.Arrays.equals(old, Files.readAllBytes(dir.resolve("int-1.pem"))));
        assertEquals("rw-------", TestSupport.posixMode(dir.resolve("int-1.pem")));
        assertEquals("rw-r--r--", TestSupport.posixMode(dir.resolve("int-1.json")));
        try (var files = Files.list(dir)) {
            assertEquals(3, files.count(), "no temp file left behind");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"../escape", "a/b", "..", ".", "with space", "-x", "-rf", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})
    void rejectsAKidThatIsNotASafeFileName(String kid) throws Exception {
        generateSmall("--kid", kid).assertOneLineError(2, "invalid kid", "letters, digits");
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
    }

    @Test
    void rejectsAnUnknownEnvironmentListingTheValidOnes() {
        generateSmall("--env", "staging").assertOneLineError(2, "staging",
                "prod, int, dev, sandbox, ref, internal-dev, internal-qa, local");
    }

    @Test
    void keySizeBelow2048IsRefusedAndBelow4096Warned() throws Exception {
        generate("--output-dir", dir.toString(), "--key-size", "1024").assertOneLineError(2, "--key-size 1024", "4096");
        generate("--output-dir", dir.toString(), "--key-size", "lots").assertOneLineError(2, "--key-size", "lots");
        TestSupport.Result r = generateSmall().assertOk();
        assertTrue(r.err().contains("warning: a 2048-bit key is below the 4096 bits"), r.err());
    }

    @Test
    void createsAMissingOutputDirButNotOverAFile() throws Exception {
        Path nested = dir.resolve("a/b/c");
        generate("--output-dir", nested.toString(), "--key-size", "2048").assertOk();
        assertTrue(Files.exists(nested.resolve("int-1.pem")));
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        generate("--output-dir", file.toString(), "--key-size", "2048").assertOneLineError(2, "plain-file");
    }

    @Test
    void foldersItCreatesAreOwnerOnlyAndAnExistingOneOthersCanWriteIsWarned() throws Exception {
        generate("--output-dir", dir.resolve("a/b/.auth").toString(), "--key-size", "2048").assertOk();
        for (String folder : List.of("a", "a/b", "a/b/.auth")) {
            assertEquals("rwx------", TestSupport.posixMode(dir.resolve(folder)), folder);
        }
        Path open = Files.createDirectory(dir.resolve("open"));
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxr-x"));
        String err = generate("--output-dir", open.toString(), "--key-size", "2048").assertOk().err();
        assertTrue(err.lines().anyMatch(l -> l.startsWith("warning: others can write in --output-dir '" + open + "'")), err);
    }

    @Test
    void folderErrorsSayWhatIsWrongInWordsNotJavaClassNames() throws Exception {
        Path file = Files.writeString(dir.resolve("README.md"), "x");
        for (Path bad : List.of(file.resolve("keys"), Path.of("/proc/keys-here"))) {
            String err = generate("--output-dir", bad.toString(), "--key-size", "2048").assertOneLineError(2, bad.toString()).err();
            assertFalse(err.contains("java.") || err.contains("Exception"), err);
        }
        generate("--output-dir", file.resolve("keys").toString(), "--key-size", "2048").assertOneLineError(2, file + "' is in the way");
    }

    @Test
    void staleTemporariesOfItsOwnFilesGoAndOthersStay() throws Exception {
        List<String> stale = List.of(".int-1.123.tmp.pem", ".int-1.456.tmp.pem.pub", ".int-1.789.tmp.json");
        // Others: not this kid's, not a temporary, or one a run writing the same files right now holds.
        List<String> others = List.of(".int-1.x.1.tmp.pem", ".other.2.tmp.pem", ".int-1.3.tmp.pem.bak", ".int-1.4.tmp.pem");
        for (String name : java.util.stream.Stream.concat(stale.stream(), others.stream()).toList()) {
            Files.writeString(dir.resolve(name), "left by a killed run");
            if (!name.equals(".int-1.4.tmp.pem")) {
                Files.setLastModifiedTime(dir.resolve(name), java.nio.file.attribute.FileTime.fromMillis(0));
            }
        }
        generateSmall().assertOk();
        try (var files = Files.list(dir)) {
            assertEquals(java.util.Set.of("int-1.pem", "int-1.pem.pub", "int-1.json", ".int-1.x.1.tmp.pem", ".other.2.tmp.pem",
                    ".int-1.3.tmp.pem.bak", ".int-1.4.tmp.pem"), files.map(f -> f.getFileName().toString()).collect(java.util.stream.Collectors.toSet()));
        }
    }

    @Test
    void addToJwksThroughASymbolicLinkReplacesTheFileItNames() throws Exception {
        generateSmall("--kid", "old").assertOk();
        Path link = Files.createSymbolicLink(dir.resolve("published.json"), dir.resolve("old.json"));
        generateSmall("--kid", "new", "--add-to-jwks", link.toString()).assertOk();
        assertTrue(Files.isSymbolicLink(link), "the link stays a link");
        assertEquals(List.of("old", "new"), JWKSet.load(dir.resolve("old.json").toFile()).getKeys().stream()
                .map(k -> k.getKeyID()).toList());
    }

    @Test
    void nextStepsQuoteAPathForTheShell() throws Exception {
        Path spaced = dir.resolve("with space");
        String err = generate("--output-dir", spaced.toString(), "--key-size", "2048").assertOk().err();
        assertTrue(err.contains("--private-key '" + spaced.resolve("int-1.pem") + "'"), err);
        assertEquals("keys/int-1.pem", GenerateKeys.quoted(Path.of("keys/int-1.pem")));
        assertEquals("'it'\\''s/a b.pem'", GenerateKeys.quoted(Path.of("it's/a b.pem")));
        try (var windows = com.google.common.jimfs.Jimfs.newFileSystem(com.google.common.jimfs.Configuration.windows())) {
            assertEquals("\"C:\\Users\\Jo Bloggs\\int-1.pem\"", GenerateKeys.quoted(windows.getPath("C:\\Users\\Jo Bloggs\\int-1.pem")));
        }
    }

    @Test
    void jsonFormatPrintsPathsAndThumbprintOnStdout() throws Exception {
        TestSupport.Result r = generateSmall("--format", "json", "--kid", "k1").assertOk();
        Map<String, Object> json = TestSupport.parseJson(r.out());
        assertEquals("k1", json.get("kid"));
        assertEquals(dir.resolve("k1.pem").toString(), json.get("private_key"));
        assertEquals(dir.resolve("k1.pem.pub").toString(), json.get("public_key"));
        assertEquals(dir.resolve("k1.json").toString(), json.get("jwks"));
        RSAKey jwk = (RSAKey) JWKSet.load(dir.resolve("k1.json").toFile()).getKeys().get(0);
        assertEquals(jwk.computeThumbprint().toString(), json.get("thumbprint"));
        assertFalse(r.out().contains("PRIVATE KEY"), "the key itself is never printed");
    }

    @Test
    void addToJwksKeepsTheOtherKeysForRotation() throws Exception {
        generateSmall("--kid", "old").assertOk();
        Path published = dir.resolve("old.json");
        TestSupport.Result r = generateSmall("--kid", "new", "--add-to-jwks", published.toString()).assertOk();
        JWKSet set = JWKSet.load(published.toFile());
        assertEquals(List.of("old", "new"), set.getKeys().stream().map(k -> k.getKeyID()).toList());
        assertTrue(r.err().contains("Wait over an hour"), r.err());
        assertEquals("rw-r--r--", TestSupport.posixMode(published));

        byte[] before = Files.readAllBytes(published);
        generateSmall("--kid", "old", "--force", "--add-to-jwks", published.toString())
                .assertOneLineError(2, "already has a key with kid 'old'");
        assertArrayEquals(before, Files.readAllBytes(published));
    }

    @Test
    void addToJwksKeepsEveryMemberOfThePublishedDocumentInOrder() throws Exception {
        generateSmall("--kid", "old").assertOk();
        Map<String, Object> old = TestSupport.parseJson(Files.readString(dir.resolve("old.json")));
        @SuppressWarnings("unchecked")
        Map<String, Object> oldKey = ((List<Map<String, Object>>) old.get("keys")).get(0);
        String published = "{\"issuer\": \"https://example.org\", \"keys\": [{\"x-team\": \"identity\", \"kty\": \"RSA\", "
                + "\"kid\": \"old\", \"n\": \"" + oldKey.get("n") + "\", \"e\": \"" + oldKey.get("e") + "\", "
                + "\"x5t#S256\": \"abc\", \"meta\": {\"z\": 1, \"a\": [true, null, 2.5]}}, "
                + "{\"kty\": \"future-type\", \"kid\": \"future\", \"material\": \"xyz\"}], "
                + "\"cache\": {\"max-age\": 3600}}";
        Path jwks = Files.writeString(dir.resolve("published.json"), published);
        Map<String, Object> before = TestSupport.parseJson(published);

        TestSupport.Result r = generateSmall("--kid", "new", "--add-to-jwks", jwks.toString()).assertOk();
        Map<String, Object> after = TestSupport.parseJson(Files.readString(jwks));
        assertEquals(List.of("issuer", "keys", "cache"), List.copyOf(after.keySet()), "top-level members in order");
        assertEquals(before.get("issuer"), after.get("issuer"));
        assertEquals(before.get("cache"), after.get("cache"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> keysBefore = (List<Map<String, Object>>) before.get("keys");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> keysAfter = (List<Map<String, Object>>) after.get("keys");
        assertEquals(3, keysAfter.size(), "both keys kept, the unknown type too, and the new one appended");
        for (int i = 0; i < 2; i++) {
            assertEquals(keysBefore.get(i), keysAfter.get(i));
            assertEquals(List.copyOf(keysBefore.get(i).keySet()), List.copyOf(keysAfter.get(i).keySet()), "member order");
        }
        assertEquals("new", keysAfter.get(2).get("kid"));
        assertEquals(List.of("kty", "n", "e", "alg", "kid", "use"), List.copyOf(keysAfter.get(2).keySet()));
        assertTrue(r.err().contains("now holds 3 keys"), r.err());

        generateSmall("--kid", "future", "--add-to-jwks", jwks.toString())
                .assertOneLineError(2, "already has a key with kid 'future'");
    }

    @Test
    void addToJwksRefusesAMalformedOrMissingFileBeforeWritingAnything() throws Exception {
        Path broken = Files.writeString(dir.resolve("broken.json"), "{\"keys\": [");
        generateSmall("--kid", "k", "--add-to-jwks", broken.toString()).assertOneLineError(2, "broken.json", "not a valid JWKS");
        generateSmall("--kid", "k", "--add-to-jwks", dir.resolve("absent.json").toString())
                .assertOneLineError(2, "absent.json", "does not exist");
        generateSmall("--kid", "k", "--add-to-jwks", dir.toString()).assertOneLineError(2, "is a directory");
        assertFalse(Files.exists(dir.resolve("k.pem")));
    }

    @Test
    void everyKeyIsFresh() throws Exception {
        generateSmall("--kid", "a").assertOk();
        generateSmall("--kid", "b").assertOk();
        assertNotEquals(readPkcs1(Files.readString(dir.resolve("a.pem"))).getModulus(),
                readPkcs1(Files.readString(dir.resolve("b.pem"))).getModulus());
    }

    @Test
    void helpDocumentsExitCodesAndEnvironmentVariables() {
        TestSupport.Result r = generate("--help").assertOk();
        assertTrue(r.out().contains("Exit codes:"), r.out());
        assertTrue(r.out().contains("NHS_ENV"), r.out());
        assertTrue(r.out().matches("(?s).*\\n  5 +network failure.*"), r.out());
    }

    private Map<String, byte[]> snapshot() throws IOException {
        Map<String, byte[]> files = new java.util.TreeMap<>();
        try (var list = Files.list(dir)) {
            for (Path p : list.toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return files;
    }

    private void assertSnapshotEquals(Map<String, byte[]> before) throws IOException {
        Map<String, byte[]> after = snapshot();
        assertEquals(before.keySet(), after.keySet());
        for (String name : before.keySet()) {
            assertArrayEquals(before.get(name), after.get(name), name + " changed");
        }
    }

    static RSAPrivateKey readPkcs1(String pem) throws IOException {
        try (PemReader reader = new PemReader(new StringReader(pem))) {
            var object = reader.readPemObject();
            assertEquals("RSA PRIVATE KEY", object.getType());
            return RSAPrivateKey.getInstance(object.getContent());
        }
    }

    static RSAPublicKey readSpki(String pem) throws Exception {
        try (PemReader reader = new PemReader(new StringReader(pem))) {
            var object = reader.readPemObject();
            assertEquals("PUBLIC KEY", object.getType());
            return (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(object.getContent()));
        }
    }
}
