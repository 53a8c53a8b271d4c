///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//SOURCES nhsauth/cli/NhsCli.java
//SOURCES nhsauth/mock/MockIdentityService.java
//DESCRIPTION A local NHS identity service: the signed-JWT token endpoint and a protected sample API

import nhsauth.cli.*;
import nhsauth.client.*;
import nhsauth.mock.*;

import java.io.PrintWriter;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.time.Duration;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;

import picocli.CommandLine.*;

@Command(name = "mock-server", sortOptions = false,
        description = {"Run a local NHS identity service: the signed-JWT token endpoint (POST /oauth2/token) "
                + "and a sample API: GET /hello-world/hello/application (a bearer token or a registered app's "
                + "apikey), GET /hello-world/hello/world (open access), any method on /echo/** (a bearer token).",
                "Client assertions are checked in the real endpoint's order and refused with its exact "
                        + "errors. Listens on loopback only unless --host says otherwise; stop it with Ctrl-C.",
                "Token exchange (user-restricted access): an ID token in subject_token is checked as the real endpoint "
                        + "does, and its signature against --id-token-jwks and the mock's own test issuer: "
                        + "GET /mock/id-token with query subject=ID and provider=cis2 or nhs-login answers {\"id_token\": \"<JWT>\"}.",
                "GET /_mock/requests (a page that refreshes itself) and /_mock/requests.json: the last 100 requests, "
                        + "newest first, and why each was refused."},
        footer = {"%nExamples:", "  mock-server --app MY_API_KEY=int-1.json",
                "  mock-server --app MY_API_KEY=https://example.org/jwks.json --port 9001",
                "  mock-server --app @apps.txt       (API_KEY=JWKS lines, kept out of ps)",
                "%nEnvironment: NHS_MOCK_APP gives --app (either form), NHS_MOCK_PORT --port,",
                "NHS_MOCK_ID_TOKEN_JWKS one --id-token-jwks."})
public class MockServer extends NhsCli.Base {

    @Option(names = "--app", paramLabel = "API_KEY[=JWKS]", showDefaultValue = Help.Visibility.NEVER,
            description = "Register an app with application-restricted access. JWKS is a file or an "
                    + "https URL (http only to this machine); without '=JWKS' the app has no public key. "
                    + "Repeat for more apps, or give @FILE: one app a line ('#' starts a comment).")
    List<String> apps = new ArrayList<>();

    @Option(names = "--app-without-level-3", paramLabel = "API_KEY[=JWKS]",
            description = "Register an app that lacks application-restricted (level 3) access; @FILE as for --app.")
    List<String> appsWithoutLevel3 = new ArrayList<>();

    @Option(names = "--id-token-jwks", paramLabel = "FILE|URL",
            description = "Also trust ID tokens signed by a key of this JWKS (NHS CIS2's or NHS login's) in a token "
                    + "exchange; repeatable.")
    List<String> idTokenJwks = new ArrayList<>();

