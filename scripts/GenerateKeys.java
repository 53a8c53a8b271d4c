///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Generate an RSA key pair and its JWKS for NHS signed-JWT authentication

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.*;
import java.nio.file.*;
import java.security.KeyPair;
import java.security.interfaces.RSAPublicKey;
import java.util.*;

import picocli.CommandLine.*;
import picocli.CommandLine.Help.Visibility;

@Command(name = "generate-keys", sortOptions = false,
        description = {"Generate an RSA key pair and the JWKS to register for an NHS application.",
                "Writes <kid>.pem (private key, PKCS#1, mode 600; on Windows an ACL for you alone), "
                        + "<kid>.pem.pub (public key) and <kid>.json (JWKS). Never overwrites a file unless --force is given."},
        footer = {"%nEnvironment: NHS_ENV, NHS_KID, NHS_OUTPUT_DIR, NHS_KEY_SIZE supply the options",
                "of the same name."})
public class GenerateKeys extends NhsCli.Base {

    static final int MINIMUM_KEY_SIZE = 2048;
    static final int MAXIMUM_KEY_SIZE = 16384;

    @Mixin
    NhsCli.EnvOption environment;

    @Option(names = "--kid", paramLabel = "KID",
            description = "Key id, also the file name stem (default: <env>-1).")
    String kid;

    @Option(names = "--output-dir", paramLabel = "DIR", defaultValue = ".",
            description = "Folder for the three files, created if missing (default: ${DEFAULT-VALUE}).")
    Path outputDir;

    @Option(names = "--key-size", paramLabel = "BITS", defaultValue = "" + NhsKeys.RECOMMENDED_BITS,
            description = "RSA modulus size; NHS guidance is 4096 (default: ${DEFAULT-VALUE}).")
    int keySize;

    @Option(names = "--add-to-jwks", paramLabel = "FILE",
            description = "Also add the new public key to this existing JWKS, keeping its other keys "
                    + "(for key rotation).")
    Path addToJwks;

    @Option(names = "--force", description = "Overwrite existing key and JWKS files.")
    boolean force;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text (report on stderr) or json (paths and thumbprint on stdout).")
    NhsCli.Format format;

    @Option(names = "--api-key", paramLabel = "KEY", showDefaultValue = Visibility.NEVER,
            description = "Accepted for compatibility with the Python tool; not used.")
    String apiKey;

    @Mixin
    NhsCli.VerboseOption verbose;

    /** Progress while the key is made: null shows it when stderr is a terminal; tests force it either way. */
    Boolean progress;

