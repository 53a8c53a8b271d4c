package nhsauth.client;

import java.io.ByteArrayOutputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RSA keys in PEM with the JDK alone: the two unencrypted forms generate-keys and openssl write.
 * BouncyCastle's signed jars cost about a quarter of a second to verify when first loaded, on
 * every run, and a plain key is what nearly every run reads; anything else (encrypted, EC,
 * certificates, damage) goes to {@link NhsPemBouncyCastle}, which also names what it found.
 */
final class NhsPem {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN (RSA )?PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END (RSA )?PRIVATE KEY-----");
    /** AlgorithmIdentifier { rsaEncryption, NULL }, DER. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
        (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

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
            byte[] pkcs8 = m.group(1) != null ? pkcs8Around(der) : der;
            PrivateKey key = KeyFactory.getInstance("RSA")
                    .generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            return key instanceof RSAPrivateCrtKey ? (RSAPrivateCrtKey) key : null;
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            return null;
        }
    }

    /** The private key as the Python tool wrote it: PKCS#1 PEM ({@code BEGIN RSA PRIVATE KEY}). */
    static String privateKeyPem(PrivateKey key) {
        return pem("RSA PRIVATE KEY", pkcs1Inside(key.getEncoded()));
    }

    /** The public key as SubjectPublicKeyInfo PEM ({@code BEGIN PUBLIC KEY}). */
    static String publicKeyPem(PublicKey key) {
        return pem("PUBLIC KEY", key.getEncoded());
    }

    /** PEM text as OpenSSL writes it: base64 in lines of 64. */
    private static String pem(String type, byte[] der) {
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
            throw new IllegalArgumentException("unexpected DER tag in a PKCS#8 key");
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

    /** PKCS#8 PrivateKeyInfo { version 0, rsaEncryption, OCTET STRING { the PKCS#1 key } }. */
    private static byte[] pkcs8Around(byte[] pkcs1) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[] {0x02, 0x01, 0x00});
        body.writeBytes(RSA_ALGORITHM);
        body.writeBytes(tagged(0x04, pkcs1));
        return tagged(0x30, body.toByteArray());
    }

    private static byte[] tagged(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }
}
