"""Regression tests for the review's findings, on real Envoy with Envoy's *default* path and header
handling (no normalize_path, no merge_slashes, underscores allowed), so the filter alone must hold,
in front of a CGI-style upstream (wsgiref) that reads paths and headers the lenient way."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest

import harness
from answers import assert_denied
from configs import CLAIM_HEADERS
from tokens import AUDIENCE, ISSUER

# Envoy's defaults: the HCM fields our shipped configs set are taken out.
ENVOY_DEFAULTS = {
    "normalize_path": None,
    "merge_slashes": None,
    "path_with_escaped_slashes_action": None,
    "common_http_protocol_options": None,
}


def hardening_config(jwks: dict) -> dict:
    """Protect one area, leave the rest open: the layout the review found bypassable."""
    main = {
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": json.dumps(jwks)},
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
        "from_params": ["access_token"],
        "from_cookies": ["session"],
        "require_expiration": False,
        "claim_to_headers": CLAIM_HEADERS,
    }
    return {
        "providers": {"main": main},
        "rules": [
            {"match": {"prefix": "/admin"}, "requires": {"provider_name": "main"}},
            {"match": {"path": "/secret"}, "requires": {"provider_name": "main"}},
            {"match": {"prefix": "/"}},
        ],
        "verifier": {"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
                     "timeout_ms": 1000, "failure_mode": "deny"},
    }


@pytest.fixture(scope="module")
def lenient(tmp_path_factory, keys):
    workdir = tmp_path_factory.mktemp("hardening")
    parts = []
    try:
        redis = harness.Redis(workdir).start()
        parts.append(redis)
        verifier = harness.Verifier(workdir, redis.url).start()
        parts.append(verifier)
        upstream = harness.WsgiUpstream(workdir).start()
        parts.append(upstream)
        envoy = harness.Envoy(workdir, hardening_config(keys.jwks()), upstream_port=upstream.port,
                              verifier_port=verifier.port, hcm_overrides=ENVOY_DEFAULTS).start()
        parts.append(envoy)
        envoy.redis = redis
        yield envoy, verifier, keys
    finally:
        for part in reversed(parts):
            part.stop()


def upstream_saw(response) -> dict:
    assert response.status == 200, response
    return response.json()


# Paths that an upstream (or Envoy's own normalisation, were it on) reads as /admin.
CONFUSED_PATHS = [
    "/x/../admin", "/./admin", "//admin", "/;/admin", "/%61dmin", "/%2561dmin", "/x/%2e%2e/admin",
    "/x/..;/admin", "/..;/admin", "/.%2e/admin", "/x%2f..%2fadmin", "/%2fadmin", "/x/%252e%252e/admin",
    "/x/%c0%ae%c0%ae/admin",
    # A `%` the first decoding leaves bad: lenient double decoders read `/admin%`.
    "/%2561dmin%25", "/%2561dmin;%25", "/x%252f..%252fadmin%25", "/x%255c..%255cadmin%25",
    # Still an escape after the second decoding: no third decoding is modelled.
    "/x/%25252e%25252e/admin",
    # Express (non-strict routing) and Spring MVC <= 5.3 serve the exact rule's `/secret`.
    "/secret/", "/secret/.", "/secret//",
    # Case-insensitive servers (IIS, ASP.NET Core) read these as /admin.
    "/ADMIN", "/Admin/x", "/adm%C4%B1n",
]


@pytest.mark.parametrize("path", CONFUSED_PATHS)
def test_confused_paths_never_reach_the_upstream_unchecked(lenient, path):
    envoy, _, _ = lenient
    answer = envoy.request(path)
    assert answer.status == 400, f"{path}: {answer}"
    assert answer.json() == {"error": "invalid_request", "error_description": "path_rejected"}
    assert answer.header("www-authenticate") is None


@pytest.mark.parametrize("path", ["/x\\..\\admin", "/a%00b", "/a%0d%0aX-Injected:1", "/a%zz"])
def test_paths_no_upstream_should_read_are_refused(lenient, path):
    envoy, _, _ = lenient
    answer = envoy.request(path)
    assert answer.status == 400, f"{path}: {answer}"


def test_protected_area_in_any_spelling_needs_the_token(lenient):
    envoy, _, keys = lenient
    for path in ["/admin", "/admin;x=1", "/admin/./x", "/admin//x", "/admin/%2e/x", "/admin/100%25", "/secret"]:
        answer = envoy.request(path)
        assert answer.status == 401, f"{path}: {answer}"
        sub = f"user-{uuid.uuid4().hex[:8]}"
        seen = upstream_saw(envoy.request(path, keys.token("ES256", sub=sub)))
        assert seen["http"].get("HTTP_X_JWT_SUB") == sub, seen


def test_open_area_stays_open_in_harmless_spellings(lenient):
    envoy, _, _ = lenient
    for path in ["/public/x", "/public/a%20b", "/public//x", "/public/./x"]:
        assert envoy.request(path).status == 200, path


def test_underscore_spelling_of_a_claim_header_is_removed(lenient):
    envoy, _, keys = lenient
    spoof = [("x_jwt_sub", "admin"), ("X_Jwt_Iss", "evil")]
    seen = upstream_saw(envoy.request("/public/x", headers=spoof))
    assert "HTTP_X_JWT_SUB" not in seen["http"], seen
    assert "HTTP_X_JWT_ISS" not in seen["http"], seen
    sub = f"user-{uuid.uuid4().hex[:8]}"
    seen = upstream_saw(envoy.request("/admin/x", keys.token("ES256", sub=sub), headers=spoof))
    assert seen["http"]["HTTP_X_JWT_SUB"] == sub, seen
    assert seen["http"]["HTTP_X_JWT_ISS"] == ISSUER, seen


def test_shipped_config_rejects_underscore_headers(stack):
    answer = stack.envoy.request("/public/x", headers={"x_jwt_sub": "admin"})
    assert answer.status == 400, answer


def cookie_request(envoy, cookie: str, path: str = "/admin/c"):
    return envoy.request(path, headers=[("cookie", cookie)])


def test_duplicate_or_loosely_named_cookies_are_refused(lenient):
    envoy, _, keys = lenient
    good = keys.token("ES256")
    forged = keys.token("ES256", iss="https://elsewhere.example")
    assert cookie_request(envoy, f"session={good}").status == 200
    for cookie in [f"session={good}; session={forged}", f"session={good}; session ={forged}",
                   f"session ={forged}; session={good}", f"session={good}; %73ession={forged}"]:
        assert_denied(cookie_request(envoy, cookie), "token_malformed")
    assert_denied(envoy.request("/admin/c", headers=[("cookie", f"session={good}"),
                                                     ("cookie", f"session={forged}")]), "token_malformed")


def test_unverified_tokens_in_other_sources_are_removed(lenient):
    envoy, _, keys = lenient
    sub = f"user-{uuid.uuid4().hex[:8]}"
    good = keys.token("ES256", sub=sub)
    forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."
    seen = upstream_saw(envoy.request(f"/admin/x?a=1&access_token={forged}&access.token={forged}&b=2", good,
                                      headers=[("cookie", f"theme=dark; session={forged}")]))
    assert seen["query_string"] == "a=1&b=2", seen
    assert seen["http"].get("HTTP_COOKIE") == "theme=dark", seen
    assert "HTTP_AUTHORIZATION" not in seen["http"], seen
    assert seen["http"]["HTTP_X_JWT_SUB"] == sub, seen


def revoke(verifier, body: dict):
    return verifier.admin("POST", "/v1/admin/revoke/token", body)


def test_revoking_a_token_without_exp_is_stored_for_good(lenient):
    envoy, verifier, keys = lenient
    for exp_field in ({}, {"exp": 0}):
        sub, jti = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        token = keys.token("ES256", sub=sub, jti=jti, exp=None)
        assert envoy.request("/admin/x", token).status == 200
        answer = revoke(verifier, {"sub": sub, "jti": jti, **exp_field})
        assert answer.status == 200, answer
        assert answer.json()["expires_at"] is None, answer
        assert_denied(envoy.request("/admin/x", token), "revoked")


def test_revoking_with_an_exp_long_past_is_refused_not_acknowledged(lenient):
    _, verifier, _ = lenient
    answer = revoke(verifier, {"sub": "someone", "jti": uuid.uuid4().hex, "exp": int(time.time()) - 3600})
    assert answer.status == 400, answer
    assert "exp" in json.dumps(answer.json()), answer


def test_re_revoking_with_a_smaller_exp_keeps_the_later_expiry(lenient):
    envoy, verifier, keys = lenient
    sub, jti = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    now = int(time.time())
    token = keys.token("ES256", sub=sub, jti=jti, exp=now + 3600)
    first = revoke(verifier, {"sub": sub, "jti": jti, "exp": now + 3600})
    assert first.status == 200, first
    # A smaller exp (a client mistake, or an attacker with admin access racing) must not shorten it.
    second = revoke(verifier, {"sub": sub, "jti": jti, "exp": now - 250})
    assert second.status == 200, second
    assert_denied(envoy.request("/admin/x", token), "revoked")
    keys_found = redis_cli(envoy.redis, "--scan", "--pattern", f"*{jti}*").split()
    assert len(keys_found) == 1, keys_found
    ttl = int(redis_cli(envoy.redis, "TTL", keys_found[0]))
    assert ttl > 3000, f"the entry was shortened to {ttl} s"


def redis_cli(redis, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(redis.port), *args], capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()
