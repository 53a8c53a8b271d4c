package nhsauth.client;

import java.util.*;

import com.nimbusds.jose.util.*;

/**
 * JSON text for what nhs-auth writes: {@code --format json} lines and JWKS files, written by nimbus
 * (which keeps the caller's member order). nimbus writes only compact text, and a JWKS is
 * published indented by two spaces as the Python tool wrote it, so {@link #pretty} lays it out.
 */
final class NhsJson {
    private NhsJson() {
    }

    /** One line, no spaces: {@code {"a":1,"b":"x"}}. */
    static String compact(Map<String, ?> value) {
        return JSONObjectUtils.toJSONString(value);
    }

    /** An object or array indented by two spaces, {@code "name": value}, as Python's {@code json.dumps(indent=2)}. */
    @SuppressWarnings("unchecked")
    static String pretty(Object value) {
        String json = value instanceof List<?> list ? JSONArrayUtils.toJSONString(list) : compact((Map<String, ?>) value);
        StringBuilder out = new StringBuilder();
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            out.append(c);
            if (inString) {
                if (c == '\\') {
                    out.append(json.charAt(++i));
                }
                inString = c != '"';
            } else if (c == '"') {
                inString = true;
            } else if (c == ':') {
                out.append(' ');
            } else if (c == ',') {
                out.append('\n').append("  ".repeat(depth));
            } else if (c == '{' || c == '[') {
                if (json.charAt(i + 1) == (c == '{' ? '}' : ']')) {
                    out.append(json.charAt(++i));
                } else {
                    out.append('\n').append("  ".repeat(++depth));
                }
            } else if (c == '}' || c == ']') {
                out.setLength(out.length() - 1);
                out.append('\n').append("  ".repeat(--depth)).append(c);
            }
        }
        return out.toString();
    }
}
