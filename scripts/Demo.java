// The demo: a subcommand of the umbrella (scripts/NhsAuth.java), whose catalog alias runs it as
// `nhs-auth demo`. It shows the other commands in-process, and the umbrella already sources them.
//SOURCES nhsauth/cli/NhsCli.java
//SOURCES nhsauth/mock/MockIdentityService.java

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "demo", mixinStandardHelpOptions = true, versionProvider = NhsCli.Version.class,
        description = {"Run the whole signed-JWT flow offline, in a temporary folder: generate a key pair, start a local "
                + "NHS token endpoint (mock-server) on a free loopback port, get an access token, call the "
                + "Hello World API and the echo API.",
                "Each step is shown as the command you would type, then its result (secrets redacted). "
                        + "Nothing is left running or on disk."})
public class Demo implements Callable<Integer> {

    static final String API_KEY = "demo-api-key";
    static final String KID = "demo-1";

    @Spec
    CommandSpec spec;

    @Option(names = "--key-size", paramLabel = "BITS", defaultValue = "4096",
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
            }
            out.println("Done. With a real app: generate-keys --env int, register the JWKS on the portal, then");
            out.println("get-token / call-api with --env int and your app's API key (see README).");
            out.flush();
            return NhsClient.ExitCode.OK;
        } finally {
            deleteRecursively(dir);
        }
    }

    /**
     * Runs one command in-process, showing it as typed as it starts, a spinner while it runs and
     * what it printed when done; a failure ends the demo.
     */
    private void step(PrintWriter out, String title, String name, Object command, String... args) {
        out.println(title);
        out.println("   $ " + name + " " + shellQuote(args));
        out.flush();
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        CommandLine cl = NhsCli.commandLine(command);
        cl.setOut(new PrintWriter(stdout, true));
        cl.setErr(new PrintWriter(stderr, true));
        PrintWriter err = NhsCli.err(spec);
        int exit;
        try (NhsProgress running = NhsProgress.start(err, NhsProgress.wanted(progress, err), "running " + name)) {
            exit = cl.execute(args);
        }
        // Talk first, then the result, as they would scroll past in a terminal.
        for (String line : (stderr + "\n" + stdout).split("\n")) {
            if (!line.isBlank()) {
                out.println("   " + redact(line));
            }
        }
        out.println();
        out.flush();
        if (exit != 0) {
            throw new NhsClient.NhsAuthException(exit, "step '" + name + "' failed with exit " + exit
                    + " (its output is above)", null);
        }
    }

    /** The demo shows tokens exist without showing them. */
    static String redact(String line) {
        return line.replaceAll("(\"access_token\"\\s*:\\s*\")[^\"]+\"", "$1****\"")
                .replaceAll("(Bearer )[A-Za-z0-9._~+/=-]+", "$1****");
    }

    static String shellQuote(String... args) {
        StringBuilder b = new StringBuilder();
        for (String a : args) {
            if (b.length() > 0) {
                b.append(' ');
            }
            b.append(a.matches("[A-Za-z0-9_./:=@%+,-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return b.toString();
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
