"""Faults with real processes: Redis killed and restarted under load, the verifier killed or frozen,
and network delay on the path from Envoy to the verifier. Throughout, a revoked token is never let
through, a good token gets 503 while its check cannot be answered, and service resumes without
restarting anything that did not fail."""

from __future__ import annotations

import signal
import time

import pytest

import harness
import netns
from answers import assert_denied, assert_unavailable
from configs import plugin_config
from faultkit import HANG_MARGIN_S, TIMEOUT_MS, FaultStacks, Load, timed_request


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory, keys):
    """One stack for the tests that kill or freeze its parts; Redis runs from deploy/redis.conf."""
    workdir = tmp_path_factory.mktemp("faults")
    stacks = FaultStacks(workdir, keys)
    try:
        yield stacks(harness.PersistentRedis(workdir))
    finally:
        stacks.stop_all()


@pytest.fixture
def healed_stack(shared_stack, keys):
    shared_stack.heal(keys.token("ES256", sub="heal"))
    return shared_stack


def test_redis_killed_and_restarted_under_load(healed_stack, keys):
    """SIGKILL Redis (AOF on, deploy/redis.conf) while clients keep sending a good token and two
    revoked ones, restart it on the same port and directory: the revoked tokens never pass, the
    good one gets 503 during the outage and 200 again afterwards, with the same verifier process."""
    good = keys.token("ES256", sub="fault-good")
    revoked_sub = "fault-revoked"
    jti = "fault-jti-1"
    revoked = keys.token("ES256", sub=revoked_sub, jti=jti)
    old_version = keys.token("RS256", sub="fault-stale", ver=0)
    exp = int(time.time()) + 600
    assert healed_stack.verifier.admin("POST", "/v1/admin/revoke/token",
                                {"sub": revoked_sub, "jti": jti, "exp": exp}).status == 200
    assert healed_stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": "fault-stale"}).status == 200
    verifier_pid = healed_stack.verifier.proc.popen.pid

    load = Load(healed_stack.envoy.port, {"good": good, "revoked": revoked, "stale": old_version})
    load.start()
    try:
        harness.wait_until(lambda: len(load.of("good")) >= 5, "load before the fault", timeout=30)
        killed_at = time.monotonic()
        healed_stack.redis.kill()
        # Keep Redis down until every token was tried several times during the outage.
        harness.wait_until(lambda: all(len(load.of(name, after=killed_at)) >= 5 for name in load.tokens),
                           "load while Redis is down", timeout=30)
        restarted_at = time.monotonic()
        healed_stack.redis.start()
        harness.wait_until(lambda: any(s.status == 200 for s in load.of("good", after=restarted_at)),
                           "the good token to pass again after the restart", timeout=60)
        recovered_at = time.monotonic()
        harness.wait_until(lambda: len(load.of("revoked", after=recovered_at)) >= 5
                           and len(load.of("stale", after=recovered_at)) >= 5,
                           "load after the recovery", timeout=30)
    finally:
        load.stop()

    assert not load.errors, load.errors[:5]
    for name, reason in (("revoked", "revoked"), ("stale", "stale_version")):
        samples = load.of(name)
        passed = [s for s in samples if 200 <= s.status < 300]
        assert not passed, f"{name} token answered 2xx {len(passed)} times, first at {passed[0]}"
        assert {s.status for s in samples} <= {401, 503}, {s.status for s in samples}
        assert {s.reason for s in samples if s.status == 401} == {reason}
        # Stored before the kill, reloaded from the AOF: still denied (not merely unavailable).
        after = load.of(name, after=recovered_at)
        assert after and all(s.status == 401 for s in after), [s.status for s in after]
    good_samples = load.of("good")
    assert {s.status for s in good_samples} <= {200, 503}, {s.status for s in good_samples}
    # Answered before the kill (a request sent just before it may be checked just after it).
    assert all(s.status == 200 for s in load.of("good") if s.answered < killed_at), "503 before the fault"
    during = load.of("good", after=killed_at, before=restarted_at)
    assert sum(s.status == 503 for s in during) >= 3, [s.status for s in during]
    assert all(s.status == 200 for s in load.of("good", after=recovered_at))
    # Recovery came from reconnecting, not from a restart of the verifier.
    assert not healed_stack.verifier.proc.exited() and healed_stack.verifier.proc.popen.pid == verifier_pid


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_verifier_killed_or_frozen_gives_503_within_the_timeout(healed_stack, keys, how):
    token = keys.token("ES256", sub=f"verifier-{how.lower()}")
    assert healed_stack.envoy.request("/", token).status == 200
    failures_before = healed_stack.envoy.stats().get(harness.stat_name("warden.verifier.failure"), 0)

    if how == "SIGKILL":
        healed_stack.verifier.proc.stop(signal.SIGKILL)
    else:
        harness.signal_process(healed_stack.verifier.proc, signal.SIGSTOP)
    for _ in range(3):
        response, elapsed = timed_request(healed_stack.envoy, token)
        assert_unavailable(response)
        assert elapsed < TIMEOUT_MS / 1000 + HANG_MARGIN_S, f"503 after {elapsed:.2f} s"
    # Bad tokens are still refused locally, and routes without a requirement still pass.
    assert_denied(healed_stack.envoy.request("/", keys.token("ES256", aud="other")), "audience_mismatch")
    assert healed_stack.envoy.request("/healthz").status == 200

    if how == "SIGKILL":
        healed_stack.verifier.start()  # a new process on the same ports
    else:
        harness.signal_process(healed_stack.verifier.proc, signal.SIGCONT)
    harness.wait_until(lambda: healed_stack.envoy.request("/", token).status == 200,
                       f"the verifier to serve again after {how}", timeout=30)
    failures = healed_stack.envoy.stats().get(harness.stat_name("warden.verifier.failure"), 0) - failures_before
    assert failures >= 3, failures


