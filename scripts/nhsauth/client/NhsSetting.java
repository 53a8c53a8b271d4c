package nhsauth.client;

import java.net.*;
import java.util.*;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.*;

/**
 * Every setting of the toolkit once, with its {@code NHS_*} variable, option and builder method; messages name one with
 * a placeholder ({@link #named()}) that each audience reads in its own terms ({@link #render}). Also the small value
 * checks that the library and the commands share.
 */
enum NhsSetting {
    AUTH("NHS_AUTH", "--auth", "auth(…)"),
    API_KEY("NHS_API_KEY", "--api-key", "apiKey(…)"),
    PRIVATE_KEY("NHS_PRIVATE_KEY", "--private-key", "privateKey(…)"),
    PASSPHRASE("NHS_PRIVATE_KEY_PASSPHRASE", "--private-key-passphrase", "privateKey(file, passphrase)"),
    ENV("NHS_ENV", "--env", "environment(…)"),
    KID("NHS_KID", "--kid", "kid(…)"),
    TOKEN_URL("NHS_TOKEN_URL", "--token-url", "tokenUrl(…)"),
    SUBJECT_TOKEN("NHS_SUBJECT_TOKEN", "--subject-token", "subjectToken(…)"),
    TIMEOUT("NHS_TIMEOUT", "--timeout", "timeout(…)"),
    CA_CERT("NHS_CA_CERT", "--cacert", "caCertificates(…)"),
    TOKEN_CACHE("NHS_TOKEN_CACHE", "--token-cache", "tokenCache(…)"),
    TOKEN_CACHE_DIR("NHS_TOKEN_CACHE_DIR", "--token-cache-dir", "tokenCache(…)"),
    TRACE(null, "--verbose", "trace(…)"),
    // The commands' own settings: no builder method, but the same variable-to-option rule.
    API_URL("NHS_API_URL", "--url", null),
    JWKS("NHS_JWKS", "--jwks", null),
    OUTPUT_DIR("NHS_OUTPUT_DIR", "--output-dir", null),
    KEY_SIZE("NHS_KEY_SIZE", "--key-size", null),
    CORRELATION_ID("NHS_CORRELATION_ID", "--correlation-id", null),
    PRODUCT_ID("NHS_PRODUCT_ID", "--product-id", null),
    MOCK_APP("NHS_MOCK_APP", "--app", null),
    MOCK_ID_TOKEN_JWKS("NHS_MOCK_ID_TOKEN_JWKS", "--id-token-jwks", null),
    MOCK_PORT("NHS_MOCK_PORT", "--port", null);

    /** A placeholder is a form's mark, the setting's name, then END; each audience words it in {@link #render}. */
    private static final Pattern MARK = Pattern.compile("([\uE000\uE002\uE003])([A-Z_]+)\uE001");
    /** The forms: its two names ({@code check --timeout / NHS_TIMEOUT}), what sets it, its one name ({@code use --kid int-1}). */
    static final char NOUN = '\uE000', ACTION = '\uE002', SHORT = '\uE003';
    private final String variable;
    private final String option;
    private final String method;

    NhsSetting(String variable, String option, String method) {
        this.variable = variable;
        this.option = option;
        this.method = method;
    }

    /** How one audience words a setting in a form. */
    interface Words {
        String of(NhsSetting setting, char form);
    }

    /** The library's words: the variable and the builder method. */
    static final Words LIBRARY = (setting, form) -> form == SHORT ? setting.method.replace("(…)", "")
            : setting.variable == null ? setting.method
            : form == ACTION ? "set " + setting.variable + " or call " + setting.method
            : setting.variable + " / " + setting.method;

    /** The commands' words: the option and the variable. */
    static final Words COMMAND_LINE = (setting, form) -> form == SHORT || setting.variable == null ? setting.option
            : form == ACTION ? "pass " + setting.option + " or set " + setting.variable
            : setting.option + " / " + setting.variable;

    /** The setting an option gives; null for an option that no variable gives. */
    static NhsSetting ofOption(String option) {
        return Arrays.stream(values()).filter(s -> s.option.equals(option) && s.variable != null).findFirst().orElse(null);
    }

    /** The environment variable that supplies it; null for none. */
    String variable() {
        return variable;
    }

    /** Its variable's value in {@code vars}, trimmed; null when unset or blank. */
    String in(Map<String, String> vars) {
        return blankToNull(vars.get(variable));
    }

    /** A placeholder for the setting as a noun: {@code check <it>}. */
    String named() {
        return NOUN + name() + "\uE001";
    }

