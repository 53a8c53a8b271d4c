package nhsauth.client;

import java.util.List;
import java.util.Map;

/**
 * JSON text for what nhs-auth writes: {@code --format json} lines and JWKS files. nimbus parses
 * JSON for us, but its public API writes only compact text, and a JWKS is published indented by
 * two spaces as the Python tool wrote it; this writer does both, keeping the caller's member order.
 */
final class NhsJson {
    private NhsJson() {
    }

    /** One line, no spaces: {@code {"a":1,"b":"x"}}. */
    static String compact(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, -1);
        return out.toString();
    }

    /** Indented by two spaces, {@code "name": value}, as Python's {@code json.dumps(indent=2)}. */
    static String pretty(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, 0);
        return out.toString();
    }

    /** {@code depth} -1 is compact; otherwise the current indentation level. */
    private static void write(StringBuilder out, Object value, int depth) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            string(out, s);
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            container(out, '{', '}', map.entrySet(), depth, (entry, d) -> {
                string(out, String.valueOf(entry.getKey()));
                out.append(depth < 0 ? ":" : ": ");
                write(out, entry.getValue(), d);
            });
        } else if (value instanceof List<?> list) {
            container(out, '[', ']', list, depth, (item, d) -> write(out, item, d));
        } else {
            string(out, String.valueOf(value));
        }
    }

    private interface Member<T> {
        void write(T member, int depth);
    }

    private static <T> void container(StringBuilder out, char open, char close, Iterable<T> members, int depth,
            Member<T> writer) {
        out.append(open);
        boolean first = true;
        for (T member : members) {
            out.append(first ? "" : ",");
            first = false;
            newline(out, depth < 0 ? -1 : depth + 1);
            writer.write(member, depth < 0 ? -1 : depth + 1);
        }
        if (!first) {
            newline(out, depth);
        }
        out.append(close);
    }

    private static void newline(StringBuilder out, int depth) {
        if (depth >= 0) {
            out.append('\n').append("  ".repeat(depth));
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
