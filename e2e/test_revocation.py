"""Revocation through the verifier's admin API, each effective on the very next request."""

from __future__ import annotations

import time
import uuid

import harness
from answers import assert_denied
from configs import plugin_config


def fresh_user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


def test_revoke_one_token_by_jti(stack):
    sub = fresh_user()
    token = stack.keys.token("ES256", sub=sub, jti="jti-to-revoke")
    other = stack.keys.token("ES256", sub=sub, jti="jti-kept")
    assert stack.envoy.request("/", token).status == 200

    exp = int(time.time()) + 600
    answer = stack.verifier.admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": "jti-to-revoke", "exp": exp})
    assert answer.status == 200, answer

    assert_denied(stack.envoy.request("/", token), "revoked")
    assert stack.envoy.request("/", other).status == 200


def test_revoke_user_bumps_the_version(stack):
    sub = fresh_user()
    old = stack.keys.token("RS256", sub=sub)
    assert stack.envoy.request("/", old).status == 200

    answer = stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": sub})
    assert answer.status == 200, answer
    version = answer.json()["version"]
    assert isinstance(version, int) and version >= 1

    assert_denied(stack.envoy.request("/", old), "stale_version")
    assert_denied(stack.envoy.request("/", stack.keys.token("RS256", sub=sub, ver=version - 1)), "stale_version")
    assert stack.envoy.request("/", stack.keys.token("RS256", sub=sub, ver=version)).status == 200
    # Other users are untouched.
    assert stack.envoy.request("/", stack.keys.token("RS256", sub=fresh_user())).status == 200


def test_sessions_end_and_belong_to_their_user(stack):
    sub = fresh_user()
    created = stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub, "device": "e2e"})
    assert created.status == 201, created
    sid = created.json()["sid"]

    token = stack.keys.token("EdDSA", sub=sub, sid=sid)
    assert stack.envoy.request("/", token).status == 200
    assert_denied(stack.envoy.request("/", stack.keys.token("EdDSA", sub=fresh_user(), sid=sid)), "session_mismatch")
    assert_denied(stack.envoy.request("/", stack.keys.token("EdDSA", sub=sub, sid="no-such-session")),
                  "session_missing")

    ended = stack.verifier.admin("DELETE", f"/v1/admin/sessions/{sid}")
    assert ended.status == 204, ended
    assert_denied(stack.envoy.request("/", token), "session_missing")


def test_revoke_user_ends_their_sessions(stack):
    sub = fresh_user()
    sid = stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub}).json()["sid"]
    answer = stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": sub})
    assert answer.status == 200, answer
    token = stack.keys.token("ES256", sub=sub, sid=sid, ver=answer.json()["version"])
    assert_denied(stack.envoy.request("/", token), "session_missing")


def test_admin_api_requires_the_admin_token(stack):
    answer = stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": fresh_user()}, token="wrong")
    assert answer.status == 401, answer


def test_revoke_all(own_stack):
    stack = own_stack()
    now = int(time.time())
    before = stack.keys.token("ES256", iat=now - 5)
    assert stack.envoy.request("/", before).status == 200

    answer = stack.verifier.admin("POST", "/v1/admin/revoke/all")
    assert answer.status == 200, answer
    not_before = answer.json()["not_before"]
    assert isinstance(not_before, int)

    assert_denied(stack.envoy.request("/", before), "revoked_all")
    assert_denied(stack.envoy.request("/", stack.keys.token("ES256", iat=None)), "revoked_all")
    after = stack.keys.token("ES256", iat=not_before + 1)
    assert stack.envoy.request("/", after).status == 200


def test_revocation_reaches_every_worker(stack, tmp_path):
    """Envoy with two workers (two VMs, two token caches) in front of the shared verifier: the
    cache only skips signature checks, so a revocation holds on every connection at once."""
    envoy = harness.Envoy(tmp_path, plugin_config(stack.keys.jwks()), upstream_port=stack.upstream.port,
                          verifier_port=stack.verifier.port, concurrency=2)
    try:
        envoy.start()
        sub = fresh_user()
        token = stack.keys.token("ES256", sub=sub, jti="multi-worker")
        assert [envoy.request("/", token).status for _ in range(12)] == [200] * 12  # a new connection each
        answer = stack.verifier.admin("POST", "/v1/admin/revoke/token",
                                      {"sub": sub, "jti": "multi-worker", "exp": int(time.time()) + 600})
        assert answer.status == 200, answer
        statuses = [envoy.request("/", token).status for _ in range(12)]
        assert statuses == [401] * 12, statuses
    finally:
        envoy.stop()
