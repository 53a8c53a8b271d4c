//DEPS info.picocli:picocli:4.7.7
//RUNTIME_OPTIONS -Dpicocli.disable.closures=true
//COMPILE_OPTIONS -XDstringConcat=inline
//SOURCES ../client/NhsClient.java
//SOURCES NhsProgress.java

package nhsauth.cli;

import nhsauth.client.*;

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.regex.*;
import java.util.stream.*;

import picocli.CommandLine;
import picocli.CommandLine.*;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Model.*;

/**
 * What the commands share: one-line errors with exit codes, the exit codes in --help, options as mixins. (The runtime
 * option above spares picocli a search for Groovy closures in every annotation at start-up; the compile option builds
 * string concatenation into the bytecode, where by default each new shape is linked at run time, at its first use.)
 */
public final class NhsCli {
    private NhsCli() { }

    /** A result lost on its way to stdout: not a library code (only commands write stdout); curl's "write error". */
    private static final int OUTPUT_FAILED = 23;

    private static final Map<String, String> EXIT_CODES = """
            0 success
            1 unexpected internal error (run again with --verbose for a stack trace)
            2 bad usage or bad input: options, files, formats, refusal to overwrite
            3 the token endpoint refused the client assertion
            4 the API answered with a non-2xx status
            5 network failure: DNS, connect, TLS, timeout, an answer too large
            {OUTPUT_FAILED} the result could not be written to stdout (as curl's {OUTPUT_FAILED}): a full disk, or a reader that closed the pipe early (then quietly)
            130 interrupted (Ctrl-C)
            """.replace("{OUTPUT_FAILED}", String.valueOf(OUTPUT_FAILED)).lines()
            .collect(Collectors.toMap(row -> row.substring(0, row.indexOf(' ')),
                    row -> row.substring(row.indexOf(' ') + 1), (a, b) -> a, LinkedHashMap::new));

    /** A command that adds its subcommands itself, knowing what it is asked to run. */
    public interface Umbrella {
        void addSubcommands(CommandLine cl, String[] args);
    }

    /**
     * A CommandLine with the toolkit's error handling; {@code args} choose an umbrella's subcommands. Commands do not
     * flush after println: a writer given to it with {@code setOut} or {@code setErr} must flush on println.
     */
    public static CommandLine commandLine(Object command, String... args) {
        CommandLine cl = new CommandLine(command);
        if (command instanceof Umbrella umbrella) {
            umbrella.addSubcommands(cl, args);
        }
        // '@FILE' is call-api's body syntax, as in curl: never picocli's argument files.
        cl.setExpandAtFiles(false);
        cl.setExecutionExceptionHandler(HANDLERS);
        cl.setParameterExceptionHandler(HANDLERS);
        cl.setDefaultValueProvider(HANDLERS);
        cl.setExitCodeExceptionMapper(HANDLERS);
        // The library's own parsers read its enums and seconds, so a mistake is told in the library's words.
        cl.registerConverter(NhsEnvironment.class, new ParsedBy<>(NhsEnvironment::parse));
        cl.registerConverter(NhsAuthPattern.class,
                new ParsedBy<>(v -> blankToNull(v) == null ? null : NhsAuthPattern.parse(v)));
        cl.registerConverter(Duration.class, HANDLERS);
        layOutHelp(cl);
        return cl;
    }

