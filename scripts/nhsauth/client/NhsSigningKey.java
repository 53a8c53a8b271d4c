//DEPS com.nimbusds:nimbus-jose-jwt:10.10

package nhsauth.client;

import java.security.interfaces.*;
import java.time.Instant;
import java.util.*;

import com.nimbusds.jose.*;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.*;

/** The private key and what signs client assertions with it. */
final class NhsSigningKey {
    private final RSAPublicKey publicKey;
    private final JWSSigner signer;

    NhsSigningKey(RSAPrivateCrtKey privateKey) {
        this.publicKey = NhsKeys.publicKeyOf(privateKey);
        if (bits() < 2048) {
            throw new UsageException("the private key has only " + bits()
                    + " bits: RS512 needs at least 2048 and NHS guidance asks for 4096; make one with generate-keys");
        }
        this.signer = new RSASSASigner(privateKey);
    }

    int bits() {
        return publicKey.getModulus().bitLength();
    }

    RSAPublicKey publicKey() {
        return publicKey;
    }

    String thumbprint() {
        return NhsKeys.thumbprint(publicKey);
    }

    /** Section 2 of the NHS reference: RS512, typ JWT, kid; iss = sub = API key, aud, jti, exp. */
    String clientAssertion(String apiKey, String kid, String audience, int lifetimeSeconds) {
        JWSHeader header = new JWSHeader.Builder(JWSAlgorithm.RS512).type(JOSEObjectType.JWT).keyID(kid).build();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(apiKey).subject(apiKey).audience(audience)
                .jwtID(UUID.randomUUID().toString())
                .expirationTime(new Date((Instant.now().getEpochSecond() + lifetimeSeconds) * 1000)).build();
        SignedJWT jwt = new SignedJWT(header, claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new NhsAuthException(NhsClient.ExitCode.INTERNAL, "cannot sign the client assertion: " + e.getMessage(), null, e);
        }
        return jwt.serialize();
    }
}

