#!/usr/bin/env python3
"""Mints PEM / X.509 key fixtures and tokens with `cryptography` + PyJWT (independent of Warden).

Run: .venv/bin/python core/tests/data/pem/make_pem.py > core/tests/data/pem/pem.json
The Rust test `core/tests/pem_keys.rs` parses every document with warden-core and verifies the tokens.
Certificates are self-signed and already expired (2001-2002): Warden uses a certificate for its
public key only, as jwt_authn does, so the dates must not matter.
"""
import base64
import datetime
import json

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

NOW = 1_700_000_000
CLAIMS = {"iss": "https://issuer.example", "aud": "api.example", "sub": "alice", "jti": "pem-1",
          "iat": NOW - 10, "exp": NOW + 600}

keys = {
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ec256": ec.generate_private_key(ec.SECP256R1()),
    "ec384": ec.generate_private_key(ec.SECP384R1()),
    "ec521": ec.generate_private_key(ec.SECP521R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
}
alg_of = {"rsa": "RS256", "ec256": "ES256", "ec384": "ES384", "ec521": "ES512", "ed25519": "EdDSA"}


def spki(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def certificate(name, key):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"warden-test-{name}")])
    algorithm = None if name == "ed25519" else hashes.SHA256()
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2001, 1, 1))
            .not_valid_after(datetime.datetime(2002, 1, 1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, algorithm))


def token(name, kid=None, alg=None):
    headers = {"kid": kid} if kid else {}
    return jwt.encode(CLAIMS, keys[name], algorithm=alg or alg_of[name], headers=headers)


certs = {name: certificate(name, key) for name, key in keys.items()}
cert_pem = {name: c.public_bytes(serialization.Encoding.PEM).decode() for name, c in certs.items()}
cert_b64 = {name: base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for name, c in certs.items()}
cases = []
for name in keys:
    cases.append({"name": f"spki-{name}", "document": spki(keys[name]),
                  "valid": [token(name)], "wrong_key": [token(other) for other in keys if other != name][:1]})
    cases.append({"name": f"certificate-{name}", "document": cert_pem[name], "valid": [token(name)],
                  "wrong_key": []})
cases[0]["valid"].append(token("rsa", alg="PS256"))
cases.append({"name": "pkcs1-rsa", "document": keys["rsa"].public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode(),
    "valid": [token("rsa"), token("rsa", alg="RS512")], "wrong_key": []})
cases.append({"name": "two-pem-blocks", "document": spki(keys["ec256"]) + spki(keys["ed25519"]),
              "valid": [token("ec256"), token("ed25519")], "wrong_key": [token("rsa")]})
# Google / Firebase: {"kid": "-----BEGIN CERTIFICATE-----..."}; the kid is the map key.
google = {"k-rsa": cert_pem["rsa"], "k-ec": cert_pem["ec256"]}
cases.append({"name": "certificate-map", "document": json.dumps(google),
              "valid": [token("rsa", kid="k-rsa"), token("ec256", kid="k-ec")],
              # A known kid whose key did not sign, and a kid the map does not have.
              "wrong_key": [token("ec256", kid="k-rsa"), token("rsa", kid="nope")]})
rsa_numbers = keys["rsa"].public_key().public_numbers()


def uint(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


x5c = {"keys": [
    {"kty": "RSA", "kid": "x-rsa", "use": "sig", "x5c": [cert_b64["rsa"], cert_b64["ec256"]]},
    {"kty": "EC", "kid": "x-ec", "x5c": [cert_b64["ec521"]]},
    {"kty": "RSA", "kid": "x-both", "n": uint(rsa_numbers.n), "e": uint(rsa_numbers.e),
     "x5c": [cert_b64["rsa"]]},
]}
cases.append({"name": "jwk-x5c", "document": json.dumps(x5c),
              "valid": [token("rsa", kid="x-rsa"), token("ec521", kid="x-ec"), token("rsa", kid="x-both")],
              "wrong_key": [token("ec384", kid="x-ec")]})
mismatch = {"keys": [{"kty": "RSA", "kid": "bad", "n": uint(rsa_numbers.n), "e": uint(rsa_numbers.e),
                      "x5c": [cert_b64["ec256"]]}]}
refused = [
    {"name": "x5c-differs-from-members", "document": json.dumps(mismatch)},
    {"name": "private-key-pem", "document": keys["ec256"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()},
    {"name": "x25519-spki", "document": spki(__import__(
        "cryptography.hazmat.primitives.asymmetric.x25519", fromlist=["x"]).X25519PrivateKey.generate())},
    {"name": "secp256k1-spki", "document": spki(ec.generate_private_key(ec.SECP256K1()))},
    {"name": "rsa-1024-spki", "document": spki(rsa.generate_private_key(public_exponent=65537, key_size=1024))},
]
print(json.dumps({"now": NOW, "generator": f"PyJWT {jwt.__version__}, cryptography", "cases": cases,
                  "refused": refused}, indent=1))
