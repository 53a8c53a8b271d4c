#!/usr/bin/env python3
"""The Python tool's work, for the benchmark's side-by-side runs (tests/Benchmark.java).

  python_reference.py get-token API_KEY PRIVATE_KEY_PEM KID TOKEN_URL
  python_reference.py generate-keys KID OUTPUT_DIR

Same steps as scripts/mock-authentication.py: PyJWT RS512 client assertion (exp = now + 240 s,
fresh jti), requests POST of the form, print the token; cryptography 4096-bit key, PKCS#1 PEM,
SubjectPublicKeyInfo PEM and a JWKS file.
"""
import base64
import json
import sys
import time
import uuid


def get_token(api_key, pem_path, kid, token_url):
    import jwt
    import requests

    with open(pem_path, "rb") as f:
        private_key = f.read()
    claims = {
        "sub": api_key,
        "iss": api_key,
        "jti": str(uuid.uuid4()),
        "aud": token_url,
        "exp": int(time.time()) + 240,
    }
    assertion = jwt.encode(claims, private_key, algorithm="RS512", headers={"kid": kid, "typ": "JWT"})
    response = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    response.raise_for_status()
    print(response.json()["access_token"])


def generate_keys(kid, output_dir):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    n = key.public_key().public_numbers().n
    n_b64 = base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    jwks = {"keys": [{"kty": "RSA", "n": n_b64, "e": "AQAB", "alg": "RS512", "kid": kid, "use": "sig"}]}
    with open(f"{output_dir}/{kid}.pem", "wb") as f:
        f.write(private_pem)
    with open(f"{output_dir}/{kid}.pem.pub", "wb") as f:
        f.write(public_pem)
    with open(f"{output_dir}/{kid}.json", "w") as f:
        json.dump(jwks, f, indent=2)


if __name__ == "__main__":
    if sys.argv[1] == "get-token":
        get_token(*sys.argv[2:6])
    elif sys.argv[1] == "generate-keys":
        generate_keys(*sys.argv[2:4])
    else:
        sys.exit("usage: python_reference.py get-token|generate-keys ...")