    @Option(names = "--port", paramLabel = "PORT", converter = NhsCli.PortConverter.class,
            defaultValue = "" + NhsEnvironment.LOCAL_PORT,
            description = "Port to listen on, 0 for any free one (default: ${DEFAULT-VALUE}, "
                    + "which --env local points at).")
    int port;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only).")
    String host;

    @Option(names = "--jwks-cache-seconds", paramLabel = "SECONDS", defaultValue = "3600",
            converter = NhsCli.SecondsConverter.class,
            description = "How long a JWKS fetched from a URL is reused, as NHS does (default: ${DEFAULT-VALUE}).")
    Duration jwksCache;

    @Mixin
    NhsCli.VerboseOption verbose;

    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    volatile MockIdentityService running;

    public static void main(String... args) {
        NhsCli.main(new MockServer(), args);
    }

    @Override
    public Integer call() throws Exception {
        List<MockIdentityService.App> registered = parseApps();
        idTokenJwks.forEach(jwks -> checkJwks("--id-token-jwks", jwks.trim()));
        PrintWriter out = NhsCli.out(spec);
        MockIdentityService server = MockIdentityService.start(host, port, registered, jwksCache.toSeconds(),
                NhsCli.err(spec), verbose.verbose, idTokenJwks.stream().map(String::trim).toList());
        running = server;
        // Ctrl-C and SIGTERM run shutdown hooks, not finally blocks: the hook itself must close.
        Thread hook = new Thread(this::stop, "mock-server-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            out.println("mock-server listening on " + server.baseUrl());
            out.println("token endpoint: " + server.tokenUrl());
            for (MockIdentityService.App app : registered) {
                out.println("app " + app.apiKey() + ": " + (app.jwks() == null ? "no public key registered"
                        : "JWKS " + app.jwks()) + (app.level3() ? "" : " (no application-restricted access)"));
            }
            out.flush();
            stopped.await();
        } finally {
            stop();
            server.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook is what brought us here
            }
        }
        return NhsClient.ExitCode.OK;
    }

    /** Ends a running {@link #call()}: from the shutdown hook, or from a test. */
    void stop() {
        if (stopping.compareAndSet(false, true)) {
            MockIdentityService server = running;
            if (server != null) {
                server.close();
                PrintWriter err = NhsCli.err(spec);
                err.println("mock-server stopped");
                err.flush();
            }
        }
        stopped.countDown();
    }

    // ------------------------------------------------------------------ command-line values

    private List<MockIdentityService.App> parseApps() {
        List<MockIdentityService.App> all = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String value : apps) {
            lines(value).forEach(app -> all.add(parseApp("--app", app, true, seen)));
        }
        for (String value : appsWithoutLevel3) {
            lines(value).forEach(app -> all.add(parseApp("--app-without-level-3", app, false, seen)));
        }
        if (all.isEmpty()) {
            throw new UsageException("no app registered: give --app API_KEY=JWKS (a JWKS file or "
                    + "URL), once per app");
        }
        return all;
    }

    /** An option's value, or for {@code @FILE} the file's lines, blank ones and '#' comments left out. */
    private static List<String> lines(String value) {
        if (!value.startsWith("@")) {
            return List.of(value);
        }
        Path file;
        try {
            file = Path.of(value.substring(1));
        } catch (InvalidPathException e) {
            throw new UsageException("apps file '" + value.substring(1) + "' is not a valid path: check it");
        }
        return new String(NhsCommands.readFile(file, "apps file"), StandardCharsets.UTF_8).lines().map(String::trim)
                .filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
    }

    static MockIdentityService.App parseApp(String option, String value, boolean level3, Set<String> seen) {
        int eq = value.indexOf('=');
        String apiKey = (eq < 0 ? value : value.substring(0, eq)).trim();
        String jwks = eq < 0 ? null : value.substring(eq + 1).trim();
        if (!apiKey.matches("[\\x21-\\x7E]{1,256}")) {
            throw new UsageException(option + " '" + value + "' has no usable API key: use "
                    + option + " API_KEY=JWKS, the key without spaces");
        }
        if (!seen.add(apiKey)) {
            throw new UsageException("API key '" + apiKey + "' is registered twice: give each app once");
        }
        if (jwks != null && jwks.isEmpty()) {
            throw new UsageException(option + " '" + value + "' has nothing after '=': give a "
                    + "JWKS file or URL, or drop the '=' to register the app without a public key");
        }
        if (jwks != null) {
            checkJwks(option, jwks);
        }
        return new MockIdentityService.App(apiKey, jwks, level3);
    }

    private static void checkJwks(String option, String jwks) {
        if (MockJwks.isUrl(jwks)) {
            try {
                URI uri = new URI(jwks);
                if (uri.getHost() == null) {
                    throw new URISyntaxException(jwks, "no host");
                }
                // As the mock tells users: plain http is for a JWKS served on this machine, and nowhere else.
                if (uri.getScheme().equalsIgnoreCase("http") && !NhsCommands.isLoopback(uri.getHost())) {
                    throw new UsageException(option + ": the JWKS URL '" + jwks + "' is plain http to another "
                            + "machine: use https:// (http only for a JWKS served on this machine)");
                }
            } catch (URISyntaxException e) {
                throw new UsageException(option + ": '" + jwks + "' is not a valid JWKS URL: use "
                        + "https://host/path/jwks.json");
            }
        } else if (jwks.matches("(?i)^[a-z][a-z0-9+.-]*://.*")) {
            // Not a file either: Path.of would quietly turn ftp://host into ftp:/host.
            throw new UsageException(option + ": the JWKS URL '" + jwks + "' must start with "
                    + "https:// (or http:// for a local server)");
        } else {
            try {
                NhsKeys.loadJwks(Path.of(jwks));
            } catch (InvalidPathException e) {
                throw new UsageException("JWKS file '" + jwks + "' is not a valid path: check it");
            }
        }
    }
}
