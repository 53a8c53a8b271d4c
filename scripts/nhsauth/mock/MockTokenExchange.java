package nhsauth.mock;

import nhsauth.client.NhsKeys;
import nhsauth.mock.MockIdentityService.Reply;
import nhsauth.mock.MockTokenEndpoint.*;

import java.security.*;
import java.security.interfaces.RSAPublicKey;
import java.util.*;

import com.nimbusds.jose.*;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.*;
import com.sun.net.httpserver.HttpExchange;

/**
 * The token exchange of an ID token (the subject token) from NHS CIS2 or NHS login: its form's and subject token's checks,
 * the trusted ID-token issuers, and GET /mock/id-token, the mock's own test issuer, shaped like either provider.
 */
record MockTokenExchange(List<MockJwks.Jwks> trusted) {
    static final String GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
    static final String ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
    static final String ID_TOKEN_PATH = "/mock/id-token";
    static final String CIS2_ISSUER = "https://am.nhsint.auth-ptl.cis2.spineservices.nhs.uk:443/openam/oauth2/realms/root"
            + "/realms/NHSIdentity/realms/Healthcare";
    static final String NHS_LOGIN_ISSUER = "https://auth.sandpit.signin.nhs.uk";
    static final String TEST_ISSUER_KID = "mock-id-token-1";
    /** The test issuer's ID tokens live as long as a sign-in would leave time to exchange one. */
    static final long ID_TOKEN_LIFETIME_SECONDS = 600;

    /** The test issuer's key: one per JVM, made when first needed, never written anywhere. */
    private static final class TestIssuer {
        static final KeyPair KEY = NhsKeys.generateKeyPair(2048);
    }

    /** An exchange form's subject token after the form's checks; null for client credentials (no subject token). */
    static ClientAssertion subjectToken(Map<String, String> form) throws Refused {
        String grantType = form.get("grant_type");
        if (!GRANT_TYPE.equals(grantType)) {
            if ("client_credentials".equals(grantType)
                    || !form.containsKey("subject_token") && !form.containsKey("subject_token_type")) {
                return null;
            }
            throw new Refused(Refusal.EXCHANGE_GRANT_TYPE_INVALID);
        }
        if (!ID_TOKEN_TYPE.equals(form.get("subject_token_type"))) {
            throw new Refused(Refusal.SUBJECT_TOKEN_TYPE_INVALID);
        }
        if (!MockTokenEndpoint.ASSERTION_TYPE.equals(form.get("client_assertion_type"))) {
            throw new Refused(Refusal.EXCHANGE_ASSERTION_TYPE_INVALID);
        }
        // The service's own strings, quirks included: a subject token's faults are named as the client assertion's.
        for (String field : List.of("subject_token", "client_assertion")) {
            if (form.get(field) == null || form.get(field).isEmpty()) {
                throw new Refused(Refusal.ASSERTION_MISSING, field + " missing");
            }
        }
        return ClientAssertion.decode(form.get("subject_token"));
    }

