///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Generate an RSA key pair and its JWKS for NHS signed-JWT authentication

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.RSAKeyGenParameterSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import com.nimbusds.jose.jwk.RSAKey;

import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "generate-keys", mixinStandardHelpOptions = true, sortOptions = false,
        versionProvider = NhsCli.Version.class,
        description = {"Generate an RSA key pair and the JWKS to register for an NHS application.",
                "Writes <kid>.pem (private key, PKCS#1, mode 600; on Windows an ACL for you alone), "
                        + "<kid>.pem.pub (public key) and <kid>.json (JWKS). Never overwrites a file unless --force is given."},
        footer = {"%nEnvironment: NHS_ENV, NHS_KID, NHS_OUTPUT_DIR, NHS_KEY_SIZE supply the options of "
                + "the same name."})
public class GenerateKeys implements Callable<Integer> {

    static final int RECOMMENDED_KEY_SIZE = 4096;
    static final int MINIMUM_KEY_SIZE = 2048;
    static final int MAXIMUM_KEY_SIZE = 16384;

    @Spec
    CommandSpec spec;

    @Mixin
    NhsCli.EnvOption environment;

    @Option(names = "--kid", paramLabel = "KID",
            description = "Key id, also the file name stem (default: <env>-1).")
    String kid;

    @Option(names = "--output-dir", paramLabel = "DIR", defaultValue = ".",
            description = "Folder for the three files, created if missing (default: ${DEFAULT-VALUE}).")
    Path outputDir;

    @Option(names = "--key-size", paramLabel = "BITS", defaultValue = "4096",
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
    Format format;

    @Option(names = "--api-key", paramLabel = "KEY", showDefaultValue = Visibility.NEVER,
            description = "Accepted for compatibility with the Python tool; not used.")
    String apiKey;

    @Mixin
    NhsCli.VerboseOption verbose;

    /** Progress while the key is made: null shows it when stderr is a terminal; tests force it either way. */
    Boolean progress;

    enum Format { text, json }

    /** The three files one key pair is written to. */
    record KeyFiles(Path privateKey, Path publicKey, Path jwks) {
        List<Path> all() {
            return List.of(privateKey, publicKey, jwks);
        }

        static KeyFiles in(Path dir, String kid) {
            return new KeyFiles(dir.resolve(kid + ".pem"), dir.resolve(kid + ".pem.pub"), dir.resolve(kid + ".json"));
        }
    }

    public static void main(String... args) {
        NhsCli.main(new GenerateKeys(), args);
    }

    @Override
    public Integer call() throws Exception {
        if (kid != null && kid.isBlank() && NhsCli.typed(spec, "--kid")) {
            throw new NhsClient.UsageException("--kid '" + kid + "' is empty: give a key id (1-64 letters, digits, '.', '_' "
                    + "or '-'), or leave --kid out for " + environment.env.defaultKid());
        }
        String keyId = checkKid(kid == null || kid.isBlank() ? environment.env.defaultKid() : kid.trim(),
                NhsCli.variableBehind(spec, "--kid"));
        checkKeySize();
        KeyFiles files = KeyFiles.in(outputDir, keyId);
        if (!force) {
            for (Path p : files.all()) {
                if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    throw alreadyExists(p);
                }
            }
        }
        Map<String, Object> rotated = addToJwks == null ? null : NhsJwks.readJwksDocument(addToJwks);
        if (rotated != null && NhsJwks.keysOf(rotated).stream().anyMatch(k -> keyId.equals(k.get("kid")))) {
            throw new NhsClient.UsageException("'" + addToJwks + "' already has a key with kid '" + keyId
                    + "': choose a new --kid for the new key");
        }
        prepareOutputDir();
        if (keySize < RECOMMENDED_KEY_SIZE) {
            NhsCli.err(spec).println("warning: a " + keySize + "-bit key is below the "
                    + RECOMMENDED_KEY_SIZE + " bits that NHS guidance asks for");
        }

        KeyPair pair;
        try (NhsProgress shown = NhsProgress.start(NhsCli.err(spec), NhsProgress.wanted(progress, NhsCli.err(spec)),
                "generating a " + keySize + "-bit RSA key")) {
            pair = generate(keySize);
        }
        RSAPublicKey publicKey = (RSAPublicKey) pair.getPublic();
        RSAKey jwk = NhsJwks.publicJwk(publicKey, keyId);
        String thumbprint = NhsJwks.thumbprint(publicKey);

        writeKeyFiles(files, pair, jwk, rotated == null ? null : addToJwks,
                rotated == null ? null : NhsJwks.withKeyAdded(rotated, jwk), force);
        report(keyId, files, thumbprint, rotated == null ? 0 : NhsJwks.keysOf(rotated).size());
        return NhsClient.ExitCode.OK;
    }

