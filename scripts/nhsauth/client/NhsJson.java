package nhsauth.client;

import java.util.Map;

import com.nimbusds.jose.shaded.gson.GsonBuilder;
import com.nimbusds.jose.util.JSONObjectUtils;

/**
 * JSON text for what nhs-auth writes, by nimbus (which keeps the caller's member order); a JWKS is published indented by
 * two spaces as the Python tool wrote it, which nimbus's own Gson, set as nimbus sets it, writes pretty-printed.
 */
final class NhsJson {
    private NhsJson() {
    }

    /** One line, no spaces: {@code {"a":1,"b":"x"}}. */
    static String compact(Map<String, ?> value) {
        return JSONObjectUtils.toJSONString(value);
    }

    /** An object or array indented by two spaces, {@code "name": value}, as Python's {@code json.dumps(indent=2)}. */
    static String pretty(Object value) {
        return new GsonBuilder().serializeNulls().disableHtmlEscaping().setPrettyPrinting().create().toJson(value);
    }
}
