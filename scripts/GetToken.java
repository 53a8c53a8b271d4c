///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//DESCRIPTION Sign a client assertion and exchange it for an NHS access token

import nhsauth.cli.*;
import nhsauth.client.*;

import java.io.PrintWriter;
import java.time.temporal.ChronoUnit;

import picocli.CommandLine.*;

@Command(name = "get-token", sortOptions = false,
        description = {"Sign a client assertion (RS512 JWT) with your private key and exchange it at the "
                + "NHS token endpoint for an access token.",
                "Needs --api-key and --private-key (or NHS_API_KEY and NHS_PRIVATE_KEY)."},
        footer = {"%nExamples:",
                "  get-token --api-key KEY --env int --private-key .auth/int-1.pem",
                "  TOKEN=$(get-token --format token)      # with NHS_API_KEY, NHS_PRIVATE_KEY set",
                "  get-token --subject-token id.jwt       # exchange a user's ID token"})
public class GetToken extends NhsCli.Base {

    @Mixin
    NhsCli.ClientOptions options;

    @Mixin
    NhsCli.TokenCacheOptions cache;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "text: token and expiry; token: the token alone; json: access_token, token_type, "
                    + "expires_in, issued_at, expires_at, and from an exchange refresh_token, refresh_token_expires_in, "
                    + "issued_token_type (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--assertion-only",
            description = "Print a signed client assertion and stop, without calling the token endpoint "
                    + "(for curl or Postman; it is valid for 240 s and one use).")
    boolean assertionOnly;

    enum Format { text, token, json }

    public static void main(String... args) {
        NhsCli.main(new GetToken(), args);
    }

    @Override
    public Integer call() {
        NhsClient client = options.builder(NhsCli.err(spec), NhsAuthPattern.SIGNED_JWT).tokenCache(cache.dir()).build();
        PrintWriter out = NhsCli.out(spec);
        if (assertionOnly) {
            out.println(client.clientAssertion());
        } else {
            AccessToken token = client.token();
            out.println(switch (format) {
                case token -> token.value();
                case json -> token.toJson();
                case text -> "Access token: " + token.value() + System.lineSeparator() + "Expires in:   "
                        + token.expiresInSeconds() + " s (at " + token.expiresAt().truncatedTo(ChronoUnit.SECONDS) + ")"
                        + (token.refreshToken() == null ? "" : System.lineSeparator()
                                + "Refresh token: received (not shown: --format json prints it)");
            });
        }
        return NhsClient.ExitCode.OK;
    }
}
