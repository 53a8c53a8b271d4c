///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Check that a private key matches the JWKS registered for it (the troubleshooting step)

import nhsauth.cli.*;
import nhsauth.client.*;

import java.nio.file.Path;
import java.security.interfaces.*;

import picocli.CommandLine.*;

@Command(name = "verify-keys", sortOptions = false,
        description = {"Check that a private key matches the JWKS registered for it: the key loads and is RSA, "
                + "the kid is in the JWKS, modulus and exponent match, alg is absent or RS512, use is absent or sig.",
                "Needs --private-key and --jwks. Prints a one-line verdict on stdout (exit 0), or the first mismatch "
                        + "and what to do (exit 2; exit 5 when a JWKS URL cannot be fetched: network, TLS, an answer too large)."},
        footer = {"%nExample:", "  verify-keys --private-key .auth/int-1.pem --jwks .auth/int-1.json"})
public class VerifyKeys extends NhsCli.Base {

    @Mixin
    NhsCli.KeyOptions keyFile;

    @Option(names = "--jwks", paramLabel = "FILE|URL",
            description = "The JWKS registered for the app: a file or an https URL (env NHS_JWKS).")
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
        String givenKid = keyFile.kid();
        if (privateKey == null) {
            throw new UsageException("no --private-key: give the private key PEM to check (or set NHS_PRIVATE_KEY)");
        }
        if (NhsCli.blankToNull(jwks) == null) {
            throw new UsageException("no --jwks: give the registered JWKS file or URL (or set NHS_JWKS)");
        }
        RSAPrivateCrtKey key = NhsKeys.readPrivateKey(privateKey, keyFile.passphrase, NhsCli.err(spec)::println);
        RSAPublicKey publicKey = NhsKeys.publicKeyOf(key);
        String keyId = NhsKeys.checkRegistered(publicKey, givenKid != null ? givenKid : NhsKeys.kidFromKeyFile(privateKey),
                NhsKeys.loadJwks(jwks, connection.timeout, connection.caCert), jwks);
        int bits = key.getModulus().bitLength();
        if (bits < NhsKeys.RECOMMENDED_BITS) {
            NhsCli.err(spec).println("warning: the key has " + bits + " bits; NHS guidance asks for " + NhsKeys.RECOMMENDED_BITS);
        }
        NhsCli.out(spec).println("OK: " + privateKey + " matches kid '" + keyId + "' in " + jwks + " (RSA " + bits
                + " bits, thumbprint " + NhsKeys.thumbprint(publicKey) + ")");
        return NhsClient.ExitCode.OK;
    }
}
