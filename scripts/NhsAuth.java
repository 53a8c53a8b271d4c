///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS com.nimbusds:nimbus-jose-jwt:10.10
//DEPS org.bouncycastle:bcprov-jdk18on:1.87
//DEPS org.bouncycastle:bcpkix-jdk18on:1.87
//SOURCES NhsClient.java
//SOURCES GenerateKeys.java
//SOURCES GetToken.java
//SOURCES CallApi.java
//SOURCES VerifyKeys.java
//DESCRIPTION nhs-auth: every NHS signed-JWT command under one name (generate-keys, get-token, call-api, ...)

import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "nhs-auth", mixinStandardHelpOptions = true, version = "nhs-auth 1.0",
        description = "NHS API platform signed-JWT authentication: keys, tokens, API calls.",
        subcommands = {GenerateKeys.class, GetToken.class, CallApi.class, VerifyKeys.class},
        footer = {"%nRun 'nhs-auth <command> --help' for a command's options.%n", NhsClient.ExitCode.TABLE})
public class NhsAuth implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    public static void main(String... args) {
        NhsClient.Cli.main(new NhsAuth(), args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed");
    }
}
