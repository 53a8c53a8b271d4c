//SOURCES NhsPem.java

package nhsauth.client;

import java.io.IOException;
import java.net.URI;
import java.net.http.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.interfaces.*;
import java.security.spec.*;
import java.text.ParseException;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.function.Consumer;
import java.util.stream.Stream;

import com.nimbusds.jose.*;
import com.nimbusds.jose.jwk.*;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;

/**
 * RSA keys and JWKS as the NHS token endpoint reads them: what generate-keys, verify-keys and doctor do
 * with keys, for your own scripts too. Problems the user can fix are one-line {@link UsageException}s.
 */
public final class NhsKeys {
    /** The RSA key size NHS guidance asks for; commands warn about smaller keys. */
    public static final int RECOMMENDED_BITS = 4096;

    private NhsKeys() { }

    /**
     * A new RSA key pair of {@code bits} (NHS guidance: 4096; RS512 needs at least 2048). The prime search
     * takes a random time, so with two cores two generators race; the loser runs on as a daemon thread.
     * @throws IllegalArgumentException the JDK makes no RSA key of that size
     */
    public static KeyPair generateKeyPair(int bits) {
        newGenerator(bits); // a bad size fails here, on the caller's thread
        Executor daemons = task -> {
            Thread racer = new Thread(task, "key-generator");
            racer.setDaemon(true);
            racer.setPriority(Thread.NORM_PRIORITY - 1);
            racer.start();
        };
        CompletableFuture<?>[] racers = new CompletableFuture<?>[Math.min(2, Runtime.getRuntime().availableProcessors())];
        Arrays.setAll(racers, i -> CompletableFuture.supplyAsync(() -> newGenerator(bits).generateKeyPair(), daemons));
        try {
            return (KeyPair) CompletableFuture.anyOf(racers).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new NhsAuthException(NhsClient.ExitCode.INTERNAL, "interrupted while generating the key", e);
        } catch (ExecutionException e) {
            throw new NhsAuthException(NhsClient.ExitCode.INTERNAL, "key generation failed: " + e.getCause(), e.getCause());
        }
    }

