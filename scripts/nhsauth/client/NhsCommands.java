package nhsauth.client;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.Map;

/**
 * What the toolkit's commands share with your scripts beyond {@link NhsClient}: the {@code NHS_*}
 * table behind every option, and the commands' own checks and wording, so a script can behave
 * like them.
 */
public final class NhsCommands {
    private NhsCommands() {
    }

    /** Where the commands keep tokens with --token-cache; see the README for each platform. */
    public static Path defaultTokenCacheDir() {
        return NhsTokenCache.defaultDir(System.getenv());
    }

    /**
     * The {@code NHS_*} variable that gives a command-line option's value when the option is not
     * typed ({@code --api-key}: {@code NHS_API_KEY}); null for an option no variable gives.
     */
    public static String variableFor(String option) {
        NhsSetting setting = NhsSetting.ofOption(option);
        return setting == null ? null : setting.variable();
    }

    /**
     * A small file a user named (a request body, say), as bytes, with the client's own wording for
     * what went wrong: a missing file, a folder, no permission.
     *
     * @throws UsageException naming {@code what} and the file
     */
    public static byte[] readFile(Path file, String what) {
        return NhsFiles.readBytes(file, what);
    }

    /**
     * A token as the commands take one ({@code --subject-token}'s ID token, {@code inspect}'s client
     * assertion): a file's content, or stdin's for {@code -}, at most 64 KiB, stripped. Never the token
     * itself as the argument, which the process list would show. {@code what} names it in messages.
     *
     * @throws UsageException naming the problem, never quoting the token
     */
    public static String readToken(String fileOrDash, String what) {
        int max = 65_536;
        byte[] read;
        if (fileOrDash.equals("-")) {
            try {
                read = System.in.readNBytes(max + 1);
            } catch (IOException e) {
                throw new UsageException("cannot read " + what + " from stdin: " + NhsFiles.reason(e), e);
            }
        } else if (fileOrDash.matches("[^/\\\\]{100,}|[^/\\\\]*\\.[^/\\\\]*\\.[^/\\\\]*") && !Files.exists(Path.of(fileOrDash))) {
            // Long or dotted like a JWT or JWE, with no folder, and no such file: a token pasted in a file's place,
            // not quoted back.
            throw new UsageException(what + " takes a file, or - for stdin, not the token itself (the process list "
                    + "shows arguments): put it in a file, or pipe it in");
        } else {
            read = NhsFiles.readBytes(Path.of(fileOrDash), what, max);
        }
        String token = new String(read, StandardCharsets.UTF_8).strip();
        if (token.isEmpty() || read.length > max) {
            throw new UsageException(what + " '" + fileOrDash + "' " + (token.isEmpty() ? "is empty" : "gives over 64 KiB")
                    + ": give its file, or - to read it from stdin");
        }
        return token;
    }

    /**
     * A header's value as this client's traces show it: credentials masked ({@code Authorization}
     * and {@code Proxy-Authorization} keep their scheme), anything else as it is.
     */
    public static String redactedHeader(String name, String value) {
        return NhsHttp.traced(name, value);
    }

    /** Whether a URL's host is this machine (a loopback address, or a name whose every address is): where plain http is harmless. */
    public static boolean isLoopback(String host) {
        return NhsSetting.isLoopback(host);
    }

    /**
     * Checks an API URL as {@link NhsClient#send} will, before anything is sent: http or https with a host,
     * and plain http only to this machine when the pattern sends a credential. {@code what} names
     * the URL in the message (an option, a variable).
     *
     * @throws UsageException naming the URL and the fix
     */
    public static URI checkApiUrl(String url, String what, NhsAuthPattern auth) {
        URI uri = NhsSetting.checkUrl(url, what);
        return auth == NhsAuthPattern.NONE ? uri
                : NhsSetting.checkNotInClear(uri, what, auth == NhsAuthPattern.API_KEY ? "API key" : "bearer token");
    }

    /**
     * The value {@code vars} give a command-line option through its {@code NHS_*} variable, as
     * the option takes it: null when the variable is unset or blank; for a switch
     * ({@code --token-cache}), {@code true} when the variable is 1, true, yes or on; null for
     * {@code --subject-token}, a file, whose variable holds the token itself.
     */
    public static String optionDefault(String option, Map<String, String> vars) {
        NhsSetting setting = NhsSetting.ofOption(option);
        String value = setting == null ? null : NhsSetting.blankToNull(vars.get(setting.variable()));
        if (value == null || setting == NhsSetting.SUBJECT_TOKEN) {
            return null;
        }
        return setting == NhsSetting.TOKEN_CACHE ? String.valueOf(NhsSetting.isOn(value)) : value;
    }

    /**
     * A timeout as the commands and {@code NHS_TIMEOUT} take it: seconds, fractions allowed, more
     * than 0 and at most 3600.
     *
     * @throws UsageException naming the value and the fix, e.g. {@code 'soon' is not a number of seconds: e.g. 30}
     */
    public static Duration timeoutOf(String seconds) {
        return NhsSetting.parseTimeout(seconds, null);
    }

    /** Deletes every cached token in {@code dir}; returns how many. */
    public static int clearTokenCache(Path dir) throws IOException {
        return NhsTokenCache.clear(dir);
    }
}
