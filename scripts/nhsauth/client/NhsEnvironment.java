package nhsauth.client;

import java.util.*;
import java.util.stream.Collectors;

/** An NHS API platform environment and its base URL; {@code local} is the mock server. */
public enum NhsEnvironment {
    PROD, INT, DEV, SANDBOX, REF, INTERNAL_DEV, INTERNAL_QA, LOCAL;

    /** The mock server's default port, which {@code local} points at. */
    public static final int LOCAL_PORT = 9000;

    /** The name users type: {@code int}, {@code prod}, {@code internal-dev}, … */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Where its APIs live: {@code https://api.service.nhs.uk} for prod, the mock server's {@code http://127.0.0.1:9000}
     * for local, {@code https://<id>.api.service.nhs.uk} for the others.
     */
    public String baseUrl() {
        return this == LOCAL ? "http://127.0.0.1:" + LOCAL_PORT
                : "https://" + (this == PROD ? "" : id() + ".") + "api.service.nhs.uk";
    }

    /** The token endpoint: the client assertion's {@code aud} must equal it exactly. */
    public String tokenUrl() {
        return baseUrl() + "/oauth2/token";
    }

    /** The kid the Python tool defaulted to. */
    public String defaultKid() {
        return id() + "-1";
    }

    /** Every environment's name, comma-separated. */
    public static String validNames() {
        return Arrays.stream(values()).map(NhsEnvironment::id).collect(Collectors.joining(", "));
    }

    /** @throws UsageException naming the valid environments */
    public static NhsEnvironment parse(String name) {
        return parse(name, null);
    }

    /** Like {@link #parse(String)}, naming where the value came from (a variable or option) on a mistake. */
    static NhsEnvironment parse(String name, String source) {
        String wanted = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(e -> e.id().equals(wanted)).findFirst().orElseThrow(() -> new UsageException(
                "unknown environment '" + name + "'" + (source == null ? "" : " in " + source) + ": use one of " + validNames()));
    }

    @Override
    public String toString() {
        return id();
    }
}
