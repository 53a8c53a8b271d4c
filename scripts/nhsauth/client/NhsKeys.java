//SOURCES NhsPemBouncyCastle.java

package nhsauth.client;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RSA keys in PEM. Unencrypted keys in the two forms generate-keys and openssl write are read and
 * written with the JDK alone: BouncyCastle's signed jars cost about a quarter of a second to
 * verify when first loaded, on every run, and a plain key is what nearly every run reads.
 * Anything else (encrypted, EC, certificates, damage) goes to {@link NhsPemBouncyCastle}, which
 * also names what it found.
 */
public final class NhsKeys {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN (RSA )?PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END (RSA )?PRIVATE KEY-----");
    /** AlgorithmIdentifier { rsaEncryption, NULL }, DER. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
        (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

    private NhsKeys() {
    }

    /**
     * Reads an RSA private key from PEM in any common form: PKCS#1 ({@code BEGIN RSA PRIVATE KEY},
     * as the Python tool and this toolkit write it), PKCS#8 ({@code BEGIN PRIVATE KEY}, as
     * {@code openssl genpkey} writes it), and both encrypted.
     *
     * @throws NhsClient.UsageException the file is missing or unreadable, is not an RSA private key (a public
     *         key, a certificate, an EC or DSA key, garbage), or the passphrase is missing or wrong
     */
    public static RSAPrivateCrtKey readPrivateKey(Path file, char[] passphrase) {
        String text = NhsFiles.readText(file, "private key file");
        RSAPrivateCrtKey plain = readPlain(text);
        if (plain != null) {
            return plain;
        }
        return NhsPemBouncyCastle.read(text, passphrase, "private key file '" + file + "'");
    }

    /** The public half of an RSA private key. */
    public static RSAPublicKey publicKeyOf(RSAPrivateCrtKey key) {
        try {
            return (RSAPublicKey) KeyFactory.getInstance("RSA")
                    .generatePublic(new RSAPublicKeySpec(key.getModulus(), key.getPublicExponent()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("RSA is missing from this JDK", e);
        }
    }

    /** The kid the Python tool derived from a key file: its name without {@code .pem}; null for other names. */
    public static String kidFromKeyFile(Path pem) {
        String name = pem.getFileName().toString();
        return name.endsWith(".pem") && name.length() > 4 ? name.substring(0, name.length() - 4) : null;
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

    /** The PKCS#1 key inside a PKCS#8 PrivateKeyInfo: the OCTET STRING after version and algorithm. */
    public static byte[] pkcs1Inside(byte[] pkcs8) {
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

    /** PEM text as OpenSSL writes it: base64 in lines of 64. */
    public static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /** PKCS#8 PrivateKeyInfo { version 0, rsaEncryption, OCTET STRING { the PKCS#1 key } }. */
    static byte[] pkcs8Around(byte[] pkcs1) {
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
