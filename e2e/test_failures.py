"""Failure handling: the verifier or Redis unavailable, fail closed by default, fail open on request,
and recovery once Redis is back (without restarting the verifier or Envoy)."""

from __future__ import annotations

import socket

import pytest

import harness
from answers import assert_denied, assert_unavailable
from configs import plugin_config


@pytest.fixture
def without_verifier(tmp_path, keys):
    """Envoy whose verifier cluster points at a loopback port nobody listens on."""
    started = []

    def make(failure_mode: str) -> harness.Envoy:
        upstream = harness.EchoUpstream(tmp_path)
        started.append(upstream)
        upstream.start()
        envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), failure_mode=failure_mode),
                              upstream_port=upstream.port, verifier_port=harness.free_port())
        started.append(envoy)
        return envoy.start()

    try:
        yield make
    finally:
        for proc in reversed(started):
            proc.stop()


def test_verifier_down_fails_closed(without_verifier, keys):
    envoy = without_verifier("deny")
    assert_unavailable(envoy.request("/", keys.token("ES256")))
    # A bad token is still a 401 (decided locally, before any verifier call), never a 5xx.
    assert_denied(envoy.request("/", keys.token("ES256", aud="other")), "audience_mismatch")
    # Routes without a requirement do not need the verifier.
    assert envoy.request("/healthz").status == 200
    stats = envoy.stats()
    assert stats.get(harness.stat_name("warden.verifier.failure"), 0) >= 1, stats


def test_verifier_down_with_failure_mode_allow_lets_valid_tokens_through(without_verifier, keys):
    envoy = without_verifier("allow")
    response = envoy.request("/", keys.token("ES256", sub="fail-open"))
    assert response.status == 200, response
    assert ["x-jwt-sub", "fail-open"] in response.json()["headers"]
    # Fail open concerns the verifier only: local checks still refuse bad tokens.
    assert_denied(envoy.request("/", keys.token("ES256", iss="https://evil.example")), "issuer_mismatch")
    stats = envoy.stats()
    assert stats.get(harness.stat_name("warden.verifier.failure_mode_allowed"), 0) >= 1, stats


def test_verifier_that_never_answers_times_out_into_a_503(tmp_path, keys):
    """A verifier that accepts connections but never answers: the call times out (timeout_ms)."""
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)  # never accepted: the kernel completes handshakes, nobody answers
    upstream = harness.EchoUpstream(tmp_path)
    envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), verifier_timeout_ms=300),
                          upstream_port=upstream.port, verifier_port=black_hole.getsockname()[1])
    try:
        upstream.start()
        envoy.start()
        assert_unavailable(envoy.request("/", keys.token("ES256")))
        assert envoy.stats().get(harness.stat_name("warden.verifier.failure"), 0) >= 1
    finally:
        envoy.stop()
        upstream.stop()
        black_hole.close()


def test_verifier_answering_nonsense_is_a_failure_not_an_allow(tmp_path, keys):
    """Point the verifier cluster at the echo server: 200 with a body that is no CheckResponse."""
    upstream = harness.EchoUpstream(tmp_path)
    envoy = None
    try:
        upstream.start()
        envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks()), upstream_port=upstream.port,
                              verifier_port=upstream.port)
        envoy.start()
        assert_unavailable(envoy.request("/", keys.token("ES256")))
    finally:
        if envoy is not None:
            envoy.stop()
        upstream.stop()


def test_verifier_stopped_mid_flight_fails_closed(own_stack):
    stack = own_stack()
    token = stack.keys.token("ES256")
    assert stack.envoy.request("/", token).status == 200
    stack.verifier.stop()
    assert_unavailable(stack.envoy.request("/", token))


def test_redis_down_fails_closed_and_recovers(own_stack):
    stack = own_stack()
    token = stack.keys.token("ES256")
    assert stack.envoy.request("/", token).status == 200

    stack.redis.stop()
    assert_unavailable(stack.envoy.request("/", token))

    stack.redis.start()  # same port, empty data set
    harness.wait_until(lambda: stack.envoy.request("/", token).status == 200,
                       "the verifier to reconnect to Redis", timeout=60)
    assert stack.envoy.request("/", stack.keys.token("RS256")).status == 200
