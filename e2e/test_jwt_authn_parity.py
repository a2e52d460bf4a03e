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
from pathlib import Path

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
            listener("warden", ports["warden"], harness.to_build(wasm)),
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
    warden = parity["warden"]
    assert warden["providers"]["main"]["from_params"] == ["access_token"]
    assert "require_expiration" not in warden["providers"]["main"]
    assert warden["rules"][0] == {"match": {"prefix": "/public"}}
    assert warden["rules"][1] == {"match": {"path": "/health"}, "requires": {"allow_missing_or_failed": {}}}
    assert warden["rules"][5]["requires"] == {"requires_any": ["main", "pem"]}


# ---- every issue-23 row: requirement algebra, per-route configs, provider and top-level fields ----
#
# Three listener pairs in one more Envoy, each pair one jwt_authn configuration and Warden with its
# conversion: `algebra` (requirements, requirement_map, per-route configs, claims in headers and in
# metadata / filter state, subjects, max_lifetime, bypass_cors_preflight), `edge` (strip_failure_
# response, stat_prefix, filter_state_rules, clear_route_cache, a remote key set fetched at start
# with a retry policy and a token cache) and `istio` (the jwt_authn configuration Istio generates
# for a RequestAuthentication, against the converter's reading of that RequestAuthentication).
# Every request goes to both listeners of its pair through an echo upstream; the status, the
# headers the upstream received (claims, payload, tokens left or stripped) and the access-log
# fields (dynamic metadata on one side, filter state on the other) are compared.

OTHER_ISSUER = "https://other.parity.test"
JWT_AUTHN = "envoy.filters.http.jwt_authn"
PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig"
# Headers that differ per listener or per request whatever the filters decide.
NOISE = {"x-request-id", "x-forwarded-proto", "x-envoy-expected-rq-timeout-ms", "host", "content-length",
         "user-agent", "accept-encoding", "connection", "x-case"}
META_FIELDS = ("jwt_payload", "jwt_header", "jwt_failure")


def algebra_config(jwks: str) -> dict:
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {
            "main": {"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": {"inline_string": jwks},
                     "require_expiration": True,
                     "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}],
                     "forward_payload_header": "x-payload",
                     "payload_in_metadata": "jwt_payload", "header_in_metadata": "jwt_header",
                     "failed_status_in_metadata": "jwt_failure",
                     "normalize_payload_in_metadata": {"space_delimited_claims": ["scope"]}},
            "other": {"issuer": OTHER_ISSUER, "local_jwks": {"inline_string": jwks}, "require_expiration": True,
                      "from_headers": [{"name": "x-other"}], "forward": True,
                      "claim_to_headers": [{"header_name": "x-other-sub", "claim_name": "sub"}],
                      "forward_payload_header": "x-other-payload", "pad_forward_payload_header": True,
                      "subjects": {"prefix": "svc-"}, "max_lifetime": "3600s"},
        },
        "rules": [
            {"match": {"prefix": "/all"}, "requires": {"requires_all": {"requirements": [
                {"provider_name": "main"}, {"provider_name": "other"}]}}},
            {"match": {"prefix": "/missing-or-failed"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/missing"}, "requires": {"allow_missing": {}}},
            # jwt_authn's Example 8: main is optional, other is required.
            {"match": {"prefix": "/nested"}, "requires": {"requires_all": {"requirements": [
                {"requires_any": {"requirements": [{"provider_name": "main"}, {"allow_missing": {}}]}},
                {"provider_name": "other"}]}}},
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [
                {"provider_name": "main"}, {"provider_name": "other"}]}}},
            {"match": {"prefix": "/named"}, "requirement_name": "both"},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
        "requirement_map": {
            "both": {"requires_all": {"requirements": [{"provider_name": "main"}, {"provider_name": "other"}]}},
            "other-only": {"provider_name": "other"},
        },
        "bypass_cors_preflight": True,
    }


def algebra_routes() -> list:
    def per_route(value: dict) -> dict:
        return {JWT_AUTHN: dict({"@type": PER_ROUTE}, **value)}
    return [
        {"name": "route-other", "match": {"prefix": "/route/other"}, "route": {"cluster": "echo"},
         "typed_per_filter_config": per_route({"requirement_name": "other-only"})},
        {"name": "route-off", "match": {"prefix": "/route/off"}, "route": {"cluster": "echo"},
         "typed_per_filter_config": per_route({"disabled": True})},
        {"name": "route-unknown", "match": {"prefix": "/route/unknown"}, "route": {"cluster": "echo"},
         "typed_per_filter_config": per_route({"requirement_name": "nope"})},
        {"name": "rest", "match": {"prefix": "/"}, "route": {"cluster": "echo"}},
    ]


