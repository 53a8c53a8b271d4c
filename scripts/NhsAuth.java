///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES GenerateKeys.java
//SOURCES GetToken.java
//SOURCES CallApi.java
//SOURCES VerifyKeys.java
//SOURCES MockServer.java
//SOURCES Demo.java
//SOURCES Doctor.java
//DESCRIPTION nhs-auth: every NHS signed-JWT command under one name (generate-keys, get-token, call-api, verify-keys, doctor, mock-server, demo, completion)

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "nhs-auth", mixinStandardHelpOptions = true, versionProvider = NhsCli.Version.class,
        description = "NHS API platform signed-JWT authentication: keys, tokens, API calls.",
        footer = {"%nRun 'nhs-auth <command> --help' for a command's options."})
public class NhsAuth implements Callable<Integer>, NhsCli.Umbrella {

    /**
     * Every command by name. picocli builds a command's model by reflection, about 10 ms each, so
     * a run adds only the command it names; help, errors and completion get them all.
     */
    static final Map<String, Supplier<Object>> COMMANDS = commands();

    private static Map<String, Supplier<Object>> commands() {
        Map<String, Supplier<Object>> all = new LinkedHashMap<>();
        all.put("generate-keys", GenerateKeys::new);
        all.put("get-token", GetToken::new);
        all.put("call-api", CallApi::new);
        all.put("verify-keys", VerifyKeys::new);
        all.put("doctor", Doctor::new);
        all.put("mock-server", MockServer::new);
        all.put("demo", Demo::new);
        all.put("cache", Cache::new);
        all.put("completion", Completion::new);
        return all;
    }

    @Spec
    CommandSpec spec;

    @Override
    public void addSubcommands(CommandLine cl, String[] args) {
        String asked = args.length > 0 ? args[0] : "";
        boolean justOne = COMMANDS.containsKey(asked) && !asked.equals("completion");
        COMMANDS.forEach((name, command) -> {
            if (!justOne || name.equals(asked)) {
                cl.addSubcommand(name, command.get());
            }
        });
    }

    public static void main(String... args) {
        NhsCli.main(new NhsAuth(), args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed");
    }

    /**
     * A completion script for bash or zsh, made by picocli from the umbrella's own model, so
     * every command, option, environment and format is in it as this version has them.
     */
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

        static final class Shells implements Iterable<String> {
            @Override
            public java.util.Iterator<String> iterator() {
                return java.util.List.of("bash", "zsh").iterator();
            }
        }

        @Override
        public Integer call() {
            CommandLine root = spec.root().commandLine();
            String script = AutoComplete.bash(root.getCommandName(), root);
            String wanted = shell.trim().toLowerCase(java.util.Locale.ROOT);
            if (!wanted.equals("bash") && !wanted.equals("zsh")) {
                throw new NhsClient.UsageException("no completion for the shell '" + shell + "': use bash or zsh");
            }
            java.io.PrintWriter out = NhsCli.out(spec);
            out.print(wanted.equals("zsh") ? ZSH_PRELUDE + script : script);
            out.flush();
            return NhsClient.ExitCode.OK;
        }
    }

    /** The token cache that get-token and call-api keep with --token-cache. */
    @Command(name = "cache", mixinStandardHelpOptions = true,
            description = "The access-token cache kept by --token-cache: 'cache clear' deletes every cached token.",
            subcommands = {Cache.Clear.class})
    static class Cache implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is needed: cache clear");
        }

        @Command(name = "clear", mixinStandardHelpOptions = true, description = "Delete every cached access token.")
        static class Clear implements Callable<Integer> {
            @Spec
            CommandSpec spec;

            @Option(names = "--token-cache-dir", paramLabel = "DIR",
                    description = "The cache folder (env NHS_TOKEN_CACHE_DIR; default %%LOCALAPPDATA%%\\nhs-auth on Windows, "
                            + "~/Library/Caches/nhs-auth on macOS, else $XDG_CACHE_HOME/nhs-auth or ~/.cache/nhs-auth).")
            java.nio.file.Path dir;

            @Override
            public Integer call() throws java.io.IOException {
                java.nio.file.Path folder = dir != null ? dir : NhsClient.defaultTokenCacheDir();
                int removed = NhsClient.clearTokenCache(folder);
                NhsCli.err(spec).println("removed " + removed + " cached token" + (removed == 1 ? "" : "s")
                        + " from " + folder);
                return NhsClient.ExitCode.OK;
            }
        }
    }
}
