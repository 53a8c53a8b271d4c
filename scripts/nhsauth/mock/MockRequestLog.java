package nhsauth.mock;

import nhsauth.mock.MockIdentityService.Reply;
import nhsauth.mock.MockTokenEndpoint.Refusal;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.*;
import java.util.concurrent.atomic.*;
import java.util.stream.IntStream;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.sun.net.httpserver.HttpExchange;

/**
 * The last {@link #SIZE} requests for /_mock/requests (HTML) and .json, why each was refused, the assertion decoded.
 * Recording stores raw pieces in a lock-free ring; decoding and formatting wait until the page is asked for.
 */
final class MockRequestLog {
    static final int SIZE = 100;
    static final String PAGE_PATH = "/_mock/requests";
    static final String JSON_PATH = PAGE_PATH + ".json";
    /** A bigger body is not kept: a token request's is a couple of KB. */
    private static final int MAX_KEPT_BODY = 64 * 1024;

    private record Entry(long sequence, long time, String method, String path, String contentType, String apiKey,
            byte[] body, int status, byte[] reply, String note) {
    }

    private final AtomicReferenceArray<Entry> ring = new AtomicReferenceArray<>(SIZE);
    private final AtomicLong sequence = new AtomicLong();

    /** Keeps a token request's form (its client assertion) and a refusal's answer; never a success (a live token). */
    void record(HttpExchange exchange, long time, byte[] body, Reply reply) {
        long n = sequence.getAndIncrement();
        String path = String.valueOf(exchange.getRequestURI().getRawPath());
        boolean form = path.equals(MockIdentityService.TOKEN_PATH) && body != null && body.length <= MAX_KEPT_BODY;
        boolean refusal = reply.status() >= 400 && reply.body().length <= MAX_KEPT_BODY;
        ring.set((int) (n % SIZE), new Entry(n, time, exchange.getRequestMethod(), path,
                exchange.getRequestHeaders().getFirst("Content-Type"), exchange.getRequestHeaders().getFirst("apikey"),
                form ? body : null, reply.status(), refusal ? reply.body() : null, reply.note()));
    }

    /** GET (or HEAD) of the page or its JSON. */
    Reply page(HttpExchange exchange) {
        boolean json = exchange.getRequestURI().getRawPath().equals(JSON_PATH);
        List<Map<String, Object>> shown = IntStream.range(0, SIZE).mapToObj(ring::get).filter(Objects::nonNull)
                .sorted(Comparator.comparingLong(Entry::sequence).reversed()).map(MockRequestLog::shown).toList();
        String text = json ? JSONObjectUtils.toJSONString(Map.of("requests", shown)) : html(shown);
        return new Reply(200, Map.of("Content-Type", json ? "application/json" : "text/html; charset=utf-8",
                "Cache-Control", "no-store", "X-Content-Type-Options", "nosniff"), text.getBytes(StandardCharsets.UTF_8), null);
    }

