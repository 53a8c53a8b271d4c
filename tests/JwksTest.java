import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** jwks list and jwks remove: the JWKS a rotation edits, listed with its flaws, the old key removed safely. */
class JwksTest {

    @TempDir
    Path dir;

    static TestSupport.Result jwks(String... args) {
        return TestSupport.runInProcess(new Jwks(), args);
    }

    /**
     * The public half of a 4096-bit key as a JWKS lists it: only n and e are read, so a random odd
     * modulus of that size stands in for a key the test would otherwise spend seconds making.
     */
    static Map<String, Object> key4096(String kid, boolean algAndUse) {
        BigInteger n = new BigInteger(4096, new SecureRandom()).setBit(4095).setBit(0);
        RSAKey.Builder key = new RSAKey.Builder(Base64URL.encode(n), Base64URL.encode(BigInteger.valueOf(65537))).keyID(kid);
        if (algAndUse) {
            key.algorithm(JWSAlgorithm.RS512).keyUse(KeyUse.SIGNATURE);
        }
        return key.build().toJSONObject();
    }

    /** The fixture's 2048-bit key as a JWK. */
    static Map<String, Object> key2048(String kid) {
        return new RSAKey.Builder((RSAPublicKey) TestFixture.keyPair().getPublic()).keyID(kid).build().toJSONObject();
    }

    Path write(String name, Map<String, Object> document) throws Exception {
        return Files.writeString(dir.resolve(name), JSONObjectUtils.toJSONString(document));
    }

    Path jwksFile(String name, Object... keys) throws Exception {
        return write(name, Map.of("keys", List.of(keys)));
    }

