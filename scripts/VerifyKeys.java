///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Check that a private key matches the JWKS registered for it (the troubleshooting step)

import nhsauth.cli.*;
import nhsauth.client.*;

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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "verify-keys", mixinStandardHelpOptions = true, sortOptions = false,
        versionProvider = NhsCli.Version.class,
        description = {"Check that a private key matches the JWKS registered for it: the key loads and is RSA, "
                + "the kid is in the JWKS, modulus and exponent match, alg is absent or RS512, use is absent or sig.",
                "Prints a one-line verdict on stdout (exit 0), or the first mismatch and what to do (exit 2)."},
        footer = {"%nExample:", "  verify-keys --private-key .auth/int-1.pem --jwks .auth/int-1.json"})
public class VerifyKeys implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    NhsCli.KeyOptions keyFile;

    @Option(names = "--jwks", paramLabel = "FILE|URL",
            description = "The JWKS registered for the app: a file or an https URL (env NHS_JWKS). Required.")
    String jwks;

    @Mixin
    NhsCli.ConnectionOptions connection;

    @Mixin
    NhsCli.VerboseOption verbose;

    public static void main(String... args) {
        NhsCli.main(new VerifyKeys(), args);
    }

    @Override
    public Integer call() {
        Path privateKey = keyFile.privateKey;
        String givenKid = keyFile.kid(spec);
        if (privateKey == null) {
            throw new NhsClient.UsageException("no --private-key: give the private key PEM to check (or set NHS_PRIVATE_KEY)");
        }
        if (NhsCli.blankToNull(jwks) == null) {
            throw new NhsClient.UsageException("no --jwks: give the registered JWKS file or URL (or set NHS_JWKS)");
        }
        RSAPrivateCrtKey key = NhsKeys.readPrivateKey(privateKey, keyFile.passphraseChars());
        JWKSet set = NhsJwks.loadJwks(jwks, connection.timeout,
                connection.caCert);
        String keyId = givenKid != null ? givenKid : kidFor(privateKey, set);
        String thumbprint = NhsJwks.thumbprint(NhsKeys.publicKeyOf(key));

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
            NhsCli.err(spec).println("warning: the key has " + bits + " bits; NHS guidance asks for 4096");
        }
        PrintWriter out = NhsCli.out(spec);
        out.println("OK: " + privateKey + " matches kid '" + keyId + "' in " + jwks + " (RSA " + bits
                + " bits, thumbprint " + thumbprint + ")");
        out.flush();
        return NhsClient.ExitCode.OK;
    }

    /** As get-token derives it from the file name; for another name, the JWKS's only key if it has one. */
    private static String kidFor(Path pem, JWKSet set) {
        String derived = NhsKeys.kidFromKeyFile(pem);
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
