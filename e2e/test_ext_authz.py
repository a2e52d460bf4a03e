"""The wasm-free deployment: Envoy's `jwt_authn` verifies the token and forwards its payload, Envoy's
HTTP `ext_authz` asks the verifier's `/v1/ext_authz` (envoy/ext-authz.yaml.tmpl). Revocations take
effect as with the filter; the verifier answers 401 with the reason, 503 when Redis is down."""

from __future__ import annotations

import json
import string
import time
import uuid

import pytest

import harness
from harness import fresh_user
from tokens import AUDIENCE, ISSUER, b64url, tamper_payload

pytestmark = pytest.mark.build_independent(
    "the wasm-free deployment (jwt_authn + ext_authz): no Warden filter in "
    "Envoy")

TEMPLATE = harness.ROOT / "envoy/ext-authz.yaml.tmpl"


class ExtAuthzEnvoy(harness.Envoy):
    """Envoy with jwt_authn + ext_authz (no wasm) from the template in envoy/."""

    def __init__(self, workdir, jwks: dict, upstream_port: int, verifier_port: int):
        harness.require_file(harness.ENVOY_BIN, "run scripts/setup.sh (make setup)")
        self.port = harness.free_port()
        self.admin_port = harness.free_port()
        self.config_path = workdir / f"envoy-ext-authz-{self.port}.yaml"
        self.config_path.write_text(string.Template(TEMPLATE.read_text()).substitute(
            LISTEN_PORT=self.port, ADMIN_PORT=self.admin_port, UPSTREAM_PORT=upstream_port,
            VERIFIER_PORT=verifier_port, ISSUER=json.dumps(ISSUER), AUDIENCE=json.dumps(AUDIENCE),
            JWKS=json.dumps(json.dumps(jwks)),
        ))
        argv = [str(harness.ENVOY_BIN), "-c", str(self.config_path), "--concurrency", "1",
                "--disable-hot-restart", "--log-level", "info"]
        self.proc = harness.Process(f"envoy-ext-authz:{self.port}", argv, workdir / f"envoy-ext-authz-{self.port}.log")


@pytest.fixture(scope="module")
def authz(tmp_path_factory, keys):
    workdir = tmp_path_factory.mktemp("ext_authz")
    parts = []
    try:
        redis = harness.Redis(workdir)
        parts.append(redis)
        redis.start()
        verifier = harness.Verifier(workdir, redis.url)
        parts.append(verifier)
        verifier.start()
        upstream = harness.EchoUpstream(workdir)
        parts.append(upstream)
        upstream.start()
        envoy = ExtAuthzEnvoy(workdir, keys.jwks(), upstream.port, verifier.port)
        parts.append(envoy)
        envoy.start()
        yield {"redis": redis, "verifier": verifier, "envoy": envoy, "keys": keys}
    finally:
        for part in reversed(parts):
            part.stop()


def payload_header(**claims) -> dict:
    return {"x-jwt-payload": b64url(json.dumps(claims).encode())}


def test_the_template_is_a_valid_envoy_config(authz):
    result = harness.envoy_validate(authz["envoy"].config_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "HS256"])
def test_a_good_token_passes_both_filters(authz, alg):
    response = authz["envoy"].request("/api/items?x=1", authz["keys"].token(alg, sub=fresh_user()))
    assert response.status == 200, response


def test_jwt_authn_refuses_bad_tokens_before_the_verifier(authz):
    forged = tamper_payload(authz["keys"].token("ES256"), sub="mallory")
    assert authz["envoy"].request("/api", forged).status == 401
    # jwt_authn's own answer for a wrong audience.
    assert authz["envoy"].request("/api", authz["keys"].token("ES256", aud="someone-else")).status == 403
    assert authz["envoy"].request("/api").status == 401
    assert authz["envoy"].request("/healthz").status == 200


def test_a_revoked_token_is_refused_with_the_reason(authz):
    sub = fresh_user()
    exp = int(time.time()) + 600
    token = authz["keys"].token("ES256", sub=sub, jti="authz-revoked", exp=exp)
    assert authz["envoy"].request("/api", token).status == 200
    answer = authz["verifier"].admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": "authz-revoked", "exp": exp})
    assert answer.status == 200, answer
    response = authz["envoy"].request("/api", token)
    assert response.status == 401, response
    assert response.header("www-authenticate") == (
        'Bearer realm="warden", error="invalid_token", error_description="revoked"')
    assert response.json() == {"error": "invalid_token", "error_description": "revoked"}


def test_a_stale_version_is_refused(authz):
    sub = fresh_user()
    answer = authz["verifier"].admin("POST", "/v1/admin/revoke/user", {"sub": sub})
    assert answer.status == 200, answer
    version = answer.json()["version"]
    old = authz["keys"].token("ES256", sub=sub, ver=version - 1)
    response = authz["envoy"].request("/api", old)
    assert response.status == 401 and "stale_version" in response.header("www-authenticate"), response
    current = authz["keys"].token("ES256", sub=sub, ver=version)
    assert authz["envoy"].request("/api", current).status == 200


def test_a_client_cannot_supply_its_own_payload_header(authz):
    # jwt_authn writes the header; a client's copy is replaced or doubled, never believed alone.
    sub = fresh_user()
    exp = int(time.time()) + 600
    answer = authz["verifier"].admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": "spoofed", "exp": exp})
    assert answer.status == 200
    revoked = authz["keys"].token("ES256", sub=sub, jti="spoofed", exp=exp)
    spoof = payload_header(sub=fresh_user(), jti="fine", exp=exp)
    response = authz["envoy"].request("/api", revoked, headers=spoof)
    assert response.status == 401, response


def test_the_verifier_answers_every_path_and_method_under_the_prefix(authz):
    port = authz["verifier"].port
    good = payload_header(sub=fresh_user(), jti=uuid.uuid4().hex, exp=int(time.time()) + 600)
    for method, path in [("GET", "/v1/ext_authz"), ("GET", "/v1/ext_authz/"),
                         ("POST", "/v1/ext_authz/api/items"), ("DELETE", "/v1/ext_authz/a/b/c?q=1")]:
        response = harness.http_request(port, method, path, good)
        assert response.status == 200, (method, path, response)
    missing = harness.http_request(port, "GET", "/v1/ext_authz/api")
    assert missing.status == 401 and missing.header("www-authenticate") == 'Bearer realm="warden"', missing
    for bad in ({"x-jwt-payload": "%%%"}, payload_header(jti="no-sub", exp=1)):
        response = harness.http_request(port, "GET", "/v1/ext_authz/api", bad)
        assert response.status == 401, response
    assert harness.http_request(port, "GET", "/v1/ext_authzz").status == 404


def test_redis_down_is_a_503(authz):
    # Last in the module: it stops this module's Redis.
    token = authz["keys"].token("ES256", sub=fresh_user())
    authz["redis"].stop()
    response = authz["envoy"].request("/api", token)
    assert response.status == 503, response
    direct = harness.http_request(authz["verifier"].port, "GET", "/v1/ext_authz/api",
                                  payload_header(sub=fresh_user(), jti="x", exp=int(time.time()) + 60))
    assert direct.status == 503, direct
    assert direct.json() == {"error": "temporarily_unavailable", "error_description": "verifier_unavailable"}