@pytest.fixture
def namespace(tmp_path):
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    ns = netns.NetNamespace(tmp_path).create()
    try:
        yield ns
    finally:
        ns.destroy()
        assert not ns.exists(), f"namespace {ns.name} left behind"


def test_network_delay_on_the_verifier_path(namespace, tmp_path, keys):
    """Redis and the verifier in their own network namespace, Envoy reaching the verifier over a
    veth pair: a delay below the filter's timeout only slows answers down, one beyond it gives
    503, and once it is removed requests pass again."""
    parts: list = []
    try:
        redis = netns.NamespacedRedis(namespace, tmp_path)
        parts.append(redis)
        redis.start()
        verifier = netns.NamespacedVerifier(namespace, tmp_path, redis.port)
        parts.append(verifier)
        verifier.start()
        upstream = harness.EchoUpstream(tmp_path)
        parts.append(upstream)
        upstream.start()
        envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), verifier_timeout_ms=TIMEOUT_MS),
                              upstream_port=upstream.port, verifier_port=verifier.port)
        netns.point_cluster(envoy.config_path, "warden_verifier", namespace.ns_addr, verifier.port)
        parts.append(envoy)
        envoy.start()

        token = keys.token("ES256", sub="netns-user")
        response, _ = timed_request(envoy, token)
        assert response.status == 200, response

        short_ms = 100
        namespace.delay(short_ms)
        response, elapsed = timed_request(envoy, token)
        assert response.status == 200, response
        # The delay is really on the path: the answer cannot come back sooner than it.
        assert elapsed >= short_ms / 1000, f"answered in {elapsed * 1000:.0f} ms through a {short_ms} ms delay"

        long_ms = TIMEOUT_MS + 300
        mode = namespace.delay(long_ms)
        for _ in range(2):
            response, elapsed = timed_request(envoy, token)
            assert_unavailable(response)
            assert elapsed < TIMEOUT_MS / 1000 + HANG_MARGIN_S, f"503 after {elapsed:.2f} s ({mode})"

        namespace.clear_delay()
        harness.wait_until(lambda: envoy.request("/", token).status == 200,
                           "requests to pass once the delay is removed", timeout=30)
        response, _ = timed_request(envoy, token)
        assert response.status == 200, response
    finally:
        for part in reversed(parts):
            part.stop()
