"""The same requests through Envoy's jwt_authn and through Warden configured by
`scripts/from-jwt-authn` from that very jwt_authn configuration, in one real Envoy (two
listeners): every allow/deny decision must agree, except the documented, deliberate differences
(README "Migrating from jwt_authn / RequestAuthentication"), which must differ the documented way.
Tokens are minted by PyJWT; keys come as a JWKS, a PEM public key (Warden side; jwt_authn holds the
same key as a JWK) and a Google-style certificate map.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import harness
from tokens import ALGORITHMS, AUDIENCE, ISSUER, KeySet, _uint, default_claims, tamper_payload, unsigned_token

import jwt

CONVERTER = harness.ROOT / "scripts" / "from-jwt-authn"
PEM_ISSUER = "https://pem.parity.test"
X509_ISSUER = "https://x509.parity.test"


def self_signed(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parity")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(datetime.datetime(2001, 1, 1))
            .not_valid_after(datetime.datetime(2002, 1, 1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_of(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def jwk_of(key) -> str:
    numbers = key.public_key().public_numbers()
    return json.dumps({"keys": [{"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}]})


def jwt_authn_config(keys: KeySet, pem_key, cert_key) -> dict:
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {
            # No require_expiration: jwt_authn's default (false) is one of the documented differences.
            "main": {"issuer": ISSUER, "audiences": [AUDIENCE],
                     "local_jwks": {"inline_string": json.dumps(keys.jwks())}},
            # Envoy 1.40's jwt_authn refuses PEM in local_jwks ("Jwks is an invalid JSON"): its side
            # holds the same RSA key as a JWK, Warden's the PEM (swapped in after conversion).
            "pem": {"issuer": PEM_ISSUER, "local_jwks": {"inline_string": jwk_of(pem_key)},
                    "from_headers": [{"name": "x-pem-token"}], "require_expiration": True},
            "x509": {"issuer": X509_ISSUER,
                     "local_jwks": {"inline_string": json.dumps({"cert-1": self_signed(cert_key)})},
                     "from_headers": [{"name": "x-cert-token", "value_prefix": "Bearer "}],
                     "require_expiration": True},
            # No issuer, no audience: claim types are checked all the same.
            "open": {"local_jwks": {"inline_string": json.dumps(keys.jwks())},
                     "from_headers": [{"name": "x-open-token"}], "require_expiration": True},
        },
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"path": "/health"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/pem"}, "requires": {"provider_name": "pem"}},
            {"match": {"prefix": "/x509"}, "requires": {"provider_name": "x509"}},
            {"match": {"prefix": "/open"}, "requires": {"provider_name": "open"}},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "main"}, {"provider_name": "pem"}]}}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
    }


def bootstrap(jwt_authn: dict, warden: dict, ports: dict) -> str:
    def listener(name: str, port: int, http_filter: dict) -> dict:
        return {
            "name": name,
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                             ".HttpConnectionManager",
                    "stat_prefix": name,
                    "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                        {"match": {"prefix": "/"},
                         "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
                    "http_filters": [http_filter, {
                        "name": "envoy.filters.http.router",
                        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                    }],
                },
            }]}],
        }

    wasm = {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "root_id": "warden",
                "vm_config": {"runtime": "envoy.wasm.runtime.v8",
                              "code": {"local": {"filename": str(harness.WASM_FILE)}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": json.dumps(warden)},
            },
        },
    }
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ports["admin"]}}},
        "static_resources": {"listeners": [
            listener("jwt_authn", ports["jwt_authn"], {"name": "envoy.filters.http.jwt_authn",
                                                        "typed_config": jwt_authn}),
            listener("warden", ports["warden"], wasm),
        ]},
    }
    return json.dumps(config)


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    work = tmp_path_factory.mktemp("parity")
    keys = KeySet()
    pem_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # jwt_authn reads RSA keys only out of a certificate map (Google's are RSA).
    cert_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    source = jwt_authn_config(keys, pem_key, cert_key)
    (work / "jwt_authn.json").write_text(json.dumps(source))
    converted = subprocess.run([sys.executable, str(CONVERTER), str(work / "jwt_authn.json")],
                               capture_output=True, text=True, timeout=60)
    assert converted.returncode == 0, converted.stderr
    warden = json.loads(converted.stdout)
    assert warden["providers"]["pem"]["local_jwks"]["inline_string"] == jwk_of(pem_key)
    warden["providers"]["pem"]["local_jwks"]["inline_string"] = pem_of(pem_key)
    ports = {"admin": harness.free_port(), "jwt_authn": harness.free_port(), "warden": harness.free_port()}
    config_path = work / "envoy.json"
    config_path.write_text(bootstrap(source, warden, ports))
    proc = harness.Process("envoy:parity", [str(harness.ENVOY_BIN), "-c", str(config_path), "--concurrency", "1",
                                            "--disable-hot-restart", "--log-level", "warning"],
                           work / "envoy.log").start()
    try:
        harness.wait_until(lambda: harness.http_request(ports["admin"], "GET", "/ready", timeout=2).status == 200,
                           "parity envoy ready", proc=proc)
        yield {"keys": keys, "pem_key": pem_key, "cert_key": cert_key, "ports": ports,
               "notes": converted.stderr, "warden": warden}
    finally:
        proc.stop()


def cases(keys: KeySet, pem_key, cert_key):
    """(name, path, headers) of every request sent to both filters."""
    now = int(time.time())
    bearer = lambda t: [("authorization", f"Bearer {t}")]  # noqa: E731
    for alg in ALGORITHMS:
        yield f"valid-{alg}", "/", bearer(keys.token(alg))
    good = keys.token("ES256")
    yield "no-token", "/", []
    yield "expired", "/", bearer(keys.token("ES256", exp=now - 600))
    yield "not-yet-valid", "/", bearer(keys.token("ES256", nbf=now + 3600))
    yield "wrong-issuer", "/", bearer(keys.token("ES256", iss="https://evil.test"))
    yield "wrong-audience", "/", bearer(keys.token("ES256", aud="other.test"))
    yield "audience-list", "/", bearer(keys.token("RS256", aud=["x", AUDIENCE]))
    yield "tampered", "/", bearer(tamper_payload(good, sub="mallory"))
    yield "alg-none", "/", bearer(unsigned_token({"alg": "none", "typ": "JWT"}, default_claims()))
    yield "unknown-kid", "/", bearer(keys.token("ES256", headers={"kid": "nope"}))
    other = KeySet()
    yield "other-key", "/", bearer(jwt.encode(default_claims(), other.ec256, algorithm="ES256",
                                              headers={"kid": "ec256-1"}))
    yield "garbage", "/", bearer("not.a.jwt")
    yield "param", "/?access_token=" + keys.token("EdDSA"), []
    yield "fractional-exp", "/", bearer(keys.token("ES256", exp=now + 600.75))
    yield "fractional-iat-nbf", "/", bearer(keys.token("ES256", iat=now - 0.5, nbf=now - 10.25))
    yield "public-no-token", "/public/x", []
    yield "public-bad-token", "/public/x", bearer("not.a.jwt")
    yield "health-bad-token", "/health", bearer(tamper_payload(good, sub="x"))
    yield "health-no-token", "/health", []
    def open_token(**overrides):
        # Signed as raw JWS: PyJWT's encoder refuses some of these claim types itself.
        payload = json.dumps(default_claims(**overrides)).encode()
        token = jwt.api_jws.encode(payload, keys.ec256, algorithm="ES256", headers={"kid": "ec256-1"})
        return [("x-open-token", token)]

    yield "open-valid", "/open", open_token()
    yield "open-iss-bool", "/open", open_token(iss=True)
    yield "open-aud-number", "/open", open_token(aud=5)
    yield "open-aud-numbers", "/open", open_token(aud=[1, 2])
    yield "open-sub-number", "/open", open_token(sub=7)
    yield "open-exp-string", "/open", open_token(exp=str(now + 600))
    pem_claims = default_claims(iss=PEM_ISSUER)
    yield "pem-valid", "/pem", [("x-pem-token", jwt.encode(pem_claims, pem_key, algorithm="RS256"))]
    yield "pem-ps256", "/pem", [("x-pem-token", jwt.encode(pem_claims, pem_key, algorithm="PS256"))]
    yield "pem-wrong-key", "/pem", [("x-pem-token", jwt.encode(pem_claims, keys.rsa, algorithm="RS256"))]
    cert_claims = default_claims(iss=X509_ISSUER)
    yield "x509-valid", "/x509", [("x-cert-token", "Bearer " + jwt.encode(cert_claims, cert_key, algorithm="RS256",
                                                                          headers={"kid": "cert-1"}))]
    yield "x509-wrong-key", "/x509", [("x-cert-token", "Bearer " + jwt.encode(
        cert_claims, keys.rsa, algorithm="RS256", headers={"kid": "cert-1"}))]
    yield "any-second-provider", "/any", [("x-pem-token", jwt.encode(pem_claims, pem_key, algorithm="RS256"))]
    yield "any-first-provider", "/any", bearer(keys.token("HS256"))
    # The deliberate differences.
    yield "missing-exp", "/", bearer(keys.token("ES256", exp=None))
    yield "crit", "/", bearer(keys.token("ES256", headers={"crit": ["urn:x"], "urn:x": 1}))
    yield "oversize", "/", bearer(keys.token("ES256", pad="x" * 9000))
    yield "lowercase-bearer", "/", [("authorization", "bearer " + keys.token("ES256"))]


# name → (jwt_authn allows, Warden allows): what the README documents.
DIFFERENCES = {
    "missing-exp": (True, False),       # RFC 8725 §3.10; require_expiration: false restores it
    "crit": (True, False),              # RFC 7515 §4.1.11: an unknown crit MUST be refused
    "oversize": (True, False),          # max_token_bytes (8 KiB default) bounds the work per request
    "lowercase-bearer": (False, True),  # RFC 7235 §2.1: the scheme is case-insensitive
}


def decision(port: int, path: str, headers) -> tuple[bool, int]:
    answer = harness.http_request(port, "GET", path, headers)
    return answer.status == 200, answer.status


def test_every_decision_agrees_except_the_documented_differences(parity):
    ports = parity["ports"]
    seen, disagreements = 0, []
    statuses = {}
    for name, path, headers in cases(parity["keys"], parity["pem_key"], parity["cert_key"]):
        theirs, their_status = decision(ports["jwt_authn"], path, headers)
        ours, our_status = decision(ports["warden"], path, headers)
        statuses[name] = (their_status, our_status)
        seen += 1
        expected = DIFFERENCES.get(name, (theirs, theirs))
        if (theirs, ours) != expected:
            disagreements.append(f"{name}: jwt_authn {their_status}, warden {our_status}")
    assert not disagreements, "\n".join(disagreements)
    assert seen >= 45
    # Sanity: both filters really decide (some allowed, some denied).
    assert statuses["valid-ES512"] == (200, 200)
    assert statuses["no-token"] == (401, 401)
    # 401 vs 403: jwt_authn answers an audience mismatch with 403, Warden with 401 (RFC 6750 §3.1:
    # an invalid token is invalid_token, 401).
    assert statuses["wrong-audience"] == (403, 401)


def test_converter_lists_what_it_changed(parity):
    notes = parity["notes"]
    assert "different: providers.main.require_expiration" in notes
    assert "different: rules[1].requires.allow_missing_or_failed" in notes
    warden = parity["warden"]
    assert warden["providers"]["main"]["from_params"] == ["access_token"]
    assert "require_expiration" not in warden["providers"]["main"]
    assert warden["rules"][0] == {"match": {"prefix": "/public"}}
    assert warden["rules"][1] == {"match": {"path": "/health"}}
    assert warden["rules"][5]["requires"] == {"requires_any": ["main", "pem"]}
