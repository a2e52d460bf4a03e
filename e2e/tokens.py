"""Keys, JWKS and tokens made with PyJWT + cryptography, independently of Warden's Rust code, so the
end-to-end suite also proves interoperability with another JOSE implementation."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

ISSUER = "https://issuer.e2e.test"
AUDIENCE = "api.e2e.test"

ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
              "ES256", "ES384", "ES512", "EdDSA"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


class KeySet:
    """One key per family; `kid_for(alg)` names the key that signs `alg`."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec256 = ec.generate_private_key(ec.SECP256R1())
        self.ec384 = ec.generate_private_key(ec.SECP384R1())
        self.ec521 = ec.generate_private_key(ec.SECP521R1())
        self.ed25519 = ed25519.Ed25519PrivateKey.generate()
        self.hmac = os.urandom(64)

    @staticmethod
    def kid_for(alg: str) -> str:
        if alg.startswith("HS"):
            return "hmac-1"
        if alg.startswith(("RS", "PS")):
            return "rsa-1"
        return {"ES256": "ec256-1", "ES384": "ec384-1", "ES512": "ec521-1", "EdDSA": "ed25519-1"}[alg]

    def signing_key(self, alg: str):
        if alg.startswith("HS"):
            return self.hmac
        if alg.startswith(("RS", "PS")):
            return self.rsa
        return {"ES256": self.ec256, "ES384": self.ec384, "ES512": self.ec521, "EdDSA": self.ed25519}[alg]

    def jwks(self) -> dict:
        rsa_pub = self.rsa.public_key().public_numbers()
        keys = [
            {"kty": "oct", "kid": "hmac-1", "k": b64url(self.hmac)},
            {"kty": "RSA", "kid": "rsa-1", "n": _uint(rsa_pub.n), "e": _uint(rsa_pub.e)},
        ]
        for kid, key, crv, size in (("ec256-1", self.ec256, "P-256", 32), ("ec384-1", self.ec384, "P-384", 48),
                                    ("ec521-1", self.ec521, "P-521", 66)):
            pub = key.public_key().public_numbers()
            keys.append({"kty": "EC", "kid": kid, "crv": crv, "x": _uint(pub.x, size), "y": _uint(pub.y, size)})
        raw = self.ed25519.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append({"kty": "OKP", "kid": "ed25519-1", "crv": "Ed25519", "x": b64url(raw)})
        return {"keys": keys}

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, alg: str = "ES256", headers: dict | None = None, **claims) -> str:
        """A token signed with `alg`; `claims` override the defaults (a value of None drops the claim)."""
        all_headers = {"kid": self.kid_for(alg)}
        all_headers.update(headers or {})
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        return jwt.encode(default_claims(**claims), self.signing_key(alg), algorithm=alg, headers=all_headers)


def default_claims(**overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": f"user-{uuid.uuid4().hex[:12]}",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def unsigned_token(header: dict, claims: dict, signature: bytes = b"") -> str:
    """Hand-made token for hostile cases (alg none, crit, bad segments)."""
    def part(obj: dict) -> str:
        return b64url(json.dumps(obj, separators=(",", ":")).encode())
    return f"{part(header)}.{part(claims)}.{b64url(signature)}"


def tamper_payload(token: str, **changes) -> str:
    """Same header and signature, different payload: the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    new_payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{new_payload}.{signature}"