    /** A placeholder for the action that sets it: {@code no API key: <set it> to …}. */
    String action() {
        return ACTION + name() + "\uE001";
    }

    /** A placeholder for its one name: {@code use <it> int-1}. */
    String shortName() {
        return SHORT + name() + "\uE001";
    }

    /** Replaces each placeholder with {@code words} for it. */
    static String render(String text, Words words) {
        return text == null ? null : MARK.matcher(text)
                .replaceAll(m -> Matcher.quoteReplacement(words.of(valueOf(m.group(2)), m.group(1).charAt(0))));
    }

    /** Every setting the {@code NHS_*} variables give, into {@code b}; a bad value names its variable. */
    static void configure(NhsClient.Builder b, Map<String, String> vars) {
        String env = ENV.in(vars), auth = AUTH.in(vars), seconds = TIMEOUT.in(vars), passphrase = vars.get(PASSPHRASE.variable);
        b.apiKey(API_KEY.in(vars));
        if (env != null) {
            b.environment(NhsEnvironment.parse(env, ENV.variable));
        }
        b.auth(auth == null ? null : NhsAuthPattern.parse(auth, AUTH.variable));
        b.kid(KID.in(vars));
        b.tokenUrl(TOKEN_URL.in(vars));
        b.subjectToken(SUBJECT_TOKEN.in(vars));
        b.privateKey(PRIVATE_KEY.path(vars), passphrase == null ? null : passphrase.toCharArray());
        if (seconds != null) {
            b.timeout(parseTimeout(seconds, TIMEOUT.variable));
        }
        b.caCertificates(CA_CERT.path(vars));
        if (isOn(vars.get(TOKEN_CACHE.variable))) {
            Path dir = TOKEN_CACHE_DIR.path(vars);
            b.tokenCache(dir != null ? dir : NhsTokenCache.defaultDir(vars));
        }
        b.proxyVariables(vars);
    }

    /** Its variable's value in {@code vars} as a path; null when unset or blank. */
    private Path path(Map<String, String> vars) {
        String value = in(vars);
        return value == null ? null : Path.of(value);
    }

    // ------------------------------------------------------------------ value checks

    /** Checks a URL names http or https and a host; anything else is a usage error. */
    static URI checkUrl(String url, String what) {
        URI uri;
        try {
            uri = new URI(url == null ? "" : url.trim());
        } catch (URISyntaxException e) {
            throw new UsageException(what + " '" + url + "' is not a valid URL (" + e.getReason()
                    + "): give a full https:// URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            throw new UsageException(what + " '" + url + "' must start with https:// (or http:// for a local server)");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new UsageException(what + " '" + url + "' has no host: give a full URL like https://int.api.service.nhs.uk/...");
        }
        return uri;
    }

    /** Refuses plain http to any host but this machine (a mock, never proxied) when a secret would ride on it. */
    static URI checkNotInClear(URI uri, String what, String secret) {
        if ("http".equalsIgnoreCase(uri.getScheme()) && !isLoopback(uri.getHost())) {
            throw new UsageException(what + " '" + uri + "' is plain http to another machine, so the "
                    + secret + " would cross the network unencrypted: use https:// (http is only for a local mock server)");
        }
        return uri;
    }

    /**
     * Whether a URL's host is this machine by its spelling: a loopback address, or {@code localhost} when all its
     * addresses are. No other name is, whatever DNS answers now: the answer could change before the connection.
     */
    static boolean isLoopback(String host) {
        if (host == null || !(host.equalsIgnoreCase("localhost") || host.startsWith("[")
                || host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}"))) {
            return false;
        }
        try {
            return Arrays.stream(InetAddress.getAllByName(host)).allMatch(InetAddress::isLoopbackAddress);
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** Seconds as a timeout; a mistake is named by {@code what} (a variable or option), or by the value alone for null. */
    static Duration parseTimeout(String seconds, String what) {
        String named = (what == null ? "" : what + " ") + "'" + seconds + "'";
        double s;
        try {
            s = Double.parseDouble(seconds.trim());
        } catch (NumberFormatException e) {
            s = Double.NaN;
        }
        if (Double.isNaN(s)) {
            throw new UsageException(named + " is not a number of seconds: e.g. 30");
        }
        if (s <= 0 || s > 3600) {
            throw new UsageException(named + " must be more than 0 and at most 3600 seconds: e.g. 30");
        }
        // At least a millisecond: the JDK refuses a zero timeout.
        return Duration.ofMillis(Math.max(1, Math.round(s * 1000)));
    }

    static boolean isOn(String flag) {
        return flag != null && flag.trim().matches("(?i)1|true|yes|on");
    }

    static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    }
}