    public static void main(String... args) {
        NhsCli.main(new GenerateKeys(), args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter err = NhsCli.err(spec);
        // Only a typed --kid is blank: an empty NHS_KID counts as unset.
        if (kid != null && kid.isBlank()) {
            throw new UsageException("--kid '" + kid + "' is empty: give a key id (1-64 letters, digits, '.', '_' "
                    + "or '-'), or leave --kid out for " + environment.env.defaultKid());
        }
        String keyId = kid == null ? environment.env.defaultKid() : kid.trim();
        // A kid becomes file names: a safe alphabet, no leading '-' (a file '-x.pem' reads as an option to tools).
        if (!keyId.matches("[A-Za-z0-9._][A-Za-z0-9._-]{0,63}") || keyId.equals(".") || keyId.equals("..")) {
            String variable = NhsCli.variableBehind(spec, "--kid");
            throw new UsageException("invalid kid '" + keyId + "'" + (variable == null ? "" : " from " + variable)
                    + ": use 1-64 letters, digits, '.', '_' or '-', not starting with '-'");
        }
        if (keySize < MINIMUM_KEY_SIZE || keySize > MAXIMUM_KEY_SIZE) {
            throw new UsageException(NhsCli.source(spec, "--key-size") + " " + keySize + " is out of range: use "
                    + NhsKeys.RECOMMENDED_BITS + " (NHS guidance), or at least " + MINIMUM_KEY_SIZE
                    + " and at most " + MAXIMUM_KEY_SIZE);
        }
        try {
            NhsKeys.checkKeyFiles(outputDir, keyId, addToJwks, force);
            NhsKeys.createKeyFolder(outputDir, NhsCli.source(spec, "--output-dir"), err::println);
            if (keySize < NhsKeys.RECOMMENDED_BITS) {
                err.println("warning: a " + keySize + "-bit key is below the "
                        + NhsKeys.RECOMMENDED_BITS + " bits that NHS guidance asks for");
            }
            KeyPair pair;
            try (NhsProgress shown = NhsProgress.start(err, progress, "generating a " + keySize + "-bit RSA key")) {
                pair = NhsKeys.generateKeyPair(keySize);
            }
            int keys = NhsKeys.writeKeyFiles(outputDir, keyId, pair, addToJwks, force);
            report(keyId, NhsKeys.keyFiles(outputDir, keyId), NhsKeys.thumbprint((RSAPublicKey) pair.getPublic()), keys);
        } catch (FileAlreadyExistsException e) {
            // A file that exists, or appeared between the check and the write.
            throw new UsageException("'" + e.getFile() + "' already exists: choose another --kid or "
                    + "--output-dir, or pass --force to overwrite it");
        }
        return NhsClient.ExitCode.OK;
    }

    /** {@code keys}: how many the JWKS of --add-to-jwks holds now. */
    private void report(String keyId, List<Path> files, String thumbprint, int keys) {
        Path privateKey = files.get(0);
        Path publicKey = files.get(1);
        Path jwks = files.get(2);
        if (format == NhsCli.Format.json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("kid", keyId);
            result.put("private_key", privateKey.toString());
            result.put("public_key", publicKey.toString());
            result.put("jwks", jwks.toString());
            result.put("thumbprint", thumbprint);
            if (addToJwks != null) {
                result.put("added_to_jwks", addToJwks.toString());
            }
            NhsCli.out(spec).println(com.nimbusds.jose.util.JSONObjectUtils.toJSONString(result));
            return;
        }
        PrintWriter err = NhsCli.err(spec);
        // Written, so kept private by one of the two: POSIX permissions, or else an ACL.
        String privacy = privateKey.getFileSystem().supportedFileAttributeViews().contains("posix")
                ? "mode 600" : "only you can open it";
        err.println("Private key: " + privateKey + "  (keep it secret; " + privacy + ")");
        err.println("Public key:  " + publicKey);
        err.println("JWKS:        " + jwks);
        err.println("kid:         " + keyId);
        err.println("Thumbprint:  " + thumbprint + "  (RFC 7638, SHA-256)");
        err.println();
        err.println("NEXT STEPS");
        if (addToJwks != null) {
            err.println("  1. " + addToJwks + " now holds " + keys + " keys (the new kid '" + keyId
                    + "' beside " + (keys - 1) + " existing).");
            err.println("  2. Publish it where the old JWKS is registered (portal upload or your JWKS URL).");
            err.println("  3. Wait over an hour: the NHS token endpoint caches a JWKS for an hour.");
            err.println("  4. Switch to the new key: --private-key " + quoted(privateKey) + " --kid " + keyId);
            err.println("  5. Then remove the old key from the JWKS and publish it again.");
        } else {
            err.println("  1. Register the public key for your app: upload " + jwks
                    + " on the NHS developer portal (\"Manage public key\") or host it at your JWKS URL.");
            err.println("  2. Keep " + privateKey + " secret: never commit it or share it.");
            err.println("  3. Get a token: get-token --api-key YOUR_API_KEY --env " + environment.env.id()
                    + " --private-key " + quoted(privateKey));
        }
    }

    /** A path as a shell takes it: as it is when safe, else in single quotes (POSIX) or double quotes (Windows). */
    static String quoted(Path path) {
        String s = path.toString();
        if (s.matches("[\\w@%+=:,./-]+")) {
            return s;
        }
        return path.getFileSystem().getSeparator().equals("\\") ? "\"" + s + "\"" : "'" + s.replace("'", "'\\''") + "'";
    }
}
