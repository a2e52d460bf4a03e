"""Revocation through the verifier's admin API, in both verifier modes with the same answers:
`callout` (a check per request: effective on the very next request) and `stream` (the filter's
local view fed by GET /v1/revocations: effective once the change reached the view, bounded by
`max_staleness_ms`; every later request gets the same answer as in callout mode)."""

from __future__ import annotations

import time

import pytest

import harness
from answers import assert_denied
from configs import plugin_config
from harness import fresh_user, verifier_checks
from stack import start_stack, stop_stack

MODES = ("callout", "stream")
MAX_STALENESS_MS = 1000
# Correctness bound for stream mode (not a speed claim): the staleness bound and a generous margin.
PROPAGATION_BOUND_S = MAX_STALENESS_MS / 1000 + 3.0


def mode_options(mode: str) -> dict:
    if mode == "callout":
        return {}
    return {"mode": "stream", "stream": {"path": "/v1/revocations", "max_staleness_ms": MAX_STALENESS_MS,
                                         "max_entries": 100000}}


@pytest.fixture(scope="module", params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def mode_stack(mode, tmp_path_factory, keys):
    """This module's shared stack in `mode` (in place of the session-wide `stack` of conftest)."""
    mode_stack = start_stack(tmp_path_factory.mktemp(f"revocation-{mode}"), keys, **mode_options(mode))
    mode_stack.mode = mode
    try:
        yield mode_stack
    finally:
        stop_stack(mode_stack)


def denied(stack, token: str, reason: str, path: str = "/", envoy=None) -> None:
    """Callout mode: the very next request is refused. Stream mode: requests may pass only until
    the change reaches the view (within PROPAGATION_BOUND_S), then the same refusal."""
    envoy = envoy or stack.envoy
    response = envoy.request(path, token)
    if stack.mode == "stream":
        deadline = time.monotonic() + PROPAGATION_BOUND_S
        while response.status == 200 and time.monotonic() < deadline:
            time.sleep(0.005)
            response = envoy.request(path, token)
    assert_denied(response, reason)
    # From then on, every request gets it.
    for _ in range(3):
        assert_denied(envoy.request(path, token), reason)


def test_stream_mode_decides_locally_and_callout_mode_asks(mode_stack, mode):
    token = mode_stack.keys.token("ES256", sub=fresh_user())
    if mode == "stream":
        # Once the view is synchronised, requests make no call at all.
        def quiet() -> bool:
            before = verifier_checks(mode_stack.verifier.port)
            ok = all(mode_stack.envoy.request("/", token).status == 200 for _ in range(5))
            return ok and verifier_checks(mode_stack.verifier.port) == before
        harness.wait_until(quiet, "the stream view to answer locally", timeout=PROPAGATION_BOUND_S)
    before = verifier_checks(mode_stack.verifier.port)
    assert [mode_stack.envoy.request("/", token).status for _ in range(20)] == [200] * 20
    assert verifier_checks(mode_stack.verifier.port) - before == (0 if mode == "stream" else 20)


def test_revoke_one_token_by_jti(mode_stack):
    sub = fresh_user()
    token = mode_stack.keys.token("ES256", sub=sub, jti="jti-to-revoke")
    other = mode_stack.keys.token("ES256", sub=sub, jti="jti-kept")
    assert mode_stack.envoy.request("/", token).status == 200

    exp = int(time.time()) + 600
    answer = mode_stack.verifier.admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": "jti-to-revoke", "exp": exp})
    assert answer.status == 200, answer

    denied(mode_stack, token, "revoked")
    assert mode_stack.envoy.request("/", other).status == 200


def test_revoke_user_bumps_the_version(mode_stack):
    sub = fresh_user()
    old = mode_stack.keys.token("RS256", sub=sub)
    assert mode_stack.envoy.request("/", old).status == 200

    answer = mode_stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": sub})
    assert answer.status == 200, answer
    version = answer.json()["version"]
    assert isinstance(version, int) and version >= 1

    # `old` has no `ver`: judged by the user's not-before (issued at or before the revocation).
    denied(mode_stack, old, "user_revoked")
    assert_denied(mode_stack.envoy.request("/", mode_stack.keys.token("RS256", sub=sub, ver=version - 1)), "stale_version")
    assert mode_stack.envoy.request("/", mode_stack.keys.token("RS256", sub=sub, ver=version)).status == 200
    # Other users are untouched.
    assert mode_stack.envoy.request("/", mode_stack.keys.token("RS256", sub=fresh_user())).status == 200


def test_sessions_end_and_belong_to_their_user(mode_stack):
    sub = fresh_user()
    created = mode_stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub, "device": "e2e"})
    assert created.status == 201, created
    sid = created.json()["sid"]

    token = mode_stack.keys.token("EdDSA", sub=sub, sid=sid)
    assert mode_stack.envoy.request("/", token).status == 200
    assert_denied(mode_stack.envoy.request("/", mode_stack.keys.token("EdDSA", sub=fresh_user(), sid=sid)), "session_mismatch")
    assert_denied(mode_stack.envoy.request("/", mode_stack.keys.token("EdDSA", sub=sub, sid="no-such-session")),
                  "session_missing")

    ended = mode_stack.verifier.admin("DELETE", f"/v1/admin/sessions/{sid}")
    assert ended.status == 204, ended
    denied(mode_stack, token, "session_missing")