def edge_config(jwks: str, jwks_port: int) -> dict:
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {
            "main": {"issuer": ISSUER, "local_jwks": {"inline_string": jwks}, "require_expiration": True,
                     "claim_to_headers": [{"header_name": "x-tier", "claim_name": "tier"}],
                     "clear_route_cache": True, "jwt_cache_config": {"jwt_cache_size": 10}},
            "other": {"issuer": OTHER_ISSUER, "local_jwks": {"inline_string": jwks}, "require_expiration": True,
                      "from_headers": [{"name": "x-other"}]},
            "remote": {"issuer": "https://remote.parity.test", "require_expiration": True,
                       "from_headers": [{"name": "x-remote"}],
                       "remote_jwks": {
                           "http_uri": {"uri": f"http://127.0.0.1:{jwks_port}/.well-known/jwks.json",
                                        "cluster": "jwks", "timeout": "2s"},
                           "cache_duration": "300s",
                           "async_fetch": {"fast_listener": True},
                           "retry_policy": {"num_retries": 3, "retry_back_off": {
                               "base_interval": "0.05s", "max_interval": "0.5s"}}},
                       "jwt_cache_config": {"jwt_cache_size": 20}},
        },
        "rules": [
            {"match": {"prefix": "/tier"}, "requires": {"provider_name": "main"}},
            {"match": {"prefix": "/remote"}, "requires": {"provider_name": "remote"}},
            {"match": {"prefix": "/rule"}, "requires": {"provider_name": "main"}},
        ],
        "filter_state_rules": {"name": "jwt_selector", "requires": {
            "main": {"provider_name": "main"}, "other": {"provider_name": "other"}}},
        "strip_failure_response": True,
        "stat_prefix": "edge",
    }


def edge_routes() -> list:
    return [
        {"name": "gold", "match": {"prefix": "/tier", "headers": [{"name": "x-tier",
                                                                  "string_match": {"exact": "gold"}}]},
         "direct_response": {"status": 299, "body": {"inline_string": "gold"}}},
        # A per-route `disabled` in a configuration without requirement_map.
        {"name": "rule-off", "match": {"prefix": "/rule/off"}, "route": {"cluster": "echo"},
         "typed_per_filter_config": {JWT_AUTHN: {"@type": PER_ROUTE, "disabled": True}}},
        {"name": "rest", "match": {"prefix": "/"}, "route": {"cluster": "echo"}},
    ]


# The filter that names the requirement for filter_state_rules (jwt_authn reads a StringAccessor).
SELECTOR_FILTER = {
    "name": "envoy.filters.http.set_filter_state",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config",
        "on_request_headers": [{"object_key": "jwt_selector", "factory_key": "envoy.string",
                                "format_string": {"text_format_source": {"inline_string": "%REQ(x-selector)%"}}}],
    },
}


def istio_resources(jwks: str) -> str:
    return f"""
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: parity, namespace: default}}
spec:
  jwtRules:
  - issuer: "{ISSUER}"
    audiences: ["{AUDIENCE}"]
    jwks: '{jwks}'
    jwksUri: "https://unused.parity.test/jwks"
    outputPayloadToHeader: x-istio-payload
    forwardOriginalToken: true
    fromParams: ["tok"]
    fromCookies: ["session"]
  - issuer: "{OTHER_ISSUER}"
    jwks: '{jwks}'
    fromHeaders:
    - name: x-other
      prefix: "Token "
    outputClaimToHeaders:
    - header: x-other-sub
      claim: sub
"""


def istio_generated(jwks: str) -> dict:
    """What istiod writes for istio_resources (pilot/pkg/security/authn convertToEnvoyJwtConfig, default
    fetch mode: the inline jwks, payload_in_metadata = the issuer)."""
    providers = {
        "origins-0": {"issuer": ISSUER, "audiences": [AUDIENCE], "local_jwks": {"inline_string": jwks},
                      "forward": True, "forward_payload_header": "x-istio-payload", "payload_in_metadata": ISSUER,
                      "from_params": ["tok"], "from_cookies": ["session"]},
        "origins-1": {"issuer": OTHER_ISSUER, "local_jwks": {"inline_string": jwks},
                      "payload_in_metadata": OTHER_ISSUER,
                      "from_headers": [{"name": "x-other", "value_prefix": "Token "}],
                      "claim_to_headers": [{"header_name": "x-other-sub", "claim_name": "sub"}]},
    }
    optional = [{"requires_any": {"requirements": [{"provider_name": n}, {"allow_missing": {}}]}}
                for n in providers]
    return {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": providers,
        "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
            {"provider_name": "origins-0"}, {"provider_name": "origins-1"},
            {"requires_all": {"requirements": optional}}]}}}],
        "bypass_cors_preflight": True,
    }


