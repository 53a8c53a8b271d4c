//DEPS info.picocli:picocli:4.7.7
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.shaded.gson.GsonBuilder;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * The NHS signed-JWT client, and the little the nhs-auth commands share.
 *
 * <p>Pull it into a JBang script with one line: {@code //SOURCES path/to/NhsClient.java}; its
 * {@code //DEPS} come along.
 */
public final class NhsClient {

    private NhsClient() {
    }

    // ------------------------------------------------------------------ environments

    /** An NHS API platform environment and its base URL; {@code local} is the mock server. */
    public enum Environment {
        PROD("prod", "https://api.service.nhs.uk"),
        INT("int", "https://int.api.service.nhs.uk"),
        DEV("dev", "https://dev.api.service.nhs.uk"),
        SANDBOX("sandbox", "https://sandbox.api.service.nhs.uk"),
        REF("ref", "https://ref.api.service.nhs.uk"),
        INTERNAL_DEV("internal-dev", "https://internal-dev.api.service.nhs.uk"),
        INTERNAL_QA("internal-qa", "https://internal-qa.api.service.nhs.uk"),
        LOCAL("local", "http://127.0.0.1:9000");

        /** The mock server's default port, which {@code local} points at. */
        public static final int LOCAL_PORT = 9000;

        private final String id;
        private final String baseUrl;

        Environment(String id, String baseUrl) {
            this.id = id;
            this.baseUrl = baseUrl;
        }

        public String id() {
            return id;
        }

        public String baseUrl() {
            return baseUrl;
        }

        /** The token endpoint: the client assertion's {@code aud} must equal it exactly. */
        public String tokenUrl() {
            return baseUrl + "/oauth2/token";
        }

        /** The kid the Python tool defaulted to. */
        public String defaultKid() {
            return id + "-1";
        }

        public static String validNames() {
            return Arrays.stream(values()).map(Environment::id).collect(Collectors.joining(", "));
        }

        /** @throws UsageException naming the valid environments */
        public static Environment parse(String name) {
            String wanted = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
            for (Environment e : values()) {
                if (e.id.equals(wanted)) {
                    return e;
                }
            }
            throw new UsageException("unknown environment '" + name + "': use one of " + validNames());
        }

        @Override
        public String toString() {
            return id;
        }
    }

    // ------------------------------------------------------------------ errors and exit codes

    /** The toolkit's exit codes, one meaning each, the same for every command. */
    public static final class ExitCode {
        public static final int OK = 0;
        public static final int INTERNAL = 1;
        public static final int USAGE = 2;
        public static final int TOKEN_REFUSED = 3;
        public static final int API_ERROR = 4;
        public static final int NETWORK = 5;

        public static final String TABLE = "Exit codes:%n"
                + "  0  success%n"
                + "  1  unexpected internal error (run again with --verbose for a stack trace)%n"
                + "  2  bad usage or bad input: options, files, formats, refusal to overwrite%n"
                + "  3  the token endpoint refused the client assertion%n"
                + "  4  the API answered with a non-2xx status%n"
                + "  5  network failure: DNS, connect, TLS, timeout%n";

        private ExitCode() {
        }
    }

    /** A failure the user can act on; its message is one line that names the problem and the fix. */
    public static class NhsAuthException extends RuntimeException {
        private final int exitCode;

        public NhsAuthException(int exitCode, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    /** Bad options, files or formats (exit 2). */
    public static class UsageException extends NhsAuthException {
        public UsageException(String message) {
            this(message, null);
        }

        public UsageException(String message, Throwable cause) {
            super(ExitCode.USAGE, message, cause);
        }
    }

    // ------------------------------------------------------------------ keys and JWKS

    /** Key ids become file names, so only a safe alphabet is allowed. */
    public static String checkKid(String kid) {
        if (kid == null || !kid.matches("[A-Za-z0-9._-]{1,64}") || kid.equals(".") || kid.equals("..")) {
            throw new UsageException("invalid kid '" + kid + "': use 1-64 letters, digits, '.', '_' or '-'");
        }
        return kid;
    }

    /** The public JWK as the NHS portal and the Python tool publish it. */
    public static RSAKey publicJwk(RSAPublicKey publicKey, String kid) {
        return new RSAKey.Builder(publicKey)
                .keyID(kid)
                .algorithm(JWSAlgorithm.RS512)
                .keyUse(KeyUse.SIGNATURE)
                .build();
    }

    /** RFC 7638 SHA-256 thumbprint, base64url: the fingerprint to compare keys by. */
    public static String thumbprint(RSAPublicKey publicKey) {
        try {
            return new RSAKey.Builder(publicKey).build().computeThumbprint().toString();
        } catch (JOSEException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** A JWK as a map in the Python tool's member order: kty, n, e, alg, kid, use. */
    static Map<String, Object> jwkMembers(JWK jwk) {
        Map<String, Object> json = jwk.toJSONObject();
        Map<String, Object> ordered = new LinkedHashMap<>();
        for (String name : List.of("kty", "n", "e", "alg", "kid", "use")) {
            if (json.containsKey(name)) {
                ordered.put(name, json.get(name));
            }
        }
        ordered.putAll(json);
        return ordered;
    }

    /** A JWKS document, indented by two spaces as the Python tool wrote it. */
    public static String jwksJson(List<? extends JWK> keys) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("keys", keys.stream().map(NhsClient::jwkMembers).collect(Collectors.toList()));
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(doc) + "\n";
    }

    /** Reads a JWKS file; any problem is a {@link UsageException} naming the file. */
    public static JWKSet readJwksFile(Path file) {
        String text = readText(file, "JWKS file");
        try {
            return JWKSet.parse(text);
        } catch (java.text.ParseException e) {
            throw new UsageException("'" + file + "' is not a valid JWKS (" + e.getMessage()
                    + "): expected {\"keys\": [ ... ]}");
        }
    }

    // ------------------------------------------------------------------ files

    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

    /** Reads a small text file, turning every I/O failure into a one-line usage error. */
    public static String readText(Path file, String what) {
        try {
            if (Files.isDirectory(file)) {
                throw new UsageException(what + " '" + file + "' is a directory: give the path of a file");
            }
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UsageException(what + " '" + file + "' does not exist: check the path");
        } catch (AccessDeniedException e) {
            throw new UsageException(what + " '" + file + "' cannot be read: check its permissions");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new UsageException(what + " '" + file + "' is not text: check you gave the right file");
        } catch (IOException e) {
            throw new UsageException("cannot read " + what + " '" + file + "': " + e.getMessage());
        }
    }

    /**
     * Writes a file so that no reader ever sees it half-written: a temp file in the same folder,
     * created with its final permissions, then moved into place. Without {@code replace} an
     * existing file is never touched, even if it appears while we write.
     */
    public static void writeAtomically(Path target, byte[] content, boolean ownerOnly, boolean replace)
            throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp",
                PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        try {
            Files.write(tmp, content);
            if (!ownerOnly) {
                Files.setPosixFilePermissions(tmp, WORLD_READABLE);
            }
            try (var channel = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            if (replace) {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                // A hard link is an atomic create-if-absent: rename would silently replace.
                Files.createLink(target, tmp);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Reports a file that appeared between our check and our write. */
    public static UsageException alreadyExists(Path file) {
        return new UsageException("'" + file + "' already exists: choose another --kid or --output-dir, "
                + "or pass --force to overwrite it");
    }

    // ------------------------------------------------------------------ JSON output

    /** Compact JSON for {@code --format json}, keeping the caller's member order. */
    public static String toJson(Map<String, ?> members) {
        return new GsonBuilder().disableHtmlEscaping().serializeNulls().create().toJson(members);
    }

    // ------------------------------------------------------------------ command-line plumbing

    /** What every command shares on the command line: exit codes, one-line errors, --verbose. */
    public static final class Cli {
        private Cli() {
        }

        /** Runs a picocli command and returns its exit code; all failures become one line on stderr. */
        public static int run(Object command, String... args) {
            return commandLine(command).execute(args);
        }

        /** A CommandLine wired with the toolkit's error handling, for main() and for tests. */
        public static CommandLine commandLine(Object command) {
            CommandLine cl = new CommandLine(command);
            cl.setExecutionExceptionHandler(Cli::onExecutionException);
            cl.setParameterExceptionHandler(Cli::onParameterException);
            cl.setExitCodeExceptionMapper(t -> t instanceof NhsAuthException
                    ? ((NhsAuthException) t).exitCode() : ExitCode.INTERNAL);
            return cl;
        }

        private static int onParameterException(CommandLine.ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            String name = cl.getCommandSpec().qualifiedName();
            cl.getErr().println(name + ": " + oneLine(ex.getMessage()) + " (see '" + name + " --help')");
            cl.getErr().flush();
            return ExitCode.USAGE;
        }

        private static int onExecutionException(Exception ex, CommandLine cl, ParseResult parsed) {
            PrintWriter err = cl.getErr();
            String name = cl.getCommandSpec().qualifiedName();
            boolean verbose = wantsVerbose(parsed);
            if (ex instanceof NhsAuthException) {
                err.println(name + ": " + ex.getMessage());
                if (verbose && ex.getCause() != null) {
                    ex.printStackTrace(err);
                }
                err.flush();
                return ((NhsAuthException) ex).exitCode();
            }
            err.println(name + ": internal error: " + oneLine(String.valueOf(ex))
                    + (verbose ? "" : " (run again with --verbose for details)"));
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ExitCode.INTERNAL;
        }

        private static boolean wantsVerbose(ParseResult parsed) {
            for (ParseResult p = parsed; p != null; p = p.subcommand()) {
                if (p.hasMatchedOption("--verbose")) {
                    return true;
                }
            }
            return false;
        }

        private static String oneLine(String s) {
            return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
        }

        /** Converts {@code --env} values, naming the valid ones on a mistake. */
        public static final class EnvironmentConverter implements CommandLine.ITypeConverter<Environment> {
            @Override
            public Environment convert(String value) {
                try {
                    return Environment.parse(value);
                } catch (UsageException e) {
                    throw new CommandLine.TypeConversionException(e.getMessage());
                }
            }
        }

        /** Lists the valid {@code --env} values in --help. */
        public static final class EnvironmentCandidates implements Iterable<String> {
            @Override
            public java.util.Iterator<String> iterator() {
                return Arrays.stream(Environment.values()).map(Environment::id).iterator();
            }
        }

        /** The stream a command writes its result to. */
        public static PrintWriter out(CommandSpec spec) {
            return spec.commandLine().getOut();
        }

        /** The stream a command writes its talk to. */
        public static PrintWriter err(CommandSpec spec) {
            return spec.commandLine().getErr();
        }

        /** For {@code main}: run and exit with the command's code. */
        public static void main(Callable<Integer> command, String[] args) {
            System.exit(run(command, args));
        }
    }
}
