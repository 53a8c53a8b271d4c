///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Check the whole chain, key to API answer, one line per check

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.PrintWriter;
import java.util.*;

import picocli.CommandLine.*;

@Command(name = "doctor", sortOptions = false,
        description = {"Check the whole chain from your settings to an API answer, one line per check, without "
                + "stopping at the first failure: Java and nhs-auth; the API key; the private key (type, bits, the kid "
                + "get-token derives); the key against the registered JWKS (--jwks); the proxy in effect and why; DNS; "
                + "TCP connect; the TLS handshake (certificate, and whether --cacert was needed); the clock against the "
                + "server's Date; the token request; the API call (--url).",
                "Takes call-api's options and variables. Nothing secret is printed. Exit 0 when every check passes, "
                        + "else the exit code of the first that failed: 2 settings or key, 5 network, 3 token "
                        + "endpoint (or clock), 4 API."},
        footer = {"%nExamples:",
                "  doctor --jwks .auth/int-1.json \\",
                "    --url https://int.api.service.nhs.uk/hello-world/hello/application",
                "  doctor --auth api-key --format json \\",
                "    --url https://int.api.service.nhs.uk/hello-world/hello/application"})
public class Doctor extends NhsCli.Base {

    @Mixin
    NhsCli.ClientOptions options;

    @Mixin
    NhsCli.AuthOption auth;

    @Option(names = "--jwks", paramLabel = "FILE|URL",
            description = "The JWKS registered for the app, to compare the private key with: a file or an https URL "
                    + "(env NHS_JWKS). Optional.")
    String jwks;

    @Option(names = "--url", paramLabel = "URL",
            description = "An API URL to GET as the last check (env NHS_API_URL). Optional.")
    String url;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text: one line per check; json: an array of {check, status, found, fix, exit_code} "
                    + "(default: ${DEFAULT-VALUE}).")
    NhsCli.Format format;

    static final Map<String, String> MARKS = Map.of("passed", "✔", "failed", "✘", "skipped", "–");

    public static void main(String... args) {
        NhsCli.main(new Doctor(), args);
    }

    @Override
    public Integer call() {
        PrintWriter err = NhsCli.err(spec);
        Diagnosis diagnosis = options.builder(err, auth.auth).diagnose(jwks, url);
        List<Diagnosis.Check> checks = diagnosis.checks();
        PrintWriter out = NhsCli.out(spec);
        if (format == NhsCli.Format.json) {
            out.println(diagnosis.toJson());
        } else {
            int width = checks.stream().mapToInt(c -> c.name().length()).max().orElse(0);
            for (Diagnosis.Check c : checks) {
                out.println(MARKS.get(c.status()) + " " + String.format("%-" + width + "s", c.name()) + "  " + c.found()
                        + (c.fix() == null ? "" : " → fix: " + c.fix()));
            }
        }
        int exit = diagnosis.exitCode();
        long failed = checks.stream().filter(Diagnosis.Check::isFailed).count();
        err.println(failed == 0 ? "doctor: every check passed" : "doctor: " + failed + " check" + (failed == 1 ? "" : "s")
                + " failed; exit " + exit + " is the first's");
        return exit;
    }
}