def pair_listener(name: str, port: int, http_filters: list, routes: list, log: Path, log_format: str) -> dict:
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                         ".HttpConnectionManager",
                "stat_prefix": name,
                "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": str(log), "log_format": {"text_format_source": {"inline_string": log_format}}}}],
                "route_config": {"name": f"{name}_routes",
                                 "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}]},
                "http_filters": [*http_filters, {"name": "envoy.filters.http.router", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
            },
        }]}],
    }


def metadata_format() -> str:
    fields = "\t".join(f"%DYNAMIC_METADATA({JWT_AUTHN}:{k})%" for k in META_FIELDS)
    return f"%REQ(x-case)%\t{fields}\n"


def filter_state_format() -> str:
    fields = "\t".join(f"%FILTER_STATE({harness.filter_state_key(k)}:PLAIN)%" for k in META_FIELDS)
    return f"%REQ(x-case)%\t{fields}\n"


def convert_listener(work: Path, name: str, listener: dict, clusters: list) -> tuple[dict, dict, str]:
    """Runs the converter with --bootstrap-out over a bootstrap holding the jwt_authn listener; returns
    the rewritten listener (the Warden side), the Warden configuration and the converter's stderr."""
    source = work / f"{name}-jwt_authn.json"
    source.write_text(json.dumps({"static_resources": {"listeners": [listener], "clusters": clusters}}))
    out = work / f"{name}-warden.json"
    done = subprocess.run([sys.executable, str(CONVERTER), str(source), "--bootstrap-out", str(out),
                           "--wasm", str(harness.WASM_FILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())["static_resources"]["listeners"][0], json.loads(done.stdout), done.stderr


def set_port_name_log(listener: dict, name: str, port: int, log: Path, log_format: str) -> dict:
    listener = json.loads(json.dumps(listener))
    listener["name"] = name
    listener["address"]["socket_address"]["port_value"] = port
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["stat_prefix"] = name
    hcm["access_log"][0]["typed_config"]["path"] = str(log)
    hcm["access_log"][0]["typed_config"]["log_format"]["text_format_source"]["inline_string"] = log_format
    return listener


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    work = tmp_path_factory.mktemp("rows")
    keys = KeySet()
    jwks = json.dumps(keys.jwks())
    (work / "jwks.json").write_text(jwks)
    echo = harness.EchoUpstream(work, jwks_file=work / "jwks.json").start()
    clusters = [harness.static_cluster("echo", echo.port), harness.static_cluster("jwks", echo.port)]
    ports = {"admin": harness.free_port()}
    listeners, notes, wardens = [], {}, {}
    logs = {}
    for pair, config, routes, extra in (
            ("algebra", algebra_config(jwks), algebra_routes(), []),
            ("edge", edge_config(jwks, echo.port), edge_routes(), [SELECTOR_FILTER]),
            ("istio", istio_generated(jwks), [{"match": {"prefix": "/"}, "route": {"cluster": "echo"}}], [])):
        for side in ("jwt_authn", "warden"):
            ports[f"{pair}-{side}"] = harness.free_port()
            logs[f"{pair}-{side}"] = work / f"{pair}-{side}.log"
        theirs = pair_listener(f"{pair}_jwt_authn", ports[f"{pair}-jwt_authn"],
                               [*extra, {"name": JWT_AUTHN, "typed_config": config}], routes,
                               logs[f"{pair}-jwt_authn"], metadata_format())
        if pair == "istio":
            source = work / "istio.yaml"
            source.write_text(istio_resources(jwks))
            done = subprocess.run([sys.executable, str(CONVERTER), str(source)], capture_output=True, text=True,
                                  timeout=60)
            assert done.returncode == 0, done.stderr
            warden, notes[pair] = json.loads(done.stdout), done.stderr
            ours = pair_listener(f"{pair}_warden", ports[f"{pair}-warden"], [harness.to_build({
                "name": "envoy.filters.http.wasm", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                    "config": {"root_id": "warden", "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {
                        "local": {"filename": str(harness.WASM_FILE)}}},
                        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                          "value": json.dumps(warden)}}}})],
                routes, logs[f"{pair}-warden"], filter_state_format())
        else:
            rewritten, warden, notes[pair] = convert_listener(work, pair, theirs, clusters)
            ours = set_port_name_log(harness.to_build(rewritten), f"{pair}_warden", ports[f"{pair}-warden"], logs[f"{pair}-warden"],
                                     filter_state_format())
        wardens[pair] = warden
        listeners += [theirs, ours]
    config_path = work / "envoy.json"
    config_path.write_text(json.dumps({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ports["admin"]}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }))
    proc = harness.Process("envoy:rows", [str(harness.ENVOY_BIN), "-c", str(config_path), "--concurrency", "1",
                                          "--disable-hot-restart", "--log-level", "warning",
                                          "--file-flush-interval-msec", "50"], work / "envoy.log").start()
    try:
        harness.wait_until(lambda: harness.http_request(ports["admin"], "GET", "/ready", timeout=2).status == 200,
                           "rows envoy ready", proc=proc)
        yield {"keys": keys, "ports": ports, "logs": logs, "notes": notes, "wardens": wardens, "proc": proc}
    finally:
        proc.stop()
        echo.stop()