def test_revoke_user_ends_their_sessions(mode_stack):
    sub = fresh_user()
    sid = mode_stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub}).json()["sid"]
    answer = mode_stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": sub})
    assert answer.status == 200, answer
    token = mode_stack.keys.token("ES256", sub=sub, sid=sid, ver=answer.json()["version"])
    denied(mode_stack, token, "session_missing")


def test_admin_api_requires_the_admin_token(mode_stack):
    answer = mode_stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": fresh_user()}, token="wrong")
    assert answer.status == 401, answer


def test_revoke_all(own_stack, mode):
    stack = own_stack(**mode_options(mode))
    stack.mode = mode
    now = int(time.time())
    before = stack.keys.token("ES256", iat=now - 5)
    assert stack.envoy.request("/", before).status == 200

    answer = stack.verifier.admin("POST", "/v1/admin/revoke/all")
    assert answer.status == 200, answer
    not_before = answer.json()["not_before"]
    assert isinstance(not_before, int)

    denied(stack, before, "revoked_all")
    assert_denied(stack.envoy.request("/", stack.keys.token("ES256", iat=None)), "revoked_all")
    after = stack.keys.token("ES256", iat=not_before + 1)
    assert stack.envoy.request("/", after).status == 200


def test_revocation_reaches_every_worker(mode_stack, tmp_path):
    """Envoy with two workers (two VMs, two token caches) in front of the shared verifier: the
    cache only skips signature checks, so a revocation holds on every connection at once."""
    envoy = harness.Envoy(tmp_path, plugin_config(mode_stack.keys.jwks(), **mode_options(mode_stack.mode)),
                          upstream_port=mode_stack.upstream.port, verifier_port=mode_stack.verifier.port, concurrency=2)
    try:
        envoy.start()
        sub = fresh_user()
        token = mode_stack.keys.token("ES256", sub=sub, jti="multi-worker")
        assert [envoy.request("/", token).status for _ in range(12)] == [200] * 12  # a new connection each
        answer = mode_stack.verifier.admin("POST", "/v1/admin/revoke/token",
                                      {"sub": sub, "jti": "multi-worker", "exp": int(time.time()) + 600})
        assert answer.status == 200, answer
        if mode_stack.mode == "stream":
            # Each worker's view gets the change within the bound; then every connection is refused.
            deadline = time.monotonic() + PROPAGATION_BOUND_S
            while time.monotonic() < deadline and any(envoy.request("/", token).status == 200 for _ in range(12)):
                time.sleep(0.01)
        statuses = [envoy.request("/", token).status for _ in range(12)]
        assert statuses == [401] * 12, statuses
    finally:
        envoy.stop()