    /** One request as the page shows it: credentials masked, the assertion without its signature. */
    private static Map<String, Object> shown(Entry e) {
        Map<String, Object> answer = parse(e.reply());
        Map<String, String> form = e.body() == null ? Map.of()
                : MockTokenEndpoint.Form.parse(new String(e.body(), StandardCharsets.UTF_8));
        String jwt = form.get("client_assertion");
        String[] parts = jwt == null ? new String[0] : jwt.split("\\.", -1);
        Map<String, Object> header = parts.length > 1 ? decode(parts[0]) : null;
        Map<String, Object> claims = parts.length > 1 ? decode(parts[1]) : null;
        Object sub = claims == null ? null : claims.get("sub");
        if (claims != null) {
            claims = new LinkedHashMap<>(claims);
            claims.replaceAll((name, value) -> List.of("iss", "sub").contains(name) ? masked(value) : value);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("time", Instant.ofEpochMilli(e.time()).toString());
        out.put("app", masked(e.apiKey() != null ? e.apiKey() : sub));
        out.put("kid", header == null ? null : header.get("kid"));
        out.put("route", e.method() + " " + e.path());
        out.put("status", e.status());
        out.put("error", answer.get("error"));
        out.put("error_description", answer.get("error_description"));
        out.put("cause", cause(e, answer, form, header, claims));
        if (jwt != null) {
            Map<String, Object> assertion = new LinkedHashMap<>();
            assertion.put("header", header);
            assertion.put("claims", claims);
            out.put("client_assertion", assertion);
        }
        return out;
    }

    /** The header or claim at fault and the value seen, for the refusals a client can cause. */
    private static String cause(Entry e, Map<String, Object> answer, Map<String, String> form, Map<String, Object> header,
            Map<String, Object> claims) {
        if (e.status() == 405) {
            return "the method was " + e.method() + ": this route takes only "
                    + (MockIdentityService.TOKEN_PATH.equals(e.path()) ? "POST" : "GET");
        }
        Refusal refusal = Arrays.stream(Refusal.values()).filter(r -> r.status == e.status()
                && r.error.equals(answer.get("error")) && r.description.equals(answer.get("error_description")))
                .findFirst().orElse(null);
        if (refusal == null) {
            return null;
        }
        Map<String, Object> h = header == null ? Map.of() : header;
        Map<String, Object> c = claims == null ? Map.of() : claims;
        String form415 = MockTokenEndpoint.FORM_CONTENT_TYPE;
        String because = switch (refusal.row) {
            case 1 -> "no such route: the token endpoint is POST " + MockIdentityService.TOKEN_PATH;
            case 3 -> e.contentType() == null ? "no Content-Type header was sent: send exactly " + form415
                    : "Content-Type was " + quoted(e.contentType()) + "; NHS compares it as a plain string: send exactly "
                    + form415;
            case 4 -> "the form has no grant_type: send grant_type=client_credentials";
            case 5 -> "grant_type was " + quoted(form.get("grant_type")) + ": send client_credentials";
            case 6 -> "client_assertion_type was " + quoted(form.get("client_assertion_type")) + ": send "
                    + MockTokenEndpoint.ASSERTION_TYPE;
            case 7 -> "the form has no client_assertion";
            case 8 -> "client_assertion is not three base64url parts whose first two are JSON objects";
            case 9 -> h.get("alg") == null ? "the JWT header has no alg: sign with RS512"
                    : "the JWT header's alg was " + quoted(h.get("alg")) + ": sign with RS512";
            case 10 -> "exp was " + c.get("exp") + ", " + secondsFrom(e, c.get("exp")) + ": make a fresh assertion";
            case 11 -> "the JWT header has no kid (Authlib 1.2 drops headers passed to PrivateKeyJWT)";
            case 12 -> "the JWT header's typ was " + quoted(h.get("typ")) + ": send JWT";
            case 13 -> "the claims have no exp";
            case 14 -> "exp was " + quoted(c.get("exp")) + ", not a number of seconds";
            case 15 -> "iss was " + quoted(c.get("iss")) + " and sub " + quoted(c.get("sub"))
                    + ": both must be the app's API key";
            case 16 -> "the claims have no jti";
            case 17 -> "jti was " + quoted(c.get("jti")) + ": send a non-empty string such as a UUID";
            case 18 -> "jti " + quoted(c.get("jti")) + " was already used by this app: make a new one for every request";
            case 19 -> "exp was " + c.get("exp") + ", " + secondsFrom(e, c.get("exp")) + ": at most 300 s ahead";
            case 20 -> "sub " + quoted(c.get("sub")) + " is not the API key of an app this mock knows";
            case 21 -> "the app has no public key registered (mock-server --app API_KEY=JWKS)";
            case 22 -> "the app's JWKS could not be fetched";
            case 23 -> "kid " + quoted(h.get("kid")) + " is in no key of the app's JWKS";
            case 24 -> "the signature does not verify with the key of kid " + quoted(h.get("kid"));
            case 25 -> "aud was " + quoted(c.get("aud")) + ": send the token URL you post to";
            case 26 -> "the app has no application-restricted (level 3) access";
            default -> null;
        };
        // The note adds the mock's detail (e.g. the aud expected); it starts with the row and description.
        String note = e.note() == null ? "" : e.note();
        int detail = note.indexOf(" [");
        String extra = detail < 0 ? "" : note.substring(detail + 2, note.length() - 1);
        return because == null ? (extra.isEmpty() ? null : extra) : extra.isEmpty() ? because : because + " (" + extra + ")";
    }

    private static String secondsFrom(Entry e, Object exp) {
        if (!(exp instanceof Number n)) {
            return "";
        }
        long ahead = Math.round(n.doubleValue() - e.time() / 1000.0);
        return ahead < 0 ? -ahead + " s before the request" : ahead + " s after the request";
    }

    private static String quoted(Object value) {
        return value == null ? "missing" : "'" + value + "'";
    }

    /** API keys and tokens are never shown whole: a short prefix at most. */
    private static String masked(Object value) {
        if (value == null) {
            return null;
        }
        String s = String.valueOf(value);
        return (s.length() >= 12 ? s.substring(0, 4) : "") + "…";
    }

    private static Map<String, Object> decode(String part) {
        try {
            return JSONObjectUtils.parse(new String(Base64.getUrlDecoder().decode(part), StandardCharsets.UTF_8));
        } catch (java.text.ParseException | RuntimeException e) {
            return null;
        }
    }

    private static Map<String, Object> parse(byte[] json) {
        try {
            Map<String, Object> map = json == null ? null : JSONObjectUtils.parse(new String(json, StandardCharsets.UTF_8));
            return map == null ? Map.of() : map;
        } catch (java.text.ParseException | RuntimeException e) {
            return Map.of();
        }
    }

    // ------------------------------------------------------------------ the page

    private static final String STYLE = "body{font:14px system-ui,sans-serif;margin:1em;color:#222}"
            + "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:4px 6px;"
            + "text-align:left;vertical-align:top}tr.refused td{background:#fff3f3}.why{color:#a00}"
            + "pre{margin:0;white-space:pre-wrap;word-break:break-all;font-size:12px}"
            + "@media (max-width:700px){table,tbody,tr,td{display:block}thead{display:none}"
            + "tr{border:1px solid #ccc;border-radius:6px;margin-bottom:8px}"
            + "td:empty{display:none}td::before{content:attr(data-label);font-weight:bold;display:block}}";
    private static final List<String> COLUMNS = List.of("time", "app", "kid", "route", "outcome", "why", "client assertion");

    private static String html(List<Map<String, Object>> shown) {
        StringBuilder page = new StringBuilder("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<meta http-equiv=\"refresh\" content=\"2\">"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                + "<link rel=\"icon\" href=\"data:,\"><title>mock-server: last requests</title><style>" + STYLE + "</style></head><body>"
                + "<h1>Requests to the mock: " + shown.size() + "</h1><p>The last " + SIZE + " at most, newest first"
                + "; this page refreshes itself. <a href=\"" + JSON_PATH + "\">As JSON</a></p><table><thead><tr>");
        COLUMNS.forEach(column -> page.append("<th>").append(column).append("</th>"));
        page.append("</tr></thead><tbody>");
        for (Map<String, Object> r : shown) {
            boolean refused = ((Integer) r.get("status")) >= 400;
            Object error = r.get("error");
            Object assertion = r.get("client_assertion");
            List<Object> cells = List.of(r.get("time"), Objects.toString(r.get("app"), ""),
                    Objects.toString(r.get("kid"), ""), r.get("route"), r.get("status") + (error == null ? "" : " " + error),
                    Objects.toString(r.get("error_description"), ""),
                    assertion == null ? "" : "header " + json(((Map<?, ?>) assertion).get("header"))
                            + "\nclaims " + json(((Map<?, ?>) assertion).get("claims")));
            page.append(refused ? "<tr class=\"refused\">" : "<tr>");
            for (int i = 0; i < cells.size(); i++) {
                String cell = escape(cells.get(i));
                page.append("<td data-label=\"").append(COLUMNS.get(i)).append("\">")
                        .append(i == 6 && assertion != null ? "<pre>" + cell + "</pre>" : cell)
                        .append(i == 5 && r.get("cause") != null ? "<div class=\"why\">" + escape(r.get("cause")) + "</div>" : "")
                        .append("</td>");
            }
            page.append("</tr>");
        }
        return page.append("</tbody></table></body></html>").toString();
    }

    @SuppressWarnings("unchecked") // a part is the map decode() made
    private static String json(Object part) {
        return part == null ? "(not decodable)" : JSONObjectUtils.toJSONString((Map<String, ?>) part);
    }

    /** What a client sent, made safe to show in a page: as the log shows it, then HTML-escaped. */
    private static String escape(Object value) {
        return MockIdentityService.loggable(String.valueOf(value), 4000).replace("&", "&amp;").replace("<", "&lt;")
                .replace(">", "&gt;").replace("\"", "&quot;").replace("'", "&#39;");
    }
}
