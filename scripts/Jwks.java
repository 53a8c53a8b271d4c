///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Keep a published JWKS in order: list its keys and flag what must not be there; remove the old key after a rotation

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.*;
import java.nio.file.Path;
import java.util.*;

import com.nimbusds.jose.jwk.*;
import picocli.CommandLine.*;

@Command(name = "jwks",
        description = "The JWKS you publish: 'jwks list' shows its keys, 'jwks remove' takes the old one out after a rotation.",
        subcommands = {Jwks.ListKeys.class, Jwks.RemoveKey.class},
        footer = {"%nRotating a key without downtime (NHS caches a JWKS for an hour):",
                "  generate-keys --kid int-2 --output-dir .auth --add-to-jwks .auth/int-1.json",
                "  publish .auth/int-1.json; wait over an hour; sign with .auth/int-2.pem",
                "  jwks remove int-1 --jwks .auth/int-1.json; publish it again"})
public class Jwks extends NhsCli.Base {

    /** A JWK's members that hold a private or secret key: never to be published. */
    static final Set<String> PRIVATE_MEMBERS = Set.of("d", "p", "q", "dp", "dq", "qi", "oth", "k");

    public static void main(String... args) {
        NhsCli.main(new Jwks(), args);
    }

    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "a subcommand is needed: jwks list or jwks remove");
    }

    @Command(name = "list", sortOptions = false,
            description = {"One line per key on stdout: kid, kty, bits, alg, use and RFC 7638 thumbprint ('-' for none).",
                    "On stderr, a line for each key that must not be published as it is, then exit 2: a kid used twice, "
                            + "a key that is not RSA of 4096 bits or more, private members (d, p, q, ...)."},
            footer = {"%nExample:", "  jwks list .auth/int-1.json"})
    static class ListKeys extends NhsCli.Base {
        @Parameters(paramLabel = "FILE|URL", arity = "0..1",
                description = "The JWKS: a file or an https URL (default: env NHS_JWKS).")
        String source;

        @Mixin
        NhsCli.ConnectionOptions connection;

        @Mixin
        NhsCli.VerboseOption verbose;

        @Override
        public Integer call() {
            String jwks = source != null ? source : NhsCommands.optionDefault("--jwks", System.getenv());
            if (NhsCli.blankToNull(jwks) == null) {
                throw new UsageException("no JWKS: give its file or URL (or set NHS_JWKS)");
            }
            List<JWK> keys = NhsKeys.loadJwks(jwks, connection.timeout, connection.caCert).getKeys();
            List<String[]> rows = new ArrayList<>();
            List<String> problems = new ArrayList<>(keys.isEmpty()
                    ? List.of("it holds no key, so the app gets no token: add one with generate-keys --add-to-jwks") : List.of());
            List<String> kids = keys.stream().map(k -> k.getKeyID() == null ? "-" : k.getKeyID()).toList();
            for (int i = 0; i < keys.size(); i++) {
                JWK key = keys.get(i);
                String kid = kids.get(i);
                rows.add(new String[] {kid, key.getKeyType().getValue(), String.valueOf(key.size()),
                        key.getAlgorithm() == null ? "-" : key.getAlgorithm().getName(),
                        key.getKeyUse() == null ? "-" : key.getKeyUse().identifier(), NhsKeys.thumbprint(key)});
                int uses = Collections.frequency(kids, kid);
                if (uses > 1 && key.getKeyID() != null && kids.indexOf(kid) == i) {
                    problems.add("kid '" + kid + "' is on " + uses + " keys: give each key its own kid");
                }
                if (!(key instanceof RSAKey) || key.size() < NhsKeys.RECOMMENDED_BITS) {
                    problems.add("kid '" + kid + "' is " + key.getKeyType() + " of " + key.size()
                            + " bits: NHS asks for RSA of 4096, so make one with generate-keys and rotate to it");
                }
                List<String> secret = key.toJSONObject().keySet().stream().filter(PRIVATE_MEMBERS::contains).toList();
                if (!secret.isEmpty()) {
                    problems.add("kid '" + kid + "' has private members (" + String.join(", ", secret)
                            + "): never publish them; publish the JSON from generate-keys, and if this was public, rotate");
                }
            }
            PrintWriter out = NhsCli.out(spec);
            int width = kids.stream().mapToInt(String::length).max().orElse(0);
            for (String[] row : rows) {
                out.println(String.format("%-" + width + "s  %-3s  %-4s  %-5s  %-3s  %s", (Object[]) row));
            }
            PrintWriter err = NhsCli.err(spec);
            problems.forEach(p -> err.println(spec.qualifiedName() + ": " + p));
            return problems.isEmpty() ? NhsClient.ExitCode.OK : NhsClient.ExitCode.USAGE;
        }
    }

    @Command(name = "remove", sortOptions = false,
            description = {"Remove the key with this kid from a JWKS file, its other keys and members kept as written; "
                    + "the file is replaced atomically.",
                    "Refuses a kid that is not there, and the last key (the app would get no token)."},
            footer = {"%nExample:", "  jwks remove int-1 --jwks .auth/int-1.json"})
    static class RemoveKey extends NhsCli.Base {
        @Parameters(paramLabel = "KID", description = "The kid of the old key, published beside the new one for over an hour.")
        String kid;

        @Option(names = "--jwks", paramLabel = "FILE", description = "The JWKS file you publish (env NHS_JWKS). Required.")
        Path jwks;

        @Mixin
        NhsCli.VerboseOption verbose;

        @Override
        public Integer call() throws IOException {
            if (jwks == null) {
                throw new UsageException("no --jwks: give the JWKS file to remove the key from (or set NHS_JWKS)");
            }
            List<String> left = NhsKeys.removeFromJwks(jwks, kid);
            NhsCli.err(spec).println("removed kid '" + kid + "' from " + jwks + ", which holds " + String.join(", ", left)
                    + " now: publish it again where it is registered");
            return NhsClient.ExitCode.OK;
        }
    }
}
