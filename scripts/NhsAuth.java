///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES GenerateKeys.java
//SOURCES GetToken.java
//SOURCES CallApi.java
//SOURCES VerifyKeys.java
//SOURCES MockServer.java
//SOURCES Demo.java
//DESCRIPTION nhs-auth: every NHS signed-JWT command under one name (generate-keys, get-token, call-api, verify-keys, mock-server, demo)

import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "nhs-auth", mixinStandardHelpOptions = true, versionProvider = NhsCli.Version.class,
        description = "NHS API platform signed-JWT authentication: keys, tokens, API calls.",
        subcommands = {GenerateKeys.class, GetToken.class, CallApi.class, VerifyKeys.class,
            MockServer.class, Demo.class, NhsAuth.Cache.class},
        footer = {"%nRun 'nhs-auth <command> --help' for a command's options."})
public class NhsAuth implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    public static void main(String... args) {
        NhsCli.main(new NhsAuth(), args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed");
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

            @Option(names = "--token-cache-dir", paramLabel = "DIR", defaultValue = "${env:NHS_TOKEN_CACHE_DIR}",
                    description = "The cache folder (env NHS_TOKEN_CACHE_DIR; default %%LOCALAPPDATA%%\\nhs-auth on Windows, "
                            + "~/Library/Caches/nhs-auth on macOS, else $XDG_CACHE_HOME/nhs-auth or ~/.cache/nhs-auth).")
            java.nio.file.Path dir;

            @Override
            public Integer call() throws java.io.IOException {
                java.nio.file.Path folder = dir != null ? dir : NhsClient.defaultTokenCacheDir();
                int removed = NhsTokenCache.clear(folder);
                NhsCli.err(spec).println("removed " + removed + " cached token" + (removed == 1 ? "" : "s")
                        + " from " + folder);
                return NhsClient.ExitCode.OK;
            }
        }
    }
}
