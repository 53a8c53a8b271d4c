///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87
//SOURCES NhsClient.java
//DESCRIPTION Check that a private key matches the JWKS registered for it (the troubleshooting step)

import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.interfaces.RSAPrivateCrtKey;
import java.util.concurrent.Callable;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;

import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "verify-keys", mixinStandardHelpOptions = true, sortOptions = false,
        version = "nhs-auth verify-keys 1.0",
        description = {"Check that a private key matches the JWKS registered for it: the key loads and is RSA, "
                + "the kid is in the JWKS, modulus and exponent match, alg is absent or RS512, use is absent or sig.",
                "Prints a one-line verdict on stdout (exit 0), or the first mismatch and what to do (exit 2)."},
        footer = {"%nExample:", "  verify-keys --private-key .auth/int-1.pem --jwks .auth/int-1.json", "%n",
                NhsClient.ExitCode.TABLE})
public class VerifyKeys implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--private-key", paramLabel = "PEM", defaultValue = "${env:NHS_PRIVATE_KEY}",
            showDefaultValue = Visibility.NEVER, description = "The private key (env NHS_PRIVATE_KEY). Required.")
    Path privateKey;

    @Option(names = "--jwks", paramLabel = "FILE|URL", defaultValue = "${env:NHS_JWKS}",
            description = "The JWKS registered for the app: a file or an https URL (env NHS_JWKS). Required.")
    String jwks;

    @Option(names = "--kid", paramLabel = "KID", defaultValue = "${env:NHS_KID}",
            description = "Key id to check (env NHS_KID; default: as get-token derives it, the key file's name "
                    + "without .pem; else the JWKS's only key).")
    String kid;

    @Option(names = "--private-key-passphrase", paramLabel = "PASSPHRASE",
            defaultValue = "${env:NHS_PRIVATE_KEY_PASSPHRASE}", showDefaultValue = Visibility.NEVER,
            description = "Passphrase of an encrypted key; prefer env NHS_PRIVATE_KEY_PASSPHRASE.")
    String passphrase;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "${env:NHS_TIMEOUT:-30}",
            description = "Seconds allowed to fetch a JWKS URL (default: ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--cacert", paramLabel = "PEM", defaultValue = "${env:NHS_CA_CERT}",
            description = "Extra trusted CA certificates for a JWKS URL behind a TLS-inspecting proxy (env NHS_CA_CERT).")
    Path caCert;

    @Option(names = "--verbose", description = "Stack traces for internal errors.")
    boolean verbose;

    public static void main(String... args) {
        NhsClient.Cli.main(new VerifyKeys(), args);
    }

    @Override
    public Integer call() {
        if (privateKey == null) {
            throw new NhsClient.UsageException("no --private-key: give the private key PEM to check (or set NHS_PRIVATE_KEY)");
        }
        if (NhsClient.blankToNull(jwks) == null) {
            throw new NhsClient.UsageException("no --jwks: give the registered JWKS file or URL (or set NHS_JWKS)");
        }
        RSAPrivateCrtKey key = NhsClient.readPrivateKey(privateKey, passphrase == null ? null : passphrase.toCharArray());
        JWKSet set = NhsClient.loadJwks(jwks, NhsClient.parseTimeout(timeout, "--timeout"), caCert);
        String keyId = NhsClient.blankToNull(kid) != null ? kid.trim() : kidFor(privateKey, set);
        String thumbprint = NhsClient.thumbprint(NhsClient.publicKeyOf(key));

        JWK found = set.getKeyByKeyId(keyId);
        if (found == null) {
            String sameKey = set.getKeys().stream().filter(k -> k instanceof RSAKey && sameKey((RSAKey) k, key))
                    .map(JWK::getKeyID).findFirst().orElse(null);
            throw new NhsClient.UsageException("no key with kid '" + keyId + "' in " + jwks + " (kids there: "
                    + kids(set) + "): " + (sameKey != null ? "this private key is there as kid '" + sameKey
                    + "', so use --kid " + sameKey : "publish this key's JWKS (thumbprint " + thumbprint
                    + ") or use the private key of one of those kids"));
        }
        if (!(found instanceof RSAKey)) {
            throw new NhsClient.UsageException("kid '" + keyId + "' in " + jwks + " is a " + found.getKeyType()
                    + " key, not RSA: register the RSA public key from generate-keys");
        }
        RSAKey registered = (RSAKey) found;
        if (!registered.getModulus().decodeToBigInteger().equals(key.getModulus())) {
            throw new NhsClient.UsageException("kid '" + keyId + "' in " + jwks + " has another modulus than "
                    + privateKey + " (registered thumbprint " + thumbprintOf(registered) + ", this key " + thumbprint
                    + "): the token endpoint would answer 'JWT signature verification failed'; register this key's "
                    + "JWKS or use the matching private key");
        }
        if (!registered.getPublicExponent().decodeToBigInteger().equals(key.getPublicExponent())) {
            throw new NhsClient.UsageException("kid '" + keyId + "' in " + jwks + " has another public exponent than "
                    + privateKey + ": register this key's JWKS (generate-keys writes it)");
        }
        if (registered.getAlgorithm() != null && !JWSAlgorithm.RS512.equals(registered.getAlgorithm())) {
            throw new NhsClient.UsageException("kid '" + keyId + "' in " + jwks + " says alg " + registered.getAlgorithm()
                    + ": NHS signed JWTs use RS512; set \"alg\": \"RS512\" or remove alg");
        }
        if (registered.getKeyUse() != null && !KeyUse.SIGNATURE.equals(registered.getKeyUse())) {
            throw new NhsClient.UsageException("kid '" + keyId + "' in " + jwks + " says use " + registered.getKeyUse()
                    + ": a client-assertion key must be for signatures; set \"use\": \"sig\" or remove use");
        }
        int bits = key.getModulus().bitLength();
        if (bits < 4096) {
            NhsClient.Cli.err(spec).println("warning: the key has " + bits + " bits; NHS guidance asks for 4096");
        }
        PrintWriter out = NhsClient.Cli.out(spec);
        out.println("OK: " + privateKey + " matches kid '" + keyId + "' in " + jwks + " (RSA " + bits
                + " bits, thumbprint " + thumbprint + ")");
        out.flush();
        return NhsClient.ExitCode.OK;
    }

    /** As get-token derives it from the file name; for another name, the JWKS's only key if it has one. */
    private static String kidFor(Path pem, JWKSet set) {
        String derived = NhsClient.kidFromKeyFile(pem);
        if (derived != null) {
            return derived;
        }
        if (set.getKeys().size() == 1 && set.getKeys().get(0).getKeyID() != null) {
            return set.getKeys().get(0).getKeyID();
        }
        throw new NhsClient.UsageException("cannot tell which kid to check: '" + pem.getFileName()
                + "' does not end in .pem and the JWKS holds " + set.getKeys().size() + " keys; give --kid");
    }

    private static boolean sameKey(RSAKey jwk, RSAPrivateCrtKey key) {
        return jwk.getModulus().decodeToBigInteger().equals(key.getModulus());
    }

    private static String thumbprintOf(RSAKey jwk) {
        try {
            return jwk.computeThumbprint().toString();
        } catch (com.nimbusds.jose.JOSEException e) {
            return "?";
        }
    }

    private static String kids(JWKSet set) {
        return set.getKeys().isEmpty() ? "none"
                : String.join(", ", set.getKeys().stream().map(k -> String.valueOf(k.getKeyID())).toList());
    }
}