def row_requests(keys: KeySet):
    """(pair, case, method, path, headers) of every request sent to both listeners of a pair."""
    now = int(time.time())
    main = keys.token("ES256", sub="alice", scope="read write", tier="gold")
    silver = keys.token("ES256", sub="bob", tier="silver")
    other = keys.token("ES256", iss=OTHER_ISSUER, sub="svc-billing")
    other_long = keys.token("ES256", iss=OTHER_ISSUER, sub="svc-billing", exp=now + 7200)
    other_no_iat = keys.token("ES256", iss=OTHER_ISSUER, sub="svc-billing", iat=None)
    other_bad_sub = keys.token("ES256", iss=OTHER_ISSUER, sub="user-mallory")
    expired = keys.token("ES256", sub="alice", exp=now - 600)
    bad = tamper_payload(main, sub="mallory")
    remote = keys.token("ES256", iss="https://remote.parity.test", sub="carol")
    bearer = lambda t: ("authorization", f"Bearer {t}")  # noqa: E731
    preflight = [("origin", "https://app.test"), ("access-control-request-method", "POST")]
    algebra = [
        ("main", "/", [bearer(main)]),
        ("none", "/", []),
        ("bad", "/", [bearer(bad)]),
        ("expired", "/", [bearer(expired)]),
        ("spoofed-claim-header", "/", [bearer(main), ("x-sub", "mallory"), ("x-payload", "forged")]),
        ("all-both", "/all", [bearer(main), ("x-other", other)]),
        ("all-main-only", "/all", [bearer(main)]),
        ("all-other-only", "/all", [("x-other", other)]),
        ("all-bad-other", "/all", [bearer(main), ("x-other", tamper_payload(other, sub="svc-x"))]),
        ("missing-none", "/missing", []),
        ("missing-valid", "/missing", [bearer(main)]),
        ("missing-bad", "/missing", [bearer(bad)]),
        ("missing-other-valid", "/missing", [("x-other", other)]),
        ("missing-or-failed-none", "/missing-or-failed", []),
        ("missing-or-failed-bad", "/missing-or-failed", [bearer(bad)]),
        ("missing-or-failed-valid", "/missing-or-failed", [bearer(main)]),
        ("nested-other", "/nested", [("x-other", other)]),
        ("nested-both", "/nested", [bearer(main), ("x-other", other)]),
        ("nested-bad-main", "/nested", [bearer(bad), ("x-other", other)]),
        ("nested-main-only", "/nested", [bearer(main)]),
        ("any-main", "/any", [bearer(main)]),
        ("any-other", "/any", [("x-other", other)]),
        ("any-none", "/any", []),
        ("any-bad-main-good-other", "/any", [bearer(bad), ("x-other", other)]),
        ("subjects-mismatch", "/any", [("x-other", other_bad_sub)]),
        ("max-lifetime-too-long", "/any", [("x-other", other_long)]),
        ("max-lifetime-no-iat", "/any", [("x-other", other_no_iat)]),
        ("named-both", "/named", [bearer(main), ("x-other", other)]),
        ("named-main-only", "/named", [bearer(main)]),
        ("route-other", "/route/other", [("x-other", other)]),
        ("route-other-main-only", "/route/other", [bearer(main)]),
        ("route-off", "/route/off", []),
        ("route-unknown", "/route/unknown", [bearer(main)]),
        ("cors-preflight", "/", preflight),
    ]
    for case, path, headers in algebra:
        yield "algebra", case, "OPTIONS" if case == "cors-preflight" else "GET", path, headers
    yield "algebra", "options-not-preflight", "OPTIONS", "/", []
    edge = [
        ("tier-gold", "/tier", [bearer(main)]),
        ("tier-silver", "/tier", [bearer(silver)]),
        ("tier-spoofed", "/tier", [bearer(silver), ("x-tier", "gold")]),
        ("tier-none", "/tier", []),
        ("tier-bad", "/tier", [bearer(bad)]),
        ("remote", "/remote", [("x-remote", remote)]),
        ("remote-again", "/remote", [("x-remote", remote)]),
        ("remote-bad", "/remote", [("x-remote", tamper_payload(remote, sub="x"))]),
        ("rule", "/rule", [bearer(main)]),
        ("rule-off", "/rule/off", []),
        ("selector-other", "/elsewhere", [("x-selector", "other"), ("x-other", other)]),
        ("selector-other-none", "/elsewhere", [("x-selector", "other")]),
        ("selector-main", "/elsewhere", [("x-selector", "main"), bearer(main)]),
        ("selector-main-wrong-token", "/elsewhere", [("x-selector", "main"), ("x-other", other)]),
        ("selector-unknown", "/elsewhere", [("x-selector", "nobody")]),
        ("no-selector", "/elsewhere", []),
    ]
    for case, path, headers in edge:
        yield "edge", case, "GET", path, headers
    istio = [
        ("none", "/", []),
        ("header", "/", [bearer(main)]),
        ("param", "/?tok=" + main, []),
        ("cookie", "/", [("cookie", f"session={main}")]),
        ("other-prefix", "/", [("x-other", f"Token {other}")]),
        ("other-no-prefix", "/", [("x-other", other)]),
        ("bad", "/", [bearer(bad)]),
        ("other-in-main-place", "/", [bearer(other)]),
        ("both", "/", [bearer(main), ("x-other", f"Token {other}")]),
    ]
    for case, path, headers in istio:
        yield "istio", case, "GET", path, headers
    yield "istio", "cors-preflight", "OPTIONS", "/", preflight


