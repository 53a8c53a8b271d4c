//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87

package nhsauth.client;

import java.io.*;
import java.math.BigInteger;
import java.security.*;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.*;
import java.util.*;
import java.util.regex.*;

import org.bouncycastle.asn1.pkcs.*;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.*;
import org.bouncycastle.openssl.bc.BcPEMDecryptorProvider;
import org.bouncycastle.openssl.jcajce.*;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * RSA private keys in PEM. The plain ones nearly every run reads are read with the JDK alone: BouncyCastle's
 * signed jars are verified whenever they are first loaded, so only {@link BouncyCastle} touches them.
 */
final class NhsPem {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN (RSA )?PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+?)-----END (RSA )?PRIVATE KEY-----");

    private NhsPem() { }

    /** Any RSA private key; {@code where} names the file in the message for anything else. */
    static RSAPrivateCrtKey read(String text, char[] passphrase, String where) {
        RSAPrivateCrtKey plain = readPlain(text);
        return plain != null ? plain : BouncyCastle.read(text, passphrase, where);
    }

    /** A plain PKCS#1 or PKCS#8 RSA key; null for anything else. */
    private static RSAPrivateCrtKey readPlain(String pem) {
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

    /** Encrypted PKCS#8 and PKCS#1, and whatever is not an RSA private key, named for the user. */
    private static final class BouncyCastle {
        private static RSAPrivateCrtKey read(String text, char[] passphrase, String where) {
            Object pem;
            try (PEMParser parser = new PEMParser(new StringReader(text))) {
                pem = parser.readObject();
            } catch (IOException | RuntimeException e) {
                throw new UsageException(where + " is not valid PEM (" + NhsFiles.reason(e)
                        + "): give the private key PEM from generate-keys or openssl");
            }
            if (pem == null) {
                throw new UsageException(where + (text.isBlank() ? " is empty" : " holds no PEM block")
                        + ": give a private key PEM (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)");
            }
            PrivateKeyInfo info = privateKeyInfo(pem, passphrase, where);
            String algorithm = info.getPrivateKeyAlgorithm().getAlgorithm().getId();
            if (!algorithm.equals(PKCSObjectIdentifiers.rsaEncryption.getId())) {
                throw new UsageException(where + " holds " + Map.of("1.2.840.10045.2.1", "an EC", "1.2.840.10040.4.1", "a DSA",
                        "1.3.101.112", "an Ed25519", "1.3.101.113", "an Ed448", "1.2.840.113549.1.1.10", "an RSASSA-PSS-only")
                        .getOrDefault(algorithm, "a non-RSA (" + algorithm + ")")
                        + " private key: NHS signed JWTs need an RSA key (RS512); make one with generate-keys");
            }
            try {
                if (new JcaPEMKeyConverter().getPrivateKey(info) instanceof RSAPrivateCrtKey key) {
                    return key;
                }
            } catch (PEMException | RuntimeException e) {
                throw new UsageException(where + " holds a damaged RSA key (" + NhsFiles.reason(e)
                        + "): make a new one with generate-keys", e);
            }
            throw new UsageException(where + " holds an RSA key without its public parts: "
                    + "export it again in PKCS#1 or PKCS#8 form");
        }

        private static PrivateKeyInfo privateKeyInfo(Object pem, char[] passphrase, String where) {
            if (pem instanceof PEMKeyPair pair) {
                return pair.getPrivateKeyInfo();
            }
            if (pem instanceof PrivateKeyInfo info) {
                return info;
            }
            if (pem instanceof PKCS8EncryptedPrivateKeyInfo || pem instanceof PEMEncryptedKeyPair) {
                if (passphrase == null || passphrase.length == 0) {
                    throw new UsageException(where + " is encrypted: give its passphrase with " + NhsSetting.PASSPHRASE.named());
                }
                try {
                    if (pem instanceof PEMEncryptedKeyPair pair) {
                        return pair.decryptKeyPair(new BcPEMDecryptorProvider(passphrase)).getPrivateKeyInfo();
                    }
                    // PBES2 needs a JCE provider; BouncyCastle is used for this one call only, never registered.
                    return ((PKCS8EncryptedPrivateKeyInfo) pem).decryptPrivateKeyInfo(new JceOpenSSLPKCS8DecryptorProviderBuilder()
                            .setProvider(new BouncyCastleProvider()).build(passphrase));
                } catch (Exception e) {
                    throw new UsageException(where + " cannot be decrypted with the passphrase given: check "
                            + NhsSetting.PASSPHRASE.named(), e);
                }
            }
            if (pem instanceof SubjectPublicKeyInfo) {
                throw new UsageException(where + " holds a public key: give the private key (the .pem, not the .pem.pub)");
            }
            if (pem instanceof X509CertificateHolder) {
                throw new UsageException(where + " holds a certificate: give the RSA private key it was made from");
            }
            throw new UsageException(where + " holds a " + pem.getClass().getSimpleName()
                    + ", not a private key: give the RSA private key PEM");
        }
    }
}
