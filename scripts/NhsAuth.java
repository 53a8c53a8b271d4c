///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES GenerateKeys.java
//SOURCES GetToken.java
//SOURCES CallApi.java
//SOURCES VerifyKeys.java
//SOURCES MockServer.java
//SOURCES Doctor.java
//SOURCES Jwks.java
//SOURCES Inspect.java
//DESCRIPTION nhs-auth: every NHS signed-JWT command under one name (generate-keys, get-token, call-api, verify-keys, doctor, jwks, inspect, mock-server, demo, completion)

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.Callable;
import java.util.stream.*;

import picocli.*;
import picocli.CommandLine.*;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "nhs-auth", description = "NHS API platform signed-JWT authentication: keys, tokens, API calls.",
        footer = {"%nRun 'nhs-auth <command> --help' for a command's options."})
public class NhsAuth extends NhsCli.Base implements NhsCli.Umbrella {

    /** In --help's order. A model is built by reflection, so a run adds only the command it names. */
    static final List<Class<?>> COMMANDS = List.of(GenerateKeys.class, GetToken.class, CallApi.class, VerifyKeys.class,
            Doctor.class, Jwks.class, Inspect.class, MockServer.class, Demo.class, Cache.class, Completion.class);

    @Override
    public void addSubcommands(CommandLine cl, String[] args) {
        String asked = args.length > 0 ? args[0] : "";
        boolean justOne = !asked.equals("completion") && COMMANDS.stream().anyMatch(c -> nameOf(c).equals(asked));
        // A loop: a lambda that touches picocli could not be in install.sh's class-data archive.
        for (Class<?> command : COMMANDS) {
            if (!justOne || nameOf(command).equals(asked)) {
                cl.addSubcommand(command);
            }
        }
    }

    private static String nameOf(Class<?> command) {
        return command.getAnnotation(Command.class).name();
    }

    public static void main(String... args) {
        NhsCli.main(new NhsAuth(), args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new ParameterException(spec.commandLine(), "a command is needed");
    }

    /** A completion script made by picocli from the umbrella's own model, so it matches this version. */
    @Command(name = "completion", mixinStandardHelpOptions = true,
            description = {"Print a shell completion script for nhs-auth, its commands and their options.",
                    "Enable it for this shell with: source <(nhs-auth completion bash)   (or zsh)"})
    static class Completion implements Callable<Integer> {
        /** zsh runs bash completion scripts through its bashcompinit, as picocli documents. */
        static final String ZSH_PRELUDE = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n";

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "SHELL", completionCandidates = Shells.class,
                description = "bash or zsh.")
        String shell;

        static final class Shells extends ArrayList<String> {
            Shells() {
                super(List.of("bash", "zsh"));
            }
        }

        @Override
        public Integer call() {
            CommandLine root = spec.root().commandLine();
            String wanted = shell.trim().toLowerCase(Locale.ROOT);
            if (!new Shells().contains(wanted)) {
                throw new UsageException("no completion for the shell '" + shell + "': use bash or zsh");
            }
            String script = AutoComplete.bash(root.getCommandName(), root);
            PrintWriter out = NhsCli.out(spec);
            out.print(wanted.equals("zsh") ? ZSH_PRELUDE + script : script);
            out.flush();
            return NhsClient.ExitCode.OK;
        }
    }

