package nhsauth.client;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.time.Duration;
import java.util.Map;

/** What the commands share with your scripts beyond {@link NhsClient}: the {@code NHS_*} table, their checks and wording. */
public final class NhsCommands {
    private NhsCommands() {
    }

    /** Where the commands keep tokens with --token-cache; see the README for each platform. */
    public static Path defaultTokenCacheDir() {
        return NhsTokenCache.defaultDir(System.getenv());
    }

    /** The {@code NHS_*} variable giving an option's value when it is not typed ({@code --api-key}: {@code NHS_API_KEY}), or null. */
    public static String variableFor(String option) {
        NhsSetting setting = NhsSetting.ofOption(option);
        return setting == null ? null : setting.variable();
    }

    /** A small file a user named (a request body, say); a UsageException names {@code what}, the file and the problem. */
    public static byte[] readFile(Path file, String what) {
        return NhsFiles.readBytes(file, what);
    }

    /**
     * A token as the commands take one ({@code --subject-token}, {@code inspect}'s assertion): a file's content, or stdin's
     * for {@code -}, at most 64 KiB, stripped; never the token as the argument, which the process list would show.
     * A UsageException names {@code what} and the problem, never quoting the token.
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
            // Long or dotted like a JWT or JWE, with no folder, and no such file: a token pasted in a file's place.
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

    /** A header's value as traces show it: credentials masked ({@code Authorization} keeps its scheme), the rest as is. */
    public static String redactedHeader(String name, String value) {
        return NhsHttp.traced(name, value);
    }

    /** Whether a URL's host is this machine (a loopback address, or a name whose every address is): where plain http is harmless. */
    public static boolean isLoopback(String host) {
        return NhsSetting.isLoopback(host);
    }

    /**
     * Checks an API URL as {@link NhsClient#send} will: http or https with a host, plain http only to this machine when
     * the pattern sends a credential. A UsageException names the URL ({@code what}: an option, a variable) and the fix.
     */
    public static URI checkApiUrl(String url, String what, NhsAuthPattern auth) {
        URI uri = NhsSetting.checkUrl(url, what);
        return auth == NhsAuthPattern.NONE ? uri
                : NhsSetting.checkNotInClear(uri, what, auth == NhsAuthPattern.API_KEY ? "API key" : "bearer token");
    }

    /**
     * The value {@code vars} give an option through its {@code NHS_*} variable: null when unset or blank; for the
     * switch {@code --token-cache}, {@code true} for 1, true, yes or on; null for {@code --subject-token} (a file).
     */
    public static String optionDefault(String option, Map<String, String> vars) {
        NhsSetting setting = NhsSetting.ofOption(option);
        String value = setting == null ? null : setting.in(vars);
        if (value == null || setting == NhsSetting.SUBJECT_TOKEN) {
            return null;
        }
        return setting == NhsSetting.TOKEN_CACHE ? String.valueOf(NhsSetting.isOn(value)) : value;
    }

    /** A timeout as the commands take it: seconds, fractions allowed, over 0 and at most 3600; else a UsageException. */
    public static Duration timeoutOf(String seconds) {
        return NhsSetting.parseTimeout(seconds, null);
    }

    /** Deletes every cached token in {@code dir}; returns how many. */
    public static int clearTokenCache(Path dir) throws IOException {
        return NhsTokenCache.clear(dir);
    }
}