    private void checkKeySize() {
        if (keySize < MINIMUM_KEY_SIZE || keySize > MAXIMUM_KEY_SIZE) {
            throw new NhsClient.UsageException(NhsCli.source(spec, "--key-size") + " " + keySize + " is out of range: use "
                    + RECOMMENDED_KEY_SIZE + " (NHS guidance), or at least " + MINIMUM_KEY_SIZE
                    + " and at most " + MAXIMUM_KEY_SIZE);
        }
    }

    private void prepareOutputDir() {
        String option = NhsCli.source(spec, "--output-dir");
        try {
            Files.createDirectories(outputDir);
        } catch (FileAlreadyExistsException e) {
            throw new NhsClient.UsageException(option + " '" + outputDir + "' is a file: give a folder");
        } catch (IOException e) {
            throw new NhsClient.UsageException("cannot create " + option + " '" + outputDir + "' (" + e
                    + "): choose a folder you can write to");
        }
        if (!Files.isWritable(outputDir)) {
            throw new NhsClient.UsageException(option + " '" + outputDir + "' is not writable: "
                    + "choose a folder you can write to");
        }
    }

    /**
     * A 4096-bit key takes anything from a fraction of a second to several, depending on how
     * soon the prime search succeeds; with two cores, two of the JDK's own generators race and
     * the first key wins, which cuts the typical wait without touching how keys are made. The
     * loser runs on as a daemon thread until it finishes or the command exits.
     */
    static KeyPair generate(int bits) throws GeneralSecurityException {
        newGenerator(bits); // a bad size fails here, on the caller's thread
        int racers = Math.min(2, Runtime.getRuntime().availableProcessors());
        CompletableFuture<KeyPair> first = new CompletableFuture<>();
        for (int i = 0; i < racers; i++) {
            Thread racer = new Thread(() -> {
                try {
                    first.complete(newGenerator(bits).generateKeyPair());
                } catch (GeneralSecurityException | RuntimeException e) {
                    first.completeExceptionally(e);
                }
            }, "key-generator-" + i);
            racer.setDaemon(true);
            racer.setPriority(Thread.NORM_PRIORITY - 1);
            racer.start();
        }
        try {
            return first.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GeneralSecurityException("interrupted while generating the key", e);
        } catch (ExecutionException e) {
            throw new GeneralSecurityException("key generation failed: " + e.getCause(), e.getCause());
        }
    }

