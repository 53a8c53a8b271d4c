import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** verify-keys: a verdict for a matching pair, the first mismatch and its fix otherwise. */
class VerifyKeysTest {

    @TempDir
    static Path dir;

    @BeforeAll
    static void keys() {
        TestFixture.key(dir, "int-1");
        TestFixture.otherKey(dir, "int-2");
    }

    static TestSupport.Result verify(String... args) {
        return TestSupport.runInProcess(new VerifyKeys(), args);
    }

    String pem(String kid) {
        return dir.resolve(kid + ".pem").toString();
    }

    String jwks(String kid) {
        return dir.resolve(kid + ".json").toString();
    }

    @Test
    void aMatchingKeyGetsAOneLineVerdict() {
        TestSupport.Result r = verify("--private-key", pem("int-1"), "--jwks", jwks("int-1")).assertOk();
        assertTrue(r.out().startsWith("OK: " + pem("int-1") + " matches kid 'int-1' in " + jwks("int-1") + " (RSA 2048 bits"), r.out());
        assertEquals(1, r.out().lines().count());
        assertTrue(r.err().contains("warning: the key has 2048 bits"), r.err());
    }

    @Test
    void aGarbledCaFileIsSaidInWordsNotJavaClassNames() throws Exception {
        Path garbled = Files.writeString(dir.resolve("garbled-ca.pem"), "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        String err = verify("--private-key", pem("int-1"), "--jwks", "https://127.0.0.1:9/jwks", "--cacert", garbled.toString())
                .assertOneLineError(2, "garbled-ca.pem", "is not a PEM certificate (Illegal base64 character 21)").err();
        assertTrue(!err.contains("java.") && !err.contains("Exception"), err);
    }

    @Test
    void aKeyRegisteredUnderAnotherKidIsNamed() {
        verify("--private-key", pem("int-1"), "--jwks", jwks("int-1"), "--kid", "other")
                .assertOneLineError(2, "no key with kid 'other'", "kids there: int-1", "use --kid int-1");
    }

    @Test
    void aDifferentKeyUnderTheSameKidIsASignatureFailureInWaiting() throws Exception {
        Path swapped = Files.writeString(dir.resolve("swapped.json"), Files.readString(Path.of(jwks("int-2")))
                .replace("\"int-2\"", "\"int-1\""));
        verify("--private-key", pem("int-1"), "--jwks", swapped.toString())
                .assertOneLineError(2, "another modulus", "JWT signature verification failed");
    }

    @Test
    void algAndUseMustFitSigning() throws Exception {
        String good = Files.readString(Path.of(jwks("int-1")));
        Path rs256 = Files.writeString(dir.resolve("rs256.json"), good.replace("RS512", "RS256"));
        verify("--private-key", pem("int-1"), "--jwks", rs256.toString(), "--kid", "int-1").assertOneLineError(2, "alg RS256", "RS512");
        Path enc = Files.writeString(dir.resolve("enc.json"), good.replace("\"sig\"", "\"enc\""));
        verify("--private-key", pem("int-1"), "--jwks", enc.toString(), "--kid", "int-1").assertOneLineError(2, "use enc", "sig");
        Path bare = Files.writeString(dir.resolve("bare.json"), good.replace("\"alg\": \"RS512\",", "").replace(",\n      \"use\": \"sig\"", ""));
        verify("--private-key", pem("int-1"), "--jwks", bare.toString(), "--kid", "int-1").assertOk();
    }

    @Test
    void badInputIsOneLine() throws Exception {
        verify("--private-key", pem("int-1")).assertOneLineError(2, "no --jwks");
        verify("--jwks", jwks("int-1")).assertOneLineError(2, "no --private-key");
        verify("--private-key", pem("int-1"), "--jwks", dir.resolve("none.json").toString()).assertOneLineError(2, "does not exist");
        Path empty = Files.writeString(dir.resolve("empty-keys.json"), "{\"keys\": []}");
        verify("--private-key", pem("int-1"), "--jwks", empty.toString()).assertOneLineError(2, "kids there: none");
        Path broken = Files.writeString(dir.resolve("broken.json"), "{not json");
        verify("--private-key", pem("int-1"), "--jwks", broken.toString()).assertOneLineError(2, "not a valid JWKS");
        verify("--private-key", dir.resolve("int-1.pem.pub").toString(), "--jwks", jwks("int-1"))
                .assertOneLineError(2, "holds a public key");
        verify("--private-key", pem("int-1"), "--jwks", "ftp://example.org/jwks.json").assertOneLineError(2, "https://");
    }

    @Test
    void aJwksUrlIsFetchedAsTheNhsEndpointFetchesIt() throws Exception {
        String body = Files.readString(Path.of(jwks("int-1")));
        try (FakeServer host = new FakeServer(r -> r.uri().equals("/jwks.json")
                ? FakeServer.Reply.json(200, body) : FakeServer.Reply.json(404, "{}"))) {
            verify("--private-key", pem("int-1"), "--jwks", host.url("/jwks.json")).assertOk();
            assertEquals("APIM", host.requests.get(0).header("User-Agent"));
            verify("--private-key", pem("int-1"), "--jwks", host.url("/missing.json")).assertOneLineError(2, "HTTP 404");
        }
    }

    @Test
    void aKeyFileNotEndingInPemIsCheckedAgainstTheOnlyKeyOrNeedsAKid() throws Exception {
        Path renamed = Files.copy(Path.of(pem("int-1")), dir.resolve("int-1.key"));
        verify("--private-key", renamed.toString(), "--jwks", jwks("int-1")).assertOk();
        jwksWithBothKeys("two.json");
        verify("--private-key", renamed.toString(), "--jwks", dir.resolve("two.json").toString())
                .assertOneLineError(2, "cannot tell which kid", "--kid");
        verify("--private-key", renamed.toString(), "--jwks", dir.resolve("two.json").toString(), "--kid", "int-1").assertOk();
    }

    /** A JWKS holding both test keys, as during a rotation. */
    void jwksWithBothKeys(String name) throws Exception {
        String one = Files.readString(Path.of(jwks("int-1")));
        String two = Files.readString(Path.of(jwks("int-2")));
        String key2 = two.substring(two.indexOf("{", two.indexOf("[")), two.lastIndexOf("]")).trim();
        Files.writeString(dir.resolve(name), one.substring(0, one.lastIndexOf("]")).trim() + ",\n" + key2 + "\n]}\n");
    }

    @Test
    void worksThroughTheUmbrellaToo() {
        TestSupport.runInProcess(new NhsAuth(), "verify-keys", "--private-key", pem("int-2"), "--jwks", jwks("int-2")).assertOk();
    }
}