    static Set<String> listing(Path folder) throws Exception {
        try (Stream<Path> files = Files.list(folder)) {
            return new TreeSet<>(files.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aGoodJwksIsOneLinePerKeyAndExit0() throws Exception {
        Map<String, Object> one = key4096("int-1", true);
        Map<String, Object> two = key4096("int-2", false);
        Path file = jwksFile("good.json", one, two);
        TestSupport.Result r = jwks("list", file.toString()).assertOk();
        assertEquals("", r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertEquals(List.of("int-1", "RSA", "4096", "RS512", "sig", NhsKeys.thumbprint(RSAKey.parse(one))),
                List.of(lines.get(0).split(" +")));
        assertEquals(List.of("int-2", "RSA", "4096", "-", "-", NhsKeys.thumbprint(RSAKey.parse(two))),
                List.of(lines.get(1).split(" +")));
        TestSupport.runInProcess(new NhsAuth(), "jwks", "list", file.toString()).assertOk();
    }

    @Test
    void aJwksUrlIsListedAsTheNhsEndpointFetchesIt() throws Exception {
        String body = JSONObjectUtils.toJSONString(Map.of("keys", List.of(key4096("int-1", true))));
        try (FakeServer host = new FakeServer(r -> r.uri().equals("/jwks.json")
                ? FakeServer.Reply.json(200, body) : FakeServer.Reply.json(404, "{}"))) {
            TestSupport.Result r = jwks("list", host.url("/jwks.json")).assertOk();
            assertTrue(r.out().startsWith("int-1  RSA  4096  RS512  sig  "), r.out());
            assertEquals("APIM", host.requests.get(0).header("User-Agent"));
            jwks("list", host.url("/missing.json")).assertOneLineError(2, "HTTP 404");
        }
    }

    @Test
    void aKidUsedTwiceIsFlaggedOnceAndExit2() throws Exception {
        TestSupport.Result r = jwks("list", jwksFile("twice.json", key4096("int-1", true), key4096("int-1", true),
                key4096("int-2", true)).toString());
        assertEquals(2, r.exit(), r.err());
        assertEquals(3, r.out().lines().count(), "every key is still listed: " + r.out());
        assertEquals(List.of("jwks list: kid 'int-1' is on 2 keys: give each key its own kid"), r.err().lines().toList());
    }

    @Test
    void aKeyUnder4096BitsIsFlaggedAndExit2() throws Exception {
        TestSupport.Result r = jwks("list", jwksFile("short.json", key4096("int-1", true), key2048("int-2")).toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.out().lines().toList().get(1).startsWith("int-2  RSA  2048  "), r.out());
        List<String> problems = r.err().lines().toList();
        assertEquals(1, problems.size(), r.err());
        assertTrue(problems.get(0).startsWith("jwks list: kid 'int-2' is RSA of 2048 bits: NHS asks for RSA of 4096"),
                problems.get(0));
    }

    @Test
    void privateMembersAreFlaggedByNameNeverByValueAndExit2() throws Exception {
        Map<String, Object> leaked = new LinkedHashMap<>(key4096("int-1", true));
        String secret = Base64URL.encode(new BigInteger(4000, new SecureRandom()).setBit(3999)).toString();
        leaked.put("d", secret);
        TestSupport.Result r = jwks("list", jwksFile("leaked.json", leaked).toString());
        assertEquals(2, r.exit(), r.err());
        assertEquals(1, r.out().lines().count(), r.out());
        assertTrue(r.err().startsWith("jwks list: kid 'int-1' has private members (d): never publish them"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertFalse((r.out() + r.err()).contains(secret.substring(0, 16)), "the private member's value is never printed");
    }

    @Test
    void removeKeepsEveryOtherKeyAndMemberAndLeavesNoTemporary() throws Exception {
        Map<String, Object> oldKey = key4096("int-1", true);
        Map<String, Object> newKey = new LinkedHashMap<>(key4096("int-2", true));
        newKey.put("x-note", "kept as written");
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("comment", "published at https://example.org/jwks.json");
        document.put("keys", List.of(oldKey, newKey, Map.of("kty", "future-type", "kid", "int-3")));
        document.put("extra", Map.of("nested", List.of("a", "b")));
        Path file = write("rotating.json", document);
        Set<String> before = listing(dir);

        TestSupport.Result r = jwks("remove", "int-1", "--jwks", file.toString()).assertOk();
        assertEquals("", r.out());
        assertTrue(r.err().contains("removed kid 'int-1'") && r.err().contains("int-2, int-3"), r.err());
        Map<String, Object> expected = new LinkedHashMap<>(document);
        expected.put("keys", List.of(newKey, Map.of("kty", "future-type", "kid", "int-3")));
        Map<String, Object> after = JSONObjectUtils.parse(Files.readString(file));
        assertEquals(expected, after);
        assertEquals(List.of("comment", "keys", "extra"), new ArrayList<>(after.keySet()), "members keep their order");
        assertEquals(before, listing(dir), "no temporary left beside the JWKS");
    }

    @Test
    void removeRefusesAnUnknownKidAndTheLastKeyLeavingTheFileAsItWas() throws Exception {
        Path two = jwksFile("two.json", key4096("int-1", true), key4096("int-2", true));
        Path one = jwksFile("one.json", key4096("int-1", true));
        byte[] twoBytes = Files.readAllBytes(two);
        byte[] oneBytes = Files.readAllBytes(one);
        Set<String> before = listing(dir);
        jwks("remove", "int-9", "--jwks", two.toString()).assertOneLineError(2, "no key with kid 'int-9'",
                "kids there: int-1, int-2");
        jwks("remove", "int-1", "--jwks", one.toString()).assertOneLineError(2, "no key but kid 'int-1'",
                "add the new key first");
        assertArrayEquals(twoBytes, Files.readAllBytes(two));
        assertArrayEquals(oneBytes, Files.readAllBytes(one));
        assertEquals(before, listing(dir));
    }

    @Test
    void removeWritesThroughASymbolicLinkAsAddToJwksDoes() throws Exception {
        Path target = jwksFile("target.json", key4096("int-1", true), key4096("int-2", true));
        Path link = Files.createSymbolicLink(dir.resolve("published.json"), target);
        jwks("remove", "int-1", "--jwks", link.toString()).assertOk();
        assertTrue(Files.isSymbolicLink(link), "the link is kept");
        assertEquals(List.of("int-2"), NhsKeys.loadJwks(target).getKeys().stream().map(k -> k.getKeyID()).toList());
    }

    @Test
    void badInputIsOneLine() throws Exception {
        Path broken = Files.writeString(dir.resolve("broken.json"), "{not json");
        jwks("list", broken.toString()).assertOneLineError(2, "not a valid JWKS");
        jwks("remove", "int-1", "--jwks", broken.toString()).assertOneLineError(2, "not a valid JWKS");
        jwks("list", dir.resolve("none.json").toString()).assertOneLineError(2, "does not exist");
        jwks("list", jwksFile("empty.json").toString()).assertOneLineError(2, "holds no key");
        jwks("remove", "int-1", "--jwks", dir.resolve("none.json").toString()).assertOneLineError(2, "does not exist");
        jwks("remove", "int-1").assertOneLineError(2, "no --jwks");
        jwks("remove", "--jwks", broken.toString()).assertOneLineError(2, "KID");
        jwks().assertOneLineError(2, "a subcommand is needed");
    }

    @Test
    void theJwksComesFromNhsJwksThroughTheCatalogAlias() throws Exception {
        Path file = jwksFile("from-env.json", key4096("int-1", true), key4096("int-2", true));
        Map<String, String> env = Map.of("NHS_JWKS", file.toString());
        String alias = "jwks@" + TestSupport.repoRoot();
        TestSupport.jbang(dir, env, alias, "remove", "int-1").assertOk();
        TestSupport.Result r = TestSupport.jbang(dir, env, alias, "list").assertOk();
        assertTrue(r.out().startsWith("int-2  RSA  4096  RS512  sig  "), r.out());
        assertEquals(1, r.out().lines().count(), r.out());
    }
}