    private static KeyPairGenerator newGenerator(int bits) throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(new RSAKeyGenParameterSpec(bits, RSAKeyGenParameterSpec.F4));
        return generator;
    }

    /**
     * Key ids become file names, so only a safe alphabet is allowed, and no leading '-': a file named
     * '-x.pem' reads as an option to the tools it is later given to. {@code variable}: where it came from.
     */
    static String checkKid(String kid, String variable) {
        if (kid == null || !kid.matches("[A-Za-z0-9._][A-Za-z0-9._-]{0,63}") || kid.equals(".") || kid.equals("..")) {
            throw new NhsClient.UsageException("invalid kid '" + kid + "'" + (variable == null ? "" : " from " + variable)
                    + ": use 1-64 letters, digits, '.', '_' or '-', not starting with '-'");
        }
        return kid;
    }

    /** Reports a file that exists, or appeared between our check and our write. */
    static NhsClient.UsageException alreadyExists(Path file) {
        return new NhsClient.UsageException("'" + file + "' already exists: choose another --kid or --output-dir, "
                + "or pass --force to overwrite it");
    }

    /** The private key as the Python tool wrote it: PKCS#1 PEM. */
    static String privateKeyPem(PrivateKey key) {
        return NhsKeys.pem("RSA PRIVATE KEY", NhsKeys.pkcs1Inside(key.getEncoded()));
    }

    /** The public key as SubjectPublicKeyInfo PEM ({@code BEGIN PUBLIC KEY}). */
    static String publicKeyPem(PublicKey key) {
        return NhsKeys.pem("PUBLIC KEY", key.getEncoded());
    }

    /**
     * Writes the key pair's three files, and the rotated JWKS if {@code rotatedJwksFile} is given:
     * each is staged beside its target first, then all are committed, the private key owner-only.
     * Without {@code force} an existing key file is never replaced. Paths of any filesystem.
     */
    static void writeKeyFiles(KeyFiles files, KeyPair pair, RSAKey jwk, Path rotatedJwksFile, String rotatedJwks,
            boolean force) throws IOException {
        try (NhsFiles.StagedFile privateKey = stage(files.privateKey(), privateKeyPem(pair.getPrivate()), true);
             NhsFiles.StagedFile publicPem = stage(files.publicKey(), publicKeyPem(pair.getPublic()), false);
             NhsFiles.StagedFile jwks = stage(files.jwks(), NhsJwks.jwksJson(List.of(jwk)), false);
             NhsFiles.StagedFile rotation = rotatedJwksFile == null ? null : stage(rotatedJwksFile, rotatedJwks, false)) {
            commit(privateKey, files.privateKey(), force);
            commit(publicPem, files.publicKey(), force);
            commit(jwks, files.jwks(), force);
            if (rotation != null) {
                rotation.commit(true);
            }
        }
    }

    private static NhsFiles.StagedFile stage(Path file, String content, boolean ownerOnly) throws IOException {
        return NhsFiles.StagedFile.stage(file, content.getBytes(StandardCharsets.UTF_8), ownerOnly);
    }

    private static void commit(NhsFiles.StagedFile staged, Path file, boolean force) throws IOException {
        try {
            staged.commit(force);
        } catch (FileAlreadyExistsException e) {
            throw alreadyExists(file);
        }
    }

    private void report(String keyId, KeyFiles files, String thumbprint, int keptKeys) throws IOException {
        if (format == Format.json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("kid", keyId);
            result.put("private_key", files.privateKey().toString());
            result.put("public_key", files.publicKey().toString());
            result.put("jwks", files.jwks().toString());
            result.put("thumbprint", thumbprint);
            if (addToJwks != null) {
                result.put("added_to_jwks", addToJwks.toString());
            }
            NhsCli.out(spec).println(NhsJson.compact(result));
            NhsCli.out(spec).flush();
            return;
        }
        var err = NhsCli.err(spec);
        String privacy = NhsFiles.protectionOf(files.privateKey()) == NhsFiles.Protection.ACL
                ? "only you can open it" : "mode 600";
        err.println("Private key: " + files.privateKey() + "  (keep it secret; " + privacy + ")");
        err.println("Public key:  " + files.publicKey());
        err.println("JWKS:        " + files.jwks());
        err.println("kid:         " + keyId);
        err.println("Thumbprint:  " + thumbprint + "  (RFC 7638, SHA-256)");
        err.println();
        err.println("NEXT STEPS");
        if (addToJwks != null) {
            err.println("  1. " + addToJwks + " now holds " + (keptKeys + 1) + " keys (the new kid '" + keyId
                    + "' beside " + keptKeys + " existing).");
            err.println("  2. Publish it where the old JWKS is registered (portal upload or your JWKS URL).");
            err.println("  3. Wait over an hour: the NHS token endpoint caches a JWKS for an hour.");
            err.println("  4. Switch to the new key: --private-key " + files.privateKey() + " --kid " + keyId);
            err.println("  5. Then remove the old key from the JWKS and publish it again.");
        } else {
            err.println("  1. Register the public key for your app: upload " + files.jwks()
                    + " on the NHS developer portal (\"Manage public key\") or host it at your JWKS URL.");
            err.println("  2. Keep " + files.privateKey() + " secret: never commit it or share it.");
            err.println("  3. Get a token: get-token --api-key YOUR_API_KEY --env " + environment.env.id()
                    + " --private-key " + files.privateKey());
        }
        err.flush();
    }
}