    @Command(name = "cache", mixinStandardHelpOptions = true,
            description = "The access-token cache kept by --token-cache: 'cache clear' deletes every cached token.",
            subcommands = {Cache.Clear.class})
    static class Cache implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new ParameterException(spec.commandLine(), "a subcommand is needed: cache clear");
        }

        @Command(name = "clear", mixinStandardHelpOptions = true, description = "Delete every cached access token.")
        static class Clear implements Callable<Integer> {
            @Spec
            CommandSpec spec;

            @Mixin
            NhsCli.TokenCacheDirOption cache;

            @Override
            public Integer call() throws IOException {
                int removed = NhsCommands.clearTokenCache(cache.dir());
                NhsCli.err(spec).println("removed " + removed + " cached token" + (removed == 1 ? "" : "s")
                        + " from " + cache.dir());
                return NhsClient.ExitCode.OK;
            }
        }
    }

    /** The other commands run in-process against a mock on loopback, each shown as a user would type it. */
    @Command(name = "demo",
            description = {"Run the whole signed-JWT flow offline, in a temporary folder: generate a key pair, start a local "
                    + "NHS token endpoint (mock-server) on a free loopback port, get an access token, call the "
                    + "Hello World API and the echo API, then exchange a user's ID token for a user-restricted token.",
                    "Each step is shown as the command you would type, then its result (secrets redacted). "
                            + "Nothing is left running or on disk."})
    public static final class Demo extends NhsCli.Base {

        static final String API_KEY = "demo-api-key";
        static final String KID = "demo-1";

        @Option(names = "--key-size", paramLabel = "BITS", defaultValue = "" + NhsKeys.RECOMMENDED_BITS,
                description = "Size of the demo key (default: ${DEFAULT-VALUE}, as NHS guidance asks).")
        int keySize;

        @Mixin
        NhsCli.VerboseOption verbose;

        /** A spinner on stderr while each step runs: null shows it when stderr is a terminal; tests force it. */
        Boolean progress;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = NhsCli.out(spec);
            Path dir = Files.createTempDirectory("nhs-auth-demo-");
            try {
                String pem = dir.resolve(KID + ".pem").toString();
                String jwks = dir.resolve(KID + ".json").toString();
                out.println("nhs-auth demo: the NHS signed-JWT flow, offline, in " + dir);
                out.println();

                step(out, "1. Make a key pair and its JWKS (upload the JWKS to the NHS developer portal)",
                        "generate-keys", new GenerateKeys(), "--env", "local", "--kid", KID, "--output-dir", dir.toString(),
                        "--key-size", String.valueOf(keySize));

                try (MockIdentityService server = MockIdentityService.start("127.0.0.1", 0,
                        List.of(new MockIdentityService.App(API_KEY, jwks, true)), 3600, null)) {
                    out.println("2. Start a local NHS token endpoint with the app's API key and JWKS registered");
                    out.println("   $ mock-server --app " + API_KEY + "=" + jwks + " --port " + server.port());
                    out.println("   listening on " + server.baseUrl() + " (stopped when the demo ends)");
                    out.println();

                    String[] client = {"--api-key", API_KEY, "--private-key", pem, "--token-url", server.tokenUrl()};
                    step(out, "3. Sign a client assertion and exchange it for an access token",
                            "get-token", new GetToken(), concat(client, "--format", "json"));
                    step(out, "4. Call an application-restricted API with the token",
                            "call-api", new CallApi(), concat(client, "--url", server.baseUrl() + "/hello-world/hello/application"));
                    step(out, "5. See what the API received (the echo API; Authorization redacted)",
                            "call-api", new CallApi(), concat(client, "--method", "POST", "--url", server.baseUrl()
                                    + "/echo/demo?step=5", "--header", "Content-Type: application/json", "--data", "{\"hello\": \"NHS\"}",
                                    "--correlation-id", "demo-correlation-1"));
                    String idToken = step(out, "6. Sign a user in: the mock's test issuer stands in for NHS login",
                            "call-api", new CallApi(), "--auth", "none", "--url",
                            server.baseUrl() + "/mock/id-token?subject=9912003071&provider=nhs-login")
                            .replaceAll("(?s).*\"id_token\"\\s*:\\s*\"([^\"]+)\".*", "$1").trim();
                    Path idTokenFile = Files.writeString(dir.resolve("id-token.jwt"), idToken);
                    step(out, "7. Exchange the user's ID token (saved to id-token.jwt) for a user-restricted access token",
                            "get-token", new GetToken(), concat(client, "--subject-token", idTokenFile.toString(),
                                    "--format", "json"));
                }
                out.println("Done. With a real app: generate-keys --env int, register the JWKS on the portal, then");
                out.println("get-token / call-api with --env int and your app's API key (see README).");
                return NhsClient.ExitCode.OK;
            } finally {
                deleteRecursively(dir);
            }
        }

        /** Runs a command in-process: shown as typed, a spinner while it runs, then what it printed; failure ends all. */
        private String step(PrintWriter out, String title, String name, Object command, String... args) {
            out.println(title);
            out.println("   $ " + name + " " + Stream.of(args).map(a -> a.matches("[A-Za-z0-9_./:=@%+,-]+") ? a
                    : "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" ")));
            StringWriter stdout = new StringWriter();
            StringWriter stderr = new StringWriter();
            CommandLine cl = NhsCli.commandLine(command);
            cl.setOut(new PrintWriter(stdout, true));
            cl.setErr(new PrintWriter(stderr, true));
            int exit;
            try (NhsProgress running = NhsProgress.start(NhsCli.err(spec), progress, "running " + name)) {
                exit = cl.execute(args);
            }
            // Talk first, then the result, as they would scroll past in a terminal; tokens shown to exist, never shown.
            for (String line : (stderr + "\n" + stdout).split("\n")) {
                if (!line.isBlank()) {
                    out.println("   " + line.replaceAll("(\"(?:access|refresh|id)_token\"\\s*:\\s*\")[^\"]+\"", "$1****\"")
                            .replaceAll("(Bearer )[A-Za-z0-9._~+/=-]+", "$1****"));
                }
            }
            out.println();
            if (exit != 0) {
                throw new NhsAuthException(exit, "step '" + name + "' failed with exit " + exit
                        + " (its output is above)", null);
            }
            return stdout.toString();
        }

        private static String[] concat(String[] a, String... b) {
            return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
        }

        static void deleteRecursively(Path dir) throws IOException {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
