#!/usr/bin/env python3
"""Mints interop fixtures with PyJWT + cryptography (an implementation independent of ours).

Run: .venv/bin/python core/tests/data/interop/make_tokens.py > core/tests/data/interop/pyjwt.json
The Rust test `interop.rs` verifies every token with warden-core.
"""
import json
import jwt
from jwt.algorithms import get_default_algorithms
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

NOW = 1_700_000_000
CLAIMS = {"iss": "https://issuer.example", "aud": ["other", "api.example"], "sub": "alice",
          "jti": "interop-1", "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600}

hmac_secret = b"interop-secret-interop-secret-interop-secret-interop-secret-1234"
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
keys = {
    "HS256": hmac_secret, "HS384": hmac_secret, "HS512": hmac_secret,
    "RS256": rsa_key, "RS384": rsa_key, "RS512": rsa_key,
    "PS256": rsa_key, "PS384": rsa_key, "PS512": rsa_key,
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "ES384": ec.generate_private_key(ec.SECP384R1()),
    "ES512": ec.generate_private_key(ec.SECP521R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
}
algs = get_default_algorithms()
out = []
for name, key in keys.items():
    impl = algs[name]
    if isinstance(key, bytes):
        jwk = json.loads(impl.to_jwk(key))
    else:
        jwk = json.loads(impl.to_jwk(key.public_key()))
    jwk["kid"] = f"py-{name}"
    token = jwt.encode(CLAIMS, key, algorithm=name, headers={"kid": f"py-{name}"})
    out.append({"alg": name, "jwk": jwk, "token": token})
print(json.dumps({"now": NOW, "generator": f"PyJWT {jwt.__version__}", "cases": out}, indent=1))