    private static KeyPairGenerator newGenerator(int bits) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(new RSAKeyGenParameterSpec(bits, RSAKeyGenParameterSpec.F4));
            return generator;
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot make a " + bits + "-bit RSA key: " + e.getMessage(), e);
        }
    }

    /**
     * The files a key pair with {@code kid} is written to in {@code dir}, in this order: {@code <kid>.pem} (private key),
     * {@code <kid>.pem.pub} (public key), {@code <kid>.json} (JWKS). generate-keys allows only [A-Za-z0-9._-] in a kid.
     */
    public static List<Path> keyFiles(Path dir, String kid) {
        return List.of(dir.resolve(kid + ".pem"), dir.resolve(kid + ".pem.pub"), dir.resolve(kid + ".json"));
    }

    /** The kid the Python tool derived from a key file: its name without {@code .pem}; null for other names. */
    public static String kidFromKeyFile(Path pem) {
        String name = pem.getFileName().toString();
        return name.endsWith(".pem") && name.length() > 4 ? name.substring(0, name.length() - 4) : null;
    }

    /**
     * Checks, before a key is made, that {@link #writeKeyFiles} could write it now.
     * @throws FileAlreadyExistsException a key file exists ({@link FileAlreadyExistsException#getFile()} names it)
     * @throws UsageException {@code addTo} is missing, not a JWKS, or already has {@code kid}
     */
    public static void checkKeyFiles(Path dir, String kid, Path addTo, boolean force) throws FileAlreadyExistsException {
        if (!force) {
            for (Path p : keyFiles(dir, kid)) {
                if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                    throw new FileAlreadyExistsException(p.toString());
                }
            }
        }
        if (addTo != null) {
            jwksDocument(addTo, kid);
        }
    }

    /**
     * Creates {@code dir} and each folder missing above it, owner-only whatever the umask; {@code warnings}
     * hears if others can write in it. {@code what} names it in messages.
     * @throws UsageException it cannot be created or written in
     */
    public static void createKeyFolder(Path dir, String what, Consumer<String> warnings) {
        try {
            NhsFiles.createFolders(dir);
            if (!Files.isWritable(dir)) {
                throw new UsageException(what + " '" + dir + "' is not writable: choose a folder you can write to");
            }
            String mode = NhsFiles.posixMode(dir);
            if (mode != null && mode.substring(3).contains("w")) {
                warnings.accept("warning: others can write in " + what + " '" + dir + "' (" + mode
                        + "), so they can replace the JWKS you publish: make it yours (chmod go-w)");
            }
        } catch (IOException e) {
            if (e instanceof FileAlreadyExistsException f && dir.toAbsolutePath().toString().equals(f.getFile())) {
                throw new UsageException(what + " '" + dir + "' is a file: give a folder", e);
            }
            throw new UsageException("cannot create " + what + " '" + dir + "' (" + NhsFiles.reason(e)
                    + "): choose a folder you can write to", e);
        }
    }

    /**
     * Writes a key pair to its {@link #keyFiles} in existing {@code dir} as the Python tool did: PKCS#1 PEM,
     * owner-only before a byte is written; SubjectPublicKeyInfo PEM; a JWKS with alg RS512, use sig. With
     * {@code addTo} (through a link, the file it names) the key is also appended to that JWKS, all else kept
     * (a rotation). All are staged, then moved into place; without {@code force} never over a key file.
     * @return how many keys {@code addTo} holds now, the new one included; 0 without {@code addTo}
     * @throws FileAlreadyExistsException a key file exists ({@link FileAlreadyExistsException#getFile()} names it)
     * @throws UsageException {@code addTo} is missing, not a JWKS, or already has {@code kid}; the drive keeps
     *         no permissions or ACLs to keep the private key private
     * @throws IOException a file cannot be written
     */
    public static int writeKeyFiles(Path dir, String kid, KeyPair pair, Path addTo, boolean force) throws IOException {
        Map<String, Object> document = addTo == null ? null : jwksDocument(addTo, kid);
        Map<String, Object> members = new RSAKey.Builder((RSAPublicKey) pair.getPublic()).keyID(kid)
                .algorithm(JWSAlgorithm.RS512).keyUse(KeyUse.SIGNATURE).build().toJSONObject();
        Map<String, Object> jwk = new LinkedHashMap<>(); // in the Python tool's member order, then any others
        List.of("kty", "n", "e", "alg", "kid", "use").stream().filter(members::containsKey)
                .forEach(name -> jwk.put(name, members.get(name)));
        jwk.putAll(members);
        List<Path> files = keyFiles(dir, kid);
        for (Path file : files) {
            NhsFiles.removeStaleTemporaries(file);
        }
        try (NhsFiles.StagedFile privateKey = stage(files.get(0), NhsPem.privateKeyPem(pair.getPrivate()), true);
             NhsFiles.StagedFile publicKey = stage(files.get(1), NhsPem.pem("PUBLIC KEY", pair.getPublic().getEncoded()), false);
             NhsFiles.StagedFile jwks = stage(files.get(2), withKeys(Map.of(), List.of(jwk)), false);
             NhsFiles.StagedFile rotated = document == null ? null : stage(addTo.toRealPath(),
                     withKeys(document, Stream.concat(keysOf(document).stream(), Stream.of(jwk)).toList()), false)) {
            privateKey.commit(force);
            publicKey.commit(force);
            jwks.commit(force);
            if (rotated != null) {
                rotated.commit(true);
            }
        }
        return document == null ? 0 : keysOf(document).size() + 1;
    }

    private static NhsFiles.StagedFile stage(Path file, String content, boolean ownerOnly) throws IOException {
        return NhsFiles.StagedFile.stage(file, content.getBytes(StandardCharsets.UTF_8), ownerOnly);
    }

    /** {@link #readPrivateKey(Path, char[], Consumer)} without its warnings. */
    public static RSAPrivateCrtKey readPrivateKey(Path file, char[] passphrase) {
        return readPrivateKey(file, passphrase, warning -> { });
    }

    /**
     * Reads an RSA private key from PEM: PKCS#1 ({@code BEGIN RSA PRIVATE KEY}, as generate-keys writes it),
     * PKCS#8 ({@code BEGIN PRIVATE KEY}, as {@code openssl genpkey} does), either encrypted. As ssh, it refuses
     * a key file of yours open to group or others; one another user owns is read, with a line for {@code warnings}.
     * @throws UsageException the file is missing or unreadable, open to others, is not an RSA private key (a public
     *         key, a certificate, an EC or DSA key), or the passphrase is missing or wrong
     */
    public static RSAPrivateCrtKey readPrivateKey(Path file, char[] passphrase, Consumer<String> warnings) {
        String text = NhsFiles.readText(file, "private key file");
        RSAPrivateCrtKey key = NhsPem.read(text, passphrase, "private key file '" + file + "'");
        try {
            NhsFiles.checkPrivateKey(file, warnings);
        } catch (IOException e) {
            throw new UsageException("cannot tell who can open private key file '" + file + "' ("
                    + NhsFiles.reason(e) + ")", e);
        }
        return key;
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

    /** RFC 7638 SHA-256 thumbprint, base64url: the fingerprint to compare keys by. */
    public static String thumbprint(RSAPublicKey publicKey) {
        return thumbprint(new RSAKey.Builder(publicKey).build());
    }

    /** The same for any key of a JWKS, from its public members. */
    public static String thumbprint(JWK jwk) {
        try {
            return jwk.computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Reads a JWKS file; a {@link UsageException} if it is missing, unreadable or not a JWKS. */
    public static JWKSet loadJwks(Path file) {
        try {
            return JWKSet.parse(NhsFiles.readText(file, "JWKS file"));
        } catch (ParseException e) {
            throw notAJwks(file, e);
        }
    }

    /**
     * A JWKS from a file or an http(s) URL, fetched as the token endpoint does ({@code User-Agent: APIM}),
     * through the environment's proxy, trusting {@code caCertificates} (or null) besides the JDK's CAs.
     * @throws UsageException missing file, bad URL, a non-200 answer or not a JWKS
     * @throws NetworkException the URL cannot be reached
     */
    public static JWKSet loadJwks(String fileOrUrl, Duration timeout, Path caCertificates) {
        String source = fileOrUrl.trim();
        if (!source.matches("(?i)[a-z][a-z0-9+.-]*://.*")) {
            return loadJwks(Path.of(source));
        }
        URI uri = NhsSetting.checkUrl(source, "JWKS URL");
        HttpResponse<byte[]> response = new NhsHttp(timeout, caCertificates, System.getenv(), null, line -> { }).exchange(
                HttpRequest.newBuilder(uri).timeout(timeout).header("User-Agent", "APIM").header("Accept", "application/json")
                        .GET().build(), "JWKS URL", NhsHttp.MAX_JWKS_BYTES);
        if (response.statusCode() != 200) {
            throw new UsageException("the JWKS URL " + source + " answered HTTP " + response.statusCode()
                    + ": the token endpoint could not fetch it either; publish the JWKS there");
        }
        try {
            return JWKSet.parse(new String(response.body(), StandardCharsets.UTF_8));
        } catch (ParseException e) {
            throw new UsageException("the JWKS URL " + source + " does not serve a valid JWKS (" + e.getMessage()
                    + "): publish the JSON from generate-keys");
        }
    }

    private static UsageException notAJwks(Path file, ParseException e) {
        return new UsageException("'" + file + "' is not a valid JWKS (" + e.getMessage()
                + "): expected {\"keys\": [ ... ]}");
    }

    /**
     * Checks that {@code key} is registered in {@code jwks} as the token endpoint looks it up: under {@code kid}
     * an RSA key of the same modulus and exponent, alg absent or RS512, use absent or sig. {@code source} names the JWKS.
     * @param kid the kid the key signs with; null for the JWKS's only key
     * @return the kid checked
     * @throws UsageException the first mismatch, and what to do about it; no kid and not exactly one key
     */
    public static String checkRegistered(RSAPublicKey key, String kid, JWKSet jwks, String source) {
        List<JWK> keys = jwks.getKeys();
        if (kid == null && (keys.size() != 1 || keys.get(0).getKeyID() == null)) {
            throw new UsageException("cannot tell which kid to check: none was given (a key file's name gives one "
                    + "when it ends in .pem) and " + source + " holds " + keys.size() + (keys.size() == 1 ? " key without one"
                    : " keys") + "; give " + NhsSetting.KID.named());
        }
        String checked = kid != null ? kid : keys.get(0).getKeyID();
        Mismatch mismatch = mismatch(key, checked, jwks, source);
        if (mismatch != null) {
            throw new UsageException(mismatch.problem() + ": " + mismatch.fix());
        }
        return checked;
    }

    /** What is wrong, and what to do about it. */
    record Mismatch(String problem, String fix) { }

    private static final String ANOTHER_KEY_FIX = "register this key's JWKS, or use the private key of the registered "
            + "one (the token endpoint would answer 'JWT signature verification failed')";

    /** The check behind {@link #checkRegistered}, for doctor's report: null when the key is registered under kid. */
    static Mismatch mismatch(RSAPublicKey key, String kid, JWKSet jwks, String source) {
        JWK found = jwks.getKeyByKeyId(kid);
        String registered = "kid '" + kid + "' in " + source;
        if (found == null) {
            List<JWK> keys = jwks.getKeys();
            String there = keys.stream().filter(k -> k.getKeyID() != null && k instanceof RSAKey r && sameKey(r, key))
                    .map(JWK::getKeyID).findFirst().orElse(null);
            String kids = keys.isEmpty() ? "none"
                    : String.join(", ", keys.stream().map(k -> String.valueOf(k.getKeyID())).toList());
            return new Mismatch("no key with " + registered + " (kids there: " + kids + ")",
                    there != null ? "this key is there as kid '" + there + "', so use " + NhsSetting.KID.shortName() + " " + there
                            : "publish this key's JWKS (thumbprint " + thumbprint(key) + ")"
                                    + (keys.isEmpty() ? "" : " or use the private key of one of those kids"));
        }
        if (!(found instanceof RSAKey rsa)) {
            return new Mismatch(registered + " is a " + found.getKeyType() + " key, not RSA",
                    "register the RSA public key from generate-keys");
        }
        if (!rsa.getModulus().decodeToBigInteger().equals(key.getModulus())) {
            return new Mismatch(registered + " is another key, with another modulus (registered thumbprint "
                    + thumbprint(rsa) + ", this key " + thumbprint(key) + ")", ANOTHER_KEY_FIX);
        }
        if (!sameKey(rsa, key)) {
            return new Mismatch(registered + " is another key, with another public exponent", ANOTHER_KEY_FIX);
        }
        if (found.getAlgorithm() != null && !JWSAlgorithm.RS512.equals(found.getAlgorithm())) {
            return new Mismatch(registered + " says alg " + found.getAlgorithm(),
                    "NHS signed JWTs use RS512, so set \"alg\": \"RS512\" or remove alg");
        }
        if (found.getKeyUse() != null && !KeyUse.SIGNATURE.equals(found.getKeyUse())) {
            return new Mismatch(registered + " says use " + found.getKeyUse(),
                    "a client-assertion key must be for signatures, so set \"use\": \"sig\" or remove use");
        }
        return null;
    }

    private static boolean sameKey(RSAKey jwk, RSAPublicKey key) {
        return jwk.getModulus().decodeToBigInteger().equals(key.getModulus())
                && jwk.getPublicExponent().decodeToBigInteger().equals(key.getPublicExponent());
    }

    /**
     * The JWKS in {@code file} with every member in order, keys nimbus does not know too, so that adding or removing
     * a key loses nothing published; refused if not a JWKS or it has a key under {@code kid} (null: no kid check).
     */
    private static Map<String, Object> jwksDocument(Path file, String kid) {
        Map<String, Object> document;
        try {
            document = JSONObjectUtils.parse(NhsFiles.readText(file, "JWKS file"));
            JWKSet.parse(document);
        } catch (ParseException e) {
            throw notAJwks(file, e);
        }
        if (kid != null && keysOf(document).stream().anyMatch(k -> kid.equals(k.get("kid")))) {
            throw new UsageException("'" + file + "' already has a key with kid '" + kid
                    + "': choose a new " + NhsSetting.KID.shortName() + " for the new key");
        }
        return document;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> keysOf(Map<String, Object> document) {
        return (List<Map<String, Object>>) document.get("keys");
    }

    /** The document with {@code keys} for its keys, everything else kept, as JWKS text indented as the Python tool's. */
    private static String withKeys(Map<String, Object> document, List<?> keys) {
        Map<String, Object> doc = new LinkedHashMap<>(document);
        doc.put("keys", keys);
        return NhsJson.pretty(doc) + "\n";
    }

    /**
     * Removes the key(s) with {@code kid} from the JWKS {@code file}, the last step of a rotation: all else kept
     * in order, the file (through a link, the file it names) replaced atomically, as {@link #writeKeyFiles} adds a key.
     * @return the kids the JWKS holds now
     * @throws UsageException {@code file} is missing or not a JWKS, has no key with {@code kid}, or no other key
     * @throws IOException the file cannot be written
     */
    public static List<String> removeFromJwks(Path file, String kid) throws IOException {
        Map<String, Object> document = jwksDocument(file, null);
        List<Map<String, Object>> keys = keysOf(document);
        List<Map<String, Object>> kept = keys.stream().filter(k -> !kid.equals(k.get("kid"))).toList();
        if (kept.size() == keys.size()) {
            throw new UsageException("'" + file + "' has no key with kid '" + kid + "' (kids there: " + (keys.isEmpty()
                    ? "none" : String.join(", ", keys.stream().map(k -> String.valueOf(k.get("kid"))).toList()))
                    + "): check the kid");
        }
        if (kept.isEmpty()) {
            throw new UsageException("'" + file + "' has no key but kid '" + kid + "', and without a key the app gets "
                    + "no token: add the new key first (generate-keys --add-to-jwks), publish it, then remove this one");
        }
        try (NhsFiles.StagedFile rewritten = stage(file.toRealPath(), withKeys(document, kept), false)) {
            rewritten.commit(true);
        }
        return kept.stream().map(k -> String.valueOf(k.get("kid"))).toList();
    }
}