# (pair, case) -> what differs on purpose (README "Behaviour that differs on purpose"):
#   "status": (jwt_authn, Warden);  "unforwarded": headers jwt_authn passes on and Warden does not
#   (a token that did not verify is never forwarded; spoofed claim headers are always removed);
#   "body": the answers' bodies differ.
ROW_DIFFERENCES: dict[tuple[str, str], dict] = {
    ("algebra", "missing-or-failed-bad"): {"unforwarded": {"authorization"}},
    ("algebra", "any-bad-main-good-other"): {"unforwarded": {"authorization"}},
}


def upstream_headers(answer) -> dict | None:
    """The request headers the echo upstream received (None when the answer did not come from it)."""
    try:
        seen = answer.json()
    except ValueError:
        return None
    if not isinstance(seen, dict) or "headers" not in seen:
        return None
    out: dict = {}
    for name, value in seen["headers"]:
        if name not in NOISE:
            out.setdefault(name, []).append(value)
    return out


def numbers_as_ints(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: numbers_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_ints(v) for v in value]
    return value


def log_fields(path: Path, case: str) -> list | None:
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split("\t")
        if parts[0] == case:
            return [None if v in ("-", "") else numbers_as_ints(json.loads(v)) for v in parts[1:]]
    return None


def compare_row(rows, pair: str, case: str, method: str, path: str, headers) -> tuple[list[str], int]:
    """Problems with one request, and Warden's status."""
    tagged = [*headers, ("x-case", f"{pair}.{case}")]
    theirs = harness.http_request(rows["ports"][f"{pair}-jwt_authn"], method, path, tagged)
    ours = harness.http_request(rows["ports"][f"{pair}-warden"], method, path, tagged)
    diff = ROW_DIFFERENCES.get((pair, case), {})
    problems = []
    if (theirs.status, ours.status) != diff.get("status", (theirs.status, theirs.status)):
        problems.append(f"status: jwt_authn {theirs.status}, warden {ours.status} ({ours.body[:200]!r})")
    if "body" not in diff and (theirs.status >= 400) and (not theirs.body) != (not ours.body):
        problems.append(f"body: jwt_authn {theirs.body[:100]!r}, warden {ours.body[:100]!r}")
    seen_theirs, seen_ours = upstream_headers(theirs), upstream_headers(ours)
    if seen_theirs is not None and seen_ours is not None:
        unforwarded = diff.get("unforwarded", set())
        for name in sorted(set(seen_theirs) | set(seen_ours)):
            if name in unforwarded and name in seen_theirs and name not in seen_ours:
                continue
            if seen_theirs.get(name) != seen_ours.get(name):
                problems.append(f"header {name}: jwt_authn {seen_theirs.get(name)}, warden {seen_ours.get(name)}")
    return problems, ours.status


