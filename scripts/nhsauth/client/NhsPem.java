package nhsauth.client;

import java.math.BigInteger;
import java.security.*;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.*;
import java.util.*;
import java.util.regex.*;

/**
 * The plain PEM keys nearly every run reads, with the JDK alone: BouncyCastle's signed jars take a quarter
 * second to verify when loaded. Anything else goes to {@link NhsPemBouncyCastle}, which names what it found.
 */
final class NhsPem {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN (RSA )?PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END (RSA )?PRIVATE KEY-----");

    private NhsPem() {
    }

    /** A plain PKCS#1 or PKCS#8 RSA key; null for anything else. */
    static RSAPrivateCrtKey readPlain(String pem) {
        Matcher m = BLOCK.matcher(pem);
        if (!m.find() || !Objects.equals(m.group(1), m.group(3))) {
            return null;
        }
        try {
            byte[] der = Base64.getMimeDecoder().decode(m.group(2));
            PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(m.group(1) == null
                    ? new PKCS8EncodedKeySpec(der) : pkcs1(der));
            return key instanceof RSAPrivateCrtKey rsa ? rsa : null;
        } catch (RuntimeException | GeneralSecurityException e) {
            return null;
        }
    }

    /** RSAPrivateKey { version 0, n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p } (RFC 8017). */
    private static RSAPrivateCrtKeySpec pkcs1(byte[] der) {
        int[] at = {0};
        contentLength(der, at, 0x30);
        BigInteger[] v = new BigInteger[9];
        for (int i = 0; i < v.length; i++) {
            int length = contentLength(der, at, 0x02);
            v[i] = new BigInteger(Arrays.copyOfRange(der, at[0], at[0] += length));
        }
        if (v[0].signum() != 0) {
            throw new IllegalArgumentException("a multi-prime key");
        }
        return new RSAPrivateCrtKeySpec(v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    }

    /** PKCS#1 PEM ({@code BEGIN RSA PRIVATE KEY}), as the Python tool wrote it. */
    static String privateKeyPem(PrivateKey key) {
        return pem("RSA PRIVATE KEY", pkcs1Inside(key.getEncoded()));
    }

    /** As OpenSSL writes it: base64 in lines of 64. */
    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /** The PKCS#1 key inside a PKCS#8 PrivateKeyInfo: the OCTET STRING after version and algorithm. */
    private static byte[] pkcs1Inside(byte[] pkcs8) {
        int[] at = {0};
        contentLength(pkcs8, at, 0x30);
        int version = contentLength(pkcs8, at, 0x02);
        at[0] += version;
        int algorithm = contentLength(pkcs8, at, 0x30);
        at[0] += algorithm;
        int length = contentLength(pkcs8, at, 0x04);
        return Arrays.copyOfRange(pkcs8, at[0], at[0] + length);
    }

    /** Reads a DER tag and length at {@code at[0]}, leaving {@code at[0]} on the content. */
    private static int contentLength(byte[] der, int[] at, int tag) {
        if ((der[at[0]++] & 0xff) != tag) {
            throw new IllegalArgumentException("unexpected DER tag");
        }
        int first = der[at[0]++] & 0xff;
        if (first < 0x80) {
            return first;
        }
        int length = 0;
        for (int i = 0; i < (first & 0x7f); i++) {
            length = (length << 8) | (der[at[0]++] & 0xff);
        }
        return length;
    }
}
