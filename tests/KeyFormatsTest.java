import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Private keys in every common PEM form load; everything else is a one-line exit 2 naming what was found. */
class KeyFormatsTest {

    @TempDir
    static Path dir;
    static Path pkcs1;

    @BeforeAll
    static void keys() {
        pkcs1 = TestFixture.key(dir, "pkcs1");
    }

    static Path openssl(String name, String... args) {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is needed to make foreign key formats");
        Path out = dir.resolve(name);
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("-out", out.toString()));
        TestSupport.process(dir, Map.of(), null, cmd).assertOk();
        return out;
    }

    static String thumbprintOf(Path pem, String passphrase) {
        return NhsKeys.thumbprint(NhsKeys.publicKeyOf(
                NhsKeys.readPrivateKey(pem, passphrase == null ? null : passphrase.toCharArray())));
    }

    @Test
    void pkcs8FromOpensslGenpkeyLoads() {
        Path key = openssl("genpkey.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048");
        assertEquals(64, String.join("", NhsKeys.readPrivateKey(key, null).getModulus().toString(16)).length() / 8);
        assertEquals("-----BEGIN PRIVATE KEY-----", firstLine(key));
    }

    @Test
    void thePythonToolsPkcs1AndItsPkcs8AndEncryptedFormsAreTheSameKey() {
        String expected = thumbprintOf(pkcs1, null);
        Path pkcs8 = openssl("pkcs8.pem", "pkcs8", "-topk8", "-nocrypt", "-in", pkcs1.toString());
        assertEquals(expected, thumbprintOf(pkcs8, null));
        Path encrypted8 = openssl("enc8.pem", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:s3cret",
                "-in", pkcs1.toString());
        assertEquals("-----BEGIN ENCRYPTED PRIVATE KEY-----", firstLine(encrypted8));
        assertEquals(expected, thumbprintOf(encrypted8, "s3cret"));
        Path encrypted1 = openssl("enc1.pem", "rsa", "-aes256", "-traditional", "-passout", "pass:s3cret",
                "-in", pkcs1.toString());
        assertEquals(expected, thumbprintOf(encrypted1, "s3cret"));
    }

    @Test
    void aKeyTooShortForRs512IsRefused() {
        Path small = openssl("small.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024");
        tokenWith(small).assertOneLineError(2, "only 1024 bits", "at least 2048");
    }

    @Test
    void encryptedKeysWithoutOrWithAWrongPassphraseAreUsageErrors() {
        Path encrypted8 = openssl("enc8b.pem", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:right",
                "-in", pkcs1.toString());
        Path encrypted1 = openssl("enc1b.pem", "rsa", "-aes256", "-traditional", "-passout", "pass:right",
                "-in", pkcs1.toString());
        for (Path key : List.of(encrypted8, encrypted1)) {
            tokenWith(key).assertOneLineError(2, "is encrypted", "--private-key-passphrase");
            tokenWith(key, "--private-key-passphrase", "wrong").assertOneLineError(2, "cannot be decrypted", "passphrase");
        }
    }

    @Test
    void nonRsaAndNonPrivateKeysAreNamed() throws Exception {
        Path ec = openssl("ec.pem", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256");
        tokenWith(ec).assertOneLineError(2, "holds an EC private key", "RSA");
        Path ecTraditional = openssl("ec1.pem", "ec", "-in", ec.toString());
        tokenWith(ecTraditional).assertOneLineError(2, "EC", "RSA");
        Path dsaParams = openssl("dsaparam.pem", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024");
        Path dsa = openssl("dsa.pem", "genpkey", "-paramfile", dsaParams.toString());
        tokenWith(dsa).assertOneLineError(2, "DSA", "RSA");
        Path cert = openssl("cert.pem", "req", "-x509", "-new", "-key", pkcs1.toString(), "-subj", "/CN=test", "-days", "1");
        tokenWith(cert).assertOneLineError(2, "holds a certificate");
        tokenWith(dir.resolve("pkcs1.pem.pub")).assertOneLineError(2, "holds a public key", ".pem.pub");
        tokenWith(Files.writeString(dir.resolve("empty.pem"), "")).assertOneLineError(2, "is empty");
        tokenWith(Files.write(dir.resolve("garbage.pem"), new byte[] {0, 1, 2, (byte) 0xff, (byte) 0xfe, 10}))
                .assertOneLineError(2, "garbage.pem");
        tokenWith(dir.resolve("pkcs1.json")).assertOneLineError(2, "holds no PEM block");
        tokenWith(dir).assertOneLineError(2, "is a directory");
    }

    @Test
    void aKeyOfYoursThatOthersMayOpenIsRefusedAsSshRefusesIt() throws Exception {
        Path key = dir.resolve("open.pem");
        Files.copy(pkcs1, key);
        for (String mode : List.of("rw-r-----", "rw----r--", "rw--w----", "rw-----w-")) {
            Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString(mode));
            tokenWith(key).assertOneLineError(2, "open.pem", "open to others (" + mode + ")", "chmod 600");
            TestSupport.runInProcess(new VerifyKeys(), "--private-key", key.toString(), "--jwks",
                    dir.resolve("pkcs1.json").toString()).assertOneLineError(2, "open to others");
        }
    }

    @Test
    void aKeyAnotherUserOwnsIsUsedWithAWarning() throws Exception {
        Path key = dir.resolve("theirs.pem");
        Files.copy(pkcs1, key);
        try {
            Files.setOwner(key, key.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
        } catch (java.io.IOException e) {
            assumeTrue(false, "only root can give a file to another user: " + e);
        }
        TestSupport.Result r = TestSupport.runInProcess(new VerifyKeys(), "--private-key", key.toString(), "--kid", "pkcs1",
                "--jwks", dir.resolve("pkcs1.json").toString()).assertOk();
        assertEquals(List.of("warning: private key file '" + key + "' belongs to nobody, not to you (" + System.getProperty("user.name")
                + "): that user can read and replace it"), r.err().lines().filter(l -> !l.contains("2048 bits")).toList());
    }

    static TestSupport.Result tokenWith(Path key, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("--api-key", "k", "--private-key", key.toString(),
                "--token-url", "http://127.0.0.1:9/oauth2/token"));
        args.addAll(List.of(extra));
        return TestSupport.runInProcess(new GetToken(), args.toArray(String[]::new));
    }

    static String firstLine(Path p) {
        try {
            return Files.readAllLines(p).get(0);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
