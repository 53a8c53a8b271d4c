//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87

package nhsauth.client;

import java.io.*;
import java.security.interfaces.RSAPrivateCrtKey;
import java.util.Map;

import org.bouncycastle.asn1.pkcs.*;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.*;
import org.bouncycastle.openssl.bc.BcPEMDecryptorProvider;
import org.bouncycastle.openssl.jcajce.*;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Encrypted PKCS#8 and PKCS#1 through BouncyCastle, and whatever is not an RSA private key, named for the
 * user: a class of its own so that the JVM touches BouncyCastle's jars only when a key needs it.
 */
final class NhsPemBouncyCastle {
    private NhsPemBouncyCastle() {
    }

    static RSAPrivateCrtKey read(String text, char[] passphrase, String where) {
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
        throw new UsageException(where + " holds an RSA key without its public parts: export it again in PKCS#1 or PKCS#8 form");
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
                throw new UsageException(where + " is encrypted: give its passphrase with "
                        + NhsSetting.PASSPHRASE.named());
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
