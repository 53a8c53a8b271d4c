import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;

/**
 * The set-up the test classes share, made once per test JVM on first use: two RSA key pairs
 * (making one is the slow part of a set-up), a started mock identity service, a client of it, and
 * a test CA. Test classes run side by side, so nothing shared is changed by a test: a test writes
 * key files into its own folder and never stops or reconfigures the mock; one that counts what a
 * mock did, or reads its log, starts its own.
 */
final class TestFixture {

    /**
     * The shared mock's one app, at level 3. It knows {@link #key}'s public key under every kid a
     * test has written, so any key file from {@link #key} gets a token from {@link #mock}; a test
     * of a kid the mock does not know starts its own.
     */
    static final String API_KEY = "fixture-api-key-0123";

    private static final Set<String> registeredKids = new LinkedHashSet<>();

    private TestFixture() {
    }

    /** The test key: 2048 bits, enough for tests and far quicker to make than the default 4096. */
    static KeyPair keyPair() {
        return Keys.KEY;
    }

    /** A second key, for the cases of a key that is not the registered one. */
    static KeyPair otherKeyPair() {
        return OtherKeys.KEY;
    }

    /**
     * The test key as generate-keys writes it: {@code dir/<kid>.pem}, {@code .pem.pub} and
     * {@code .json}; returns the {@code .pem}. The shared mock accepts it under this kid from now on.
     */
    static Path key(Path dir, String kid) {
        Path pem = write(dir, kid, keyPair());
        register(kid);
        return pem;
    }

    /** {@link #otherKeyPair()} written as {@link #key} writes the test key; the shared mock does not know it. */
    static Path otherKey(Path dir, String kid) {
        return write(dir, kid, otherKeyPair());
    }

    /** The mock identity service the classes share: started once, and stopped only by the test JVM's exit. */
    static MockIdentityService mock() {
        return Mock.SERVICE;
    }

    /** A client of the shared mock's app with the test key, quiet; a test sets or overrides what it needs. */
    static NhsClient.Builder client() {
        return NhsClient.builder().apiKey(API_KEY).privateKey(Mock.PEM, null).tokenUrl(mock().tokenUrl()).notices(null);
    }

    /** The test CA, with the server certificates it signs and HTTPS servers that present them. */
    static TestTls tls() {
        return Tls.CA;
    }

    private static Path write(Path dir, String kid, KeyPair pair) {
        try {
            NhsKeys.writeKeyFiles(dir, kid, pair, null, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir.resolve(kid + ".pem");
    }

    /**
     * Adds a kid to the shared app's JWKS file. The file is replaced whole, and only ever grows,
     * so the mock (which re-reads it when its size changes) never sees a kid disappear.
     */
    private static synchronized void register(String kid) {
        if (!registeredKids.add(kid)) {
            return;
        }
        List<JWK> keys = new ArrayList<>();
        for (String k : registeredKids) {
            keys.add(new RSAKey.Builder((RSAPublicKey) keyPair().getPublic()).keyID(k).algorithm(JWSAlgorithm.RS512)
                    .keyUse(KeyUse.SIGNATURE).build());
        }
        try {
            Path next = Files.writeString(Home.DIR.resolve("registered.json.next"), new JWKSet(keys).toString(true));
            Files.move(next, Home.JWKS, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final class Keys {
        static final KeyPair KEY = NhsKeys.generateKeyPair(2048);
    }

    private static final class OtherKeys {
        static final KeyPair KEY = NhsKeys.generateKeyPair(2048);
    }

    /** The fixture's own folder, for the shared app's JWKS and key and the CA's certificate; deleted when the test JVM exits. */
    private static final class Home {
        static final Path DIR;
        static final Path JWKS;

        static {
            try {
                DIR = Files.createTempDirectory("nhs-auth-tests");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            JWKS = DIR.resolve("registered.json");
            Runtime.getRuntime().addShutdownHook(new Thread(Home::delete, "test-fixture-cleanup"));
        }

        private static void delete() {
            try (Stream<Path> all = Files.walk(DIR)) {
                all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // a temporary folder left behind
            }
        }
    }

    private static final class Tls {
        static final TestTls CA;

        static {
            try {
                CA = new TestTls(Home.DIR);
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException("cannot make the test CA", e);
            }
        }
    }

    private static final class Mock {
        static final Path PEM = key(Home.DIR, "fixture-1");
        static final MockIdentityService SERVICE;

        static {
            try {
                SERVICE = MockIdentityService.start("127.0.0.1", 0,
                        List.of(new MockIdentityService.App(API_KEY, Home.JWKS.toString(), true)), 3600, null);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