def compare_logs(rows, pair: str, case: str, warden_status: int) -> list[str]:
    """The access-log fields: jwt_authn's dynamic metadata against Warden's filter state."""
    key = f"{pair}.{case}"
    got = {}
    for side in ("jwt_authn", "warden"):
        log = rows["logs"][f"{pair}-{side}"]
        harness.wait_until(lambda: log_fields(log, key) is not None, f"{side} access log line for {key}", timeout=10)
        got[side] = log_fields(log, key)
    problems = []
    diff = ROW_DIFFERENCES.get((pair, case), {})
    for field, theirs, ours in zip(META_FIELDS, got["jwt_authn"], got["warden"]):
        if field in diff.get("log", ()):
            continue
        if field != "jwt_failure" and warden_status >= 400:
            # Deliberate: Warden publishes the claims of a request it lets through only; jwt_authn
            # writes each token's payload as it verifies, also when the request is then refused.
            if ours is not None:
                problems.append(f"{field}: written for a refused request: {ours}")
            continue
        if field == "jwt_failure":
            # jwt_authn writes jwt_verify's status number and text, Warden the HTTP status and its reason:
            # only whether a failure was recorded is compared.
            if (theirs is None) != (ours is None):
                problems.append(f"{field}: jwt_authn {theirs}, warden {ours}")
        elif theirs != ours:
            problems.append(f"{field}: jwt_authn {theirs}, warden {ours}")
    return problems


def test_every_row_agrees_except_the_documented_differences(rows):
    problems = []
    statuses = {}
    for pair, case, method, path, headers in row_requests(rows["keys"]):
        found, statuses[(pair, case)] = compare_row(rows, pair, case, method, path, headers)
        problems += [f"{pair}.{case}: {problem}" for problem in found]
    for (pair, case), status in statuses.items():
        if pair != "istio":
            for problem in compare_logs(rows, pair, case, status):
                problems.append(f"{pair}.{case} (access log): {problem}")
    seen = len(statuses)
    assert not problems, "\n".join(problems)
    assert seen >= 60


def test_rows_decide_as_jwt_authn_documents(rows):
    """Sanity on the jwt_authn side itself, so agreement is not agreement on nothing."""
    ports = rows["ports"]
    keys = rows["keys"]
    both = [("authorization", f"Bearer {keys.token('ES256')}"),
            ("x-other", keys.token("ES256", iss=OTHER_ISSUER, sub="svc-a"))]
    for side in ("jwt_authn", "warden"):
        port = ports[f"algebra-{side}"]
        assert harness.http_request(port, "GET", "/all", both).status == 200, side
        assert harness.http_request(port, "GET", "/all", both[:1]).status == 401, side
        assert harness.http_request(port, "GET", "/route/off", []).status == 200, side
        assert harness.http_request(port, "GET", "/route/unknown", both).status == 403, side
        assert harness.http_request(ports[f"istio-{side}"], "GET", "/", []).status == 200, side


def test_stat_prefix_names_the_metrics(rows):
    stats = harness.http_request(rows["ports"]["admin"], "GET", "/stats").body.decode()
    assert "jwt_authn.edge" in stats
    assert "warden.edge." in stats, [line for line in stats.splitlines() if "warden" in line][:20]


def test_converter_notes_for_the_rows(rows):
    notes = rows["notes"]
    assert "route metadata: algebra_jwt_authn_routes/all/route-other: add " \
           '{"filter_metadata": {"warden": {"requirement": "other-only"}}}' in notes["algebra"]
    assert "different: providers.main.payload_in_metadata: written to filter state `wasm.jwt_payload`" \
        in notes["algebra"]
    assert "not carried over" not in notes["algebra"] + notes["edge"] + notes["istio"]
    assert rows["wardens"]["edge"]["token_cache_size"] == 30
    assert rows["wardens"]["edge"]["providers"]["remote"]["remote_jwks"]["retry"] == {
        "num_retries": 3, "base_interval_ms": 50, "max_interval_ms": 500}