    /** The subject token's checks in the reference's order, then its signature by a trusted issuer. */
    void judge(ClientAssertion subject, long now) throws Refused, GeneralSecurityException {
        Map<String, Object> header = subject.header(), claims = subject.claims();
        Object kid = header.get("kid"), exp = claims.get("exp"), iss = claims.get("iss");
        Refusal failed = kid == null || "".equals(kid) ? Refusal.SUBJECT_KID_MISSING
                : !(header.get("typ") instanceof String typ && typ.equalsIgnoreCase("JWT")) ? Refusal.SUBJECT_TYP_INVALID
                : header.get("alg") == null ? Refusal.SUBJECT_ALG_MISSING
                : exp == null ? Refusal.SUBJECT_EXP_MISSING
                : !(exp instanceof Number n) ? Refusal.SUBJECT_EXP_NOT_NUMBER
                : n.doubleValue() * 1000 < now ? Refusal.SUBJECT_EXP_PASSED
                : iss == null || "".equals(iss) ? Refusal.SUBJECT_ISS_MISSING
                : claims.get("aud") == null ? Refusal.SUBJECT_AUD_MISSING : null;
        if (failed != null) {
            throw new Refused(failed);
        }
        // The issuer picks the identity provider whose keys verify it; the mock trusts the same keys for both.
        if (!iss.toString().contains("NHSIdentity") && !iss.toString().contains("signin.nhs.uk")) {
            throw new Refused(Refusal.SIGNATURE_INVALID, "subject_token: its iss is neither NHS CIS2's nor NHS login's");
        }
        RSAPublicKey key = "RS512".equals(header.get("alg")) ? trustedKey(subject.kid()) : null;
        if (key == null) {
            throw new Refused(Refusal.SIGNATURE_INVALID, "subject_token: not RS512, or no trusted issuer has its kid");
        }
        subject.verifySignature(key, now);
    }

    private RSAPublicKey trustedKey(String kid) {
        if (kid == null) { // a kid that is not a string names no key
            return null;
        }
        if (TEST_ISSUER_KID.equals(kid)) {
            return (RSAPublicKey) TestIssuer.KEY.getPublic();
        }
        for (MockJwks.Jwks jwks : trusted) {
            try {
                RSAPublicKey key = jwks.keysByKid().get(kid);
                if (key != null) {
                    return key;
                }
            } catch (MockJwks.JwksUnavailable unavailable) {
                // an issuer whose keys cannot be had verifies nothing
            }
        }
        return null;
    }

    /** What an exchange's answer has instead of issued_at: every value a string, as the service sends them. */
    static Map<String, Object> exchangeFields() {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("issued_token_type", "urn:ietf:params:oauth:token-type:access_token");
        // Never honoured: refreshing needs the app's client secret, outside the signed-JWT pattern.
        fields.put("refresh_token", MockAccessTokens.random(24));
        fields.put("refresh_token_expires_in", "3599");
        fields.put("refresh_count", "0");
        return fields;
    }

    /** GET /mock/id-token?subject=ID&provider=cis2|nhs-login: {"id_token": "<JWT>"} from the test issuer. */
    static Reply idToken(HttpExchange exchange) throws JOSEException {
        if (!"GET".equals(exchange.getRequestMethod())) {
            return Reply.methodNotAllowed("GET");
        }
        Map<String, String> query = MockTokenEndpoint.Form.parse(Objects.toString(exchange.getRequestURI().getRawQuery(), ""));
        String subject = query.get("subject");
        String provider = String.valueOf(query.get("provider"));
        if (subject == null || subject.isBlank() || !List.of("cis2", "nhs-login").contains(provider)) {
            return Reply.error(400, "invalid_request", "give subject=ID and provider=cis2 or provider=nhs-login", null);
        }
        long now = System.currentTimeMillis() / 1000;
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder().subject(subject)
                .issueTime(new Date(now * 1000)).expirationTime(new Date((now + ID_TOKEN_LIFETIME_SECONDS) * 1000));
        if (provider.equals("cis2")) {
            claims.issuer(CIS2_ISSUER).audience("mock-cis2-client").claim("acr", "AAL3_ANY")
                    .claim("amr", List.of("N3_SMARTCARD")).claim("tokenName", "id_token");
        } else {
            claims.issuer(NHS_LOGIN_ISSUER).audience("mock-nhs-login-client").claim("identity_proofing_level", "P9")
                    .claim("vot", "P9.Cp.Cd").claim("token_use", "id");
        }
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS512).type(JOSEObjectType.JWT)
                .keyID(TEST_ISSUER_KID).build(), claims.build());
        jwt.sign(new RSASSASigner(TestIssuer.KEY.getPrivate()));
        return Reply.json(200, Map.of("id_token", jwt.serialize()), "an ID token for " + provider);
    }
}
