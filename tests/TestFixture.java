import nhsauth.client.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.KeyPair;

/**
 * The set-up the test classes share, made once per test JVM on first use: two RSA key pairs
 * (making one is the slow part of a set-up). Test classes run side by side, so nothing shared is
 * changed by a test: a test writes key files into its own folder.
 */
final class TestFixture {

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

    /** The test key as generate-keys writes it: {@code dir/<kid>.pem}, {@code .pem.pub} and {@code .json}; returns the {@code .pem}. */
    static Path key(Path dir, String kid) {
        return write(dir, kid, keyPair());
    }

    /** {@link #otherKeyPair()} written as {@link #key} writes the test key. */
    static Path otherKey(Path dir, String kid) {
        return write(dir, kid, otherKeyPair());
    }

    private static Path write(Path dir, String kid, KeyPair pair) {
        try {
            NhsKeys.writeKeyFiles(dir, kid, pair, null, false);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir.resolve(kid + ".pem");
    }

    private static final class Keys {
        static final KeyPair KEY = NhsKeys.generateKeyPair(2048);
    }

    private static final class OtherKeys {
        static final KeyPair KEY = NhsKeys.generateKeyPair(2048);
    }
}