    /** The exit codes in every --help, and the footers as {@link Handlers#render} lays them out. */
    private static void layOutHelp(CommandLine cl) {
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
        cl.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_FOOTER, HANDLERS);
        for (CommandLine subcommand : cl.getSubcommands().values()) {
            layOutHelp(subcommand);
        }
    }

    private static final Handlers HANDLERS = new Handlers();

    /**
     * picocli's callbacks as a class, not lambdas: JDK 17 cannot put a lambda that implements a picocli interface in a
     * class-data archive (see install.sh), so each lambda would be made anew at every start.
     */
    private static final class Handlers implements IExecutionExceptionHandler, IParameterExceptionHandler,
            IDefaultValueProvider, IExitCodeExceptionMapper, IHelpSectionRenderer, ITypeConverter<Duration> {
        @Override
        public int handleParseException(ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            String name = cl.getCommandSpec().qualifiedName();
            String message = oneLine(ex.getMessage());
            if (ex instanceof UnmatchedArgumentException unmatched) {
                // An unknown option is named without its value or the words after it: either may be a secret.
                List<String> likely = unmatched.getSuggestions();
                String first = unmatched.getUnmatched().get(0);
                boolean option = first.startsWith("-");
                String guess = likely.isEmpty() ? "" : ": did you mean "
                        + (option && likely.size() > 1 ? "one of " + String.join(", ", likely) : likely.get(0)) + "?";
                message = option ? "unknown option '" + first.split("=", 2)[0] + "'" + guess
                        : likely.isEmpty() ? message : "unknown command '" + first + "'" + guess;
            }
            if (ex.getArgSpec() instanceof OptionSpec option) {
                String variable = typedIn(args, option) ? null : variableOf(option);
                if (ex.getCause() instanceof UsageException refused) {
                    // Our converters' words start with the value: the option, or the variable behind it, goes in front.
                    message = (variable != null ? variable : option.longestName()) + " "
                            + oneLine(refused.getMessage());
                } else if (variable != null) {
                    // Names the variable: the user did not type the value, so '--env' alone misleads.
                    Matcher m = Pattern.compile("Invalid value for option '[^']+'").matcher(message);
                    message = m.lookingAt() ? m.group() + " from " + variable + message.substring(m.end())
                            : message + " (the value came from " + variable + ")";
                }
            }
            cl.getErr().println(name + ": " + message + " (see '" + name + " --help')");
            return finish(cl.getErr(), null, NhsClient.ExitCode.USAGE);
        }

        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, ParseResult parsed) {
            PrintWriter err = cl.getErr();
            String name = cl.getCommandSpec().qualifiedName();
            boolean verbose = false;
            for (ParseResult p = parsed; p != null; p = p.subcommand()) {
                verbose |= p.hasMatchedOption("--verbose");
            }
            if (ex instanceof OutputLost lost) {
                return reportLost(lost, err, name, verbose);
            }
            if (ex instanceof NhsAuthException known) {
                err.println(name + ": " + known.commandLineMessage());
                if (known.commandLineHint() != null) {
                    err.println("hint: " + known.commandLineHint());
                }
                return finish(err, verbose && ex.getCause() != null ? ex : null, known.exitCode());
            }
            err.println(name + ": internal error: " + oneLine(String.valueOf(ex))
                    + (verbose ? "" : " (run again with --verbose for details)"));
            return finish(err, verbose ? ex : null, NhsClient.ExitCode.INTERNAL);
        }

        /** Every option's default: its NHS_* variable when set and not blank, else the option's own default. */
        @Override
        public String defaultValue(ArgSpec arg) {
            return arg instanceof OptionSpec option
                    ? NhsCommands.optionDefault(option.longestName(), System.getenv()) : null;
        }

        @Override
        public int getExitCode(Throwable t) {
            return t instanceof NhsAuthException known ? known.exitCode() : NhsClient.ExitCode.INTERNAL;
        }

        /** Footers (examples) line for line as written: picocli's wrapping splits URLs. */
        @Override
        public String render(Help help) {
            return Stream.of(help.commandSpec().usageMessage().footer()).map(line -> String.format(line + "%n"))
                    .collect(Collectors.joining());
        }

        /** {@code --timeout}, and any other Duration option without a converter of its own. */
        @Override
        public Duration convert(String seconds) {
            return NhsCommands.timeoutOf(seconds);
        }
    }

    private static final ResultStream RESULT = new ResultStream();

    /** stdout as UTF-8 text; {@link #resultBytes} recognises it to write bytes past it. */
    private static final PrintWriter STDOUT = new PrintWriter(new OutputStreamWriter(RESULT, StandardCharsets.UTF_8), true);

    /** The process's stderr, where progress may be drawn; null until {@link #main}. */
    static volatile PrintWriter processErr;

    public static void main(Callable<Integer> command, String[] args) {
        CommandLine cl = commandLine(command, args);
        cl.setOut(STDOUT);
        // picocli's own stderr writer, set once so every subcommand shares it and progress can know it.
        cl.setErr(cl.getErr());
        processErr = cl.getErr();
        int code;
        try {
            code = cl.execute(args);
        } catch (OutputLost lost) {
            // --help and --version print outside the command, where picocli's handlers do not reach.
            code = reportLost(lost, cl.getErr(), cl.getCommandSpec().qualifiedName(), false);
        }
        System.exit(code);
    }

    /** stdout that raises write errors, unchecked: PrintStream and PrintWriter swallow them (a lost token, exit 0). */
    private static final class ResultStream extends OutputStream {
        private final OutputStream out = new FileOutputStream(FileDescriptor.out);

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw new OutputLost(e);
            }
        }
    }

    static final class OutputLost extends NhsAuthException {
        OutputLost(IOException e) {
            super(OUTPUT_FAILED, "cannot write the result to stdout (" + oneLine(e.getMessage())
                    + "): make room where stdout goes, or send it elsewhere", e);
        }
    }

    private static int reportLost(OutputLost lost, PrintWriter err, String name, boolean verbose) {
        // A reader that stops reading (| head -1) closed the pipe on purpose: not worth a complaint.
        String detail = String.valueOf(lost.getCause().getMessage()).toLowerCase(Locale.ROOT);
        if (!detail.contains("broken pipe") && !detail.contains("pipe is being closed")
                && !detail.contains("pipe has been ended")) {
            err.println(name + ": " + lost.commandLineMessage());
        }
        return finish(err, verbose ? lost : null, OUTPUT_FAILED);
    }

    public static PrintWriter out(CommandSpec spec) {
        return spec.commandLine().getOut();
    }

    public static PrintWriter err(CommandSpec spec) {
        return spec.commandLine().getErr();
    }

    /** A result byte for byte: to stdout, failing loudly; to a buffer (tests, the demo), as UTF-8 on each flush. */
    public static PrintStream resultBytes(CommandSpec spec) {
        PrintWriter out = out(spec);
        return new PrintStream(out == STDOUT ? RESULT : new ByteArrayOutputStream() {
            @Override
            public void flush() {
                out.print(toString(StandardCharsets.UTF_8));
                out.flush();
                reset();
            }
        });
    }

    private static int finish(PrintWriter err, Throwable trace, int exitCode) {
        if (trace != null) {
            trace.printStackTrace(err);
        }
        err.flush();
        return exitCode;
    }

    /** What every command has: --help, --version ("nhs-auth get-token 1.0") and its model, {@code spec}. */
    @Command(mixinStandardHelpOptions = true, versionProvider = Version.class)
    public abstract static class Base implements Callable<Integer> {
        @Spec
        protected CommandSpec spec;
    }

    public static final class Version implements IVersionProvider {
        @Spec
        CommandSpec spec;

        @Override
        public String[] getVersion() {
            String name = spec.qualifiedName();
            return new String[] {(name.startsWith("nhs-auth") ? "" : "nhs-auth ") + name + " " + NhsClient.VERSION};
        }
    }

    private static String variableOf(OptionSpec option) {
        return HANDLERS.defaultValue(option) == null ? null : NhsCommands.variableFor(option.longestName());
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }

    public static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    /** Whether the option is on the command line: picocli has no parse result yet. */
    private static boolean typedIn(String[] args, OptionSpec option) {
        return Stream.of(args).anyMatch(arg -> Stream.of(option.names()).anyMatch(name -> arg.equals(name)
                || arg.startsWith(name + "=") || name.length() == 2 && arg.startsWith(name)));
    }

    /** The variable behind an option's value when the user did not type the option; else null. */
    public static String variableBehind(CommandSpec command, String option) {
        OptionSpec spec = command.findOption(option);
        ParseResult parsed = command.commandLine().getParseResult();
        return spec == null || parsed != null && parsed.hasMatchedOption(spec) ? null : variableOf(spec);
    }

    /** How a message names a value: by its option, or by the variable it came from. */
    public static String source(CommandSpec command, String option) {
        String variable = variableBehind(command, option);
        return variable != null ? variable : option;
    }

    /** A library parser as a converter: picocli puts its message after "Invalid value for option '--env': ". */
    private record ParsedBy<T>(Function<String, T> parse) implements ITypeConverter<T> {
        @Override
        public T convert(String value) {
            try {
                return parse.apply(value);
            } catch (UsageException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    // The converters refuse a value with the library's UsageException: see handleParseException.
    public static final class PortConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            return (int) whole(value, 0, 65535, "is not a port number: use 0-65535 (0 picks any free port)");
        }
    }

    public static final class SecondsConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return Duration.ofSeconds(whole(value, 0, 86_400 * 365L,
                    "is not a number of seconds: use 0 (fetch every time) up to a year; NHS uses 3600"));
        }
    }

    private static long whole(String value, long min, long max, String problem) {
        try {
            long n = Long.parseLong(value.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException refusedBelow) { }
        throw new UsageException("'" + value + "' " + problem);
    }

    /** The values of --format for the commands that print text or json. */
    public enum Format { text, json }

    public static final class VerboseOption {
        @Option(names = "--verbose",
                description = "Trace requests and responses on stderr (secrets redacted); stack traces for errors.")
        public boolean verbose;
    }

    public static final class EnvOption {
        @Option(names = "--env", paramLabel = "ENV", defaultValue = "int",
                description = "NHS environment: ${COMPLETION-CANDIDATES} (env NHS_ENV; default: ${DEFAULT-VALUE}).")
        public NhsEnvironment env;
    }

    /** {@code --auth}: null means the environment's default. */
    public static final class AuthOption {
        @Option(names = "--auth", paramLabel = "PATTERN",
                description = "How the app is identified: signed-jwt (a bearer token: needs --api-key and --private-key), "
                        + "api-key (the apikey header: needs --api-key), none (open access: needs neither) (env NHS_AUTH; "
                        + "default: signed-jwt, none for --env sandbox unless --token-url is given).")
        public NhsAuthPattern auth;
    }

    public static final class KeyOptions {
        @Option(names = "--private-key", paramLabel = "PEM", showDefaultValue = Visibility.NEVER,
                description = "RSA private key, PEM: PKCS#1 or PKCS#8, plain or encrypted (env NHS_PRIVATE_KEY).")
        public Path privateKey;

        @Option(names = "--private-key-passphrase", paramLabel = "PASSPHRASE", showDefaultValue = Visibility.NEVER,
                description = "Passphrase of an encrypted key; prefer env NHS_PRIVATE_KEY_PASSPHRASE.")
        public char[] passphrase;

        @Option(names = "--kid", paramLabel = "KID",
                description = "Key id in the JWKS (env NHS_KID; default: the key file's name without .pem, else <env>-1).")
        public String kid;

        /** The kid, null to derive it; a blank one was typed (an empty NHS_KID counts as unset). */
        public String kid() {
            if (kid != null && kid.isBlank()) {
                throw new UsageException("--kid '" + kid + "' is empty: give the kid registered in your JWKS, "
                        + "or leave --kid out to use the key file's name");
            }
            return blankToNull(kid);
        }
    }

    public static final class ConnectionOptions {
        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
                description = "Seconds allowed to connect and to answer (env NHS_TIMEOUT; default: ${DEFAULT-VALUE}).")
        public Duration timeout;

        @Option(names = "--cacert", paramLabel = "PEM",
                description = "Extra trusted CA certificates, PEM, for TLS-inspecting proxies (env NHS_CA_CERT).")
        public Path caCert;
    }

    public static final class TokenCacheDirOption {
        // A line per path, so that help never breaks one.
        @Option(names = "--token-cache-dir", paramLabel = "DIR",
                description = {"Folder for the token cache (env NHS_TOKEN_CACHE_DIR). Default:",
                        "%%LOCALAPPDATA%%\\nhs-auth on Windows,", "~/Library/Caches/nhs-auth on macOS, else",
                        "$XDG_CACHE_HOME/nhs-auth or ~/.cache/nhs-auth."})
        Path dir;

        public Path dir() {
            return dir != null ? dir : NhsCommands.defaultTokenCacheDir();
        }
    }

    public static final class TokenCacheOptions {
        @Option(names = "--token-cache",
                description = "Reuse an access token across runs until a minute before it expires (env NHS_TOKEN_CACHE=1); "
                        + "kept owner-only in the user's cache folder (see --token-cache-dir).")
        boolean tokenCache;

        @Option(names = "--no-token-cache", description = "Fetch a new token even if NHS_TOKEN_CACHE is set.")
        boolean noTokenCache;

        @Mixin
        TokenCacheDirOption folder;

        /** The folder to keep tokens in, or null to keep none. */
        public Path dir() {
            return tokenCache && !noTokenCache ? folder.dir() : null;
        }
    }

    public static final class ClientOptions {
        @Option(names = "--api-key", paramLabel = "KEY", showDefaultValue = Visibility.NEVER,
                description = "The app's API key from the developer portal: iss and sub of the client assertion, "
                        + "or the apikey header (env NHS_API_KEY).")
        public String apiKey;

        @Mixin
        public KeyOptions key;

        @Mixin
        public EnvOption env;

        @Option(names = "--token-url", paramLabel = "URL",
                description = "Token endpoint instead of the environment's; the assertion's aud follows it (env NHS_TOKEN_URL).")
        public String tokenUrl;

        @Option(names = "--subject-token", paramLabel = "FILE", showDefaultValue = Visibility.NEVER, description = "Exchange the "
                + "user's NHS CIS2 or NHS login ID token in FILE (- for stdin) for their token (env NHS_SUBJECT_TOKEN: the token).")
        public String subjectToken;

        @Mixin
        public ConnectionOptions connection;

        @Mixin
        public VerboseOption verbose;

        /** Where the proxy variables come from: the process, or a test's own. */
        public Map<String, String> variables = System.getenv();

        /** The client these options describe, unbuilt, for a pattern (null: the default). */
        public NhsClient.Builder builder(PrintWriter err, NhsAuthPattern auth) {
            return NhsClient.builder().commandLineNames().auth(auth).environment(env.env).apiKey(apiKey).tokenUrl(tokenUrl)
                    .subjectToken(subjectToken()).privateKey(key.privateKey, key.passphrase).kid(key.kid())
                    .timeout(connection.timeout).caCertificates(connection.caCert).proxyVariables(variables)
                    .notices(line -> { err.println(line); err.flush(); }).trace(verbose.verbose ? err : null);
        }

        /** The ID token to exchange: FILE's ('-': stdin's), else NHS_SUBJECT_TOKEN's value itself; null for none. */
        String subjectToken() {
            return subjectToken == null ? variables.get(NhsCommands.variableFor("--subject-token"))
                    : NhsCommands.readToken(subjectToken, "--subject-token");
        }
    }
}
