///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//SOURCES nhsauth/mock/MockInspection.java
//DESCRIPTION Say offline what the NHS token endpoint would answer to a client assertion: every rule at once

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.MockInspection;

import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.*;

import com.nimbusds.jose.util.JSONObjectUtils;
import picocli.CommandLine.*;
import picocli.CommandLine.Help.Visibility;

@Command(name = "inspect", sortOptions = false,
        description = {"Say what the NHS token endpoint would answer to a client assertion, offline and every rule at "
                + "once: the decoded header and claims (never the signature), each rule of the endpoint's table as "
                + "pass, FAIL or not checkable offline, with its exact error_description and the fix, and the failure "
                + "the endpoint would report first.",
                "Exit 0 when it would be accepted as far as can be checked offline, 3 when it would be refused, "
                        + "2 when the input is not a JWT."},
        footer = {"%nExamples:", "  inspect assertion.jwt --env int --jwks .auth/int-1.json",
                "  echo \"$JWT\" | inspect - --api-key \"$NHS_API_KEY\" --format json"})
public class Inspect extends NhsCli.Base {

    @Parameters(paramLabel = "FILE|-", description = "The client assertion: a file, or - for stdin.")
    String assertion;

    @Mixin
    NhsCli.EnvOption env;

    @Option(names = "--token-url", paramLabel = "URL",
            description = "Token endpoint instead of the environment's: the aud to expect (env NHS_TOKEN_URL).")
    String tokenUrl;

    @Option(names = "--jwks", paramLabel = "FILE|URL",
            description = "The JWKS registered for the app, to check kid and signature: a file or an https URL "
                    + "(env NHS_JWKS). Optional.")
    String jwks;

    @Option(names = "--api-key", paramLabel = "KEY", showDefaultValue = Visibility.NEVER,
            description = "The app's API key, to check iss and sub (env NHS_API_KEY). Optional.")
    String apiKey;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text: one line per rule; json: {header, claims, rules: [{row, id, status, "
                    + "error_description, fix}], first_failure} (default: ${DEFAULT-VALUE}).")
    NhsCli.Format format;

    @Mixin
    NhsCli.ConnectionOptions connection;

    @Mixin
    NhsCli.VerboseOption verbose;

    /** What to do about each row that fails, by row of the endpoint's table. */
    static final Map<Integer, String> FIXES = Map.ofEntries(
            Map.entry(9, "sign with RS512 (RSA with SHA-512) and say so in the header's alg"),
            Map.entry(10, "sign a fresh assertion for every request, exp at most 300 s ahead; check the clock"),
            Map.entry(11, "put the kid of your key in the registered JWKS in the header"),
            Map.entry(12, "set the header's typ to JWT"),
            Map.entry(13, "add exp: seconds since the epoch, at most 300 s ahead"),
            Map.entry(14, "write exp as a JSON integer, not a string"),
            Map.entry(15, "set iss and sub both to the app's API key"),
            Map.entry(16, "add jti: a fresh UUID for every request"),
            Map.entry(17, "make jti a string: a fresh UUID"),
            Map.entry(18, "use a fresh jti for every request, retries included"),
            Map.entry(19, "set exp at most 300 s ahead (the endpoint allows 310 s); check the clock"),
            Map.entry(20, "set iss and sub to the API key of an app in this environment"),
            Map.entry(21, "register a public key (JWKS) for the app on the developer portal"),
            Map.entry(22, "make the registered JWKS URL reachable (https, with a path)"),
            Map.entry(23, "sign with a kid that is in the registered JWKS (verify-keys checks a key against it)"),
            Map.entry(24, "sign with the private key of the JWKS key under this kid; iat and nbf at most 10 s ahead"),
            Map.entry(25, "set aud to the exact token URL you post to"),
            Map.entry(26, "ask for application-restricted (level 3) access for the app on the developer portal"));

    /** Why a row cannot be told offline, by row. */
    static final Map<Integer, String> UNCHECKED = Map.of(18, "the service remembers each jti",
            20, "give --api-key to compare sub", 21, "the service knows the app's registration",
            22, "the service fetches the app's JWKS", 23, "give --jwks", 24, "give --jwks holding the kid",
            26, "the service knows the app's access", 19, "exp is not a number");

    public static void main(String... args) {
        NhsCli.main(new Inspect(), args);
    }

    @Override
    public Integer call() throws GeneralSecurityException {
        String jwt = NhsCommands.readToken(assertion, "the assertion");
        String aud = NhsCli.blankToNull(tokenUrl) != null ? tokenUrl : env.env.tokenUrl();
        var keys = NhsCli.blankToNull(jwks) == null ? null : NhsKeys.loadJwks(jwks, connection.timeout, connection.caCert);
        MockInspection.Result result;
        try {
            result = MockInspection.inspect(jwt, aud, NhsCli.blankToNull(apiKey), keys, System.currentTimeMillis());
        } catch (IllegalArgumentException notJwt) {
            throw new UsageException("'" + assertion + "' is not a JWT (" + notJwt.getMessage()
                    + "): give a client assertion, three base64url parts separated by dots");
        }
        MockInspection.Rule first = result.firstFailure();
        NhsCli.out(spec).println(format == NhsCli.Format.json ? json(result, first) : text(result, first, aud));
        return first == null ? NhsClient.ExitCode.OK : NhsClient.ExitCode.TOKEN_REFUSED;
    }

    static String text(MockInspection.Result result, MockInspection.Rule first, String aud) {
        StringBuilder s = new StringBuilder();
        s.append("header  ").append(JSONObjectUtils.toJSONString(result.header())).append('\n');
        s.append("claims  ").append(JSONObjectUtils.toJSONString(result.claims())).append('\n');
        // A date only where there is one: 1e300 is a number, and row 19's failure, but no instant.
        if (result.claims().get("exp") instanceof Number exp && Math.abs(exp.doubleValue()) < 1e15) {
            long ahead = exp.longValue() - Instant.now().getEpochSecond();
            s.append("exp     ").append(Instant.ofEpochSecond(exp.longValue())).append(" (")
                    .append(ahead >= 0 ? "in " + span(ahead) : span(-ahead) + " ago").append(")\n");
        }
        s.append("aud expected: ").append(aud).append("\n\n");
        for (MockInspection.Rule rule : result.rules()) {
            String status = rule.passed() == null ? "not checkable offline" : rule.passed() ? "pass" : "FAIL";
            s.append(String.format("%2d %-21s %s", rule.row(), status, rule.errorDescription()));
            if (rule.passed() == null && UNCHECKED.containsKey(rule.row())) {
                s.append(" (").append(UNCHECKED.get(rule.row())).append(')');
            } else if (Boolean.FALSE.equals(rule.passed())) {
                s.append(" → fix: ").append(FIXES.get(rule.row()));
            }
            s.append('\n');
        }
        s.append('\n').append(first == null ? "The endpoint would accept it as far as can be checked offline."
                : "The endpoint would answer HTTP " + first.status() + " " + first.error() + ": " + first.errorDescription());
        return s.toString();
    }

    static String span(long seconds) {
        return seconds >= 86400 ? seconds / 86400 + " d" : seconds >= 3600 ? seconds / 3600 + " h " + seconds % 3600 / 60 + " min"
                : seconds >= 60 ? seconds / 60 + " min " + seconds % 60 + " s" : seconds + " s";
    }

    static String json(MockInspection.Result result, MockInspection.Rule first) {
        List<Object> rules = new ArrayList<>();
        for (MockInspection.Rule rule : result.rules()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("row", rule.row());
            r.put("id", rule.id());
            r.put("status", rule.passed() == null ? "not_checkable" : rule.passed() ? "pass" : "fail");
            r.put("http_status", rule.status());
            r.put("error", rule.error());
            r.put("error_description", rule.errorDescription());
            r.put("fix", Boolean.FALSE.equals(rule.passed()) ? FIXES.get(rule.row()) : null);
            rules.add(r);
        }
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("header", result.header());
        all.put("claims", result.claims());
        all.put("rules", rules);
        all.put("first_failure", first == null ? null : first.id());
        return JSONObjectUtils.toJSONString(all);
    }
}
