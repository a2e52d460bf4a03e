"""Durability of acknowledged revocations: Redis runs from the production configuration
(deploy/redis.conf: AOF, fsync on every write), is killed with SIGKILL right after the verifier
acknowledged a revocation, and restarts from the same configuration and directory; the revoked
token is still refused. A control run without persistence shows the same kill does lose them."""

from __future__ import annotations

import subprocess
import time

import pytest

import harness
from answers import assert_denied
from faultkit import FaultStacks

DEPLOY_CONF = harness.DEPLOY_REDIS_CONF


@pytest.fixture
def fault_stack(tmp_path, keys):
    stacks = FaultStacks(tmp_path, keys)
    try:
        yield stacks
    finally:
        stacks.stop_all()


def conf_directives(path) -> dict[str, str]:
    """The last value of every directive in a redis.conf (later lines override earlier ones)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found[name.lower()] = value.strip()
    return found


def redis_config_get(port: int, name: str) -> str:
    done = subprocess.run(["redis-cli", "-p", str(port), "config", "get", name],
                          capture_output=True, text=True, timeout=10, check=True)
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == name, done.stdout
    return lines[1]


def test_deploy_redis_conf_persists_every_write():
    directives = conf_directives(DEPLOY_CONF)
    assert directives["appendonly"] == "yes"
    assert directives["appendfsync"] == "always"
    assert directives["maxmemory-policy"] == "noeviction"  # an evicted revocation re-allows a token
    assert directives["protected-mode"] == "yes"
    text = DEPLOY_CONF.read_text()
    assert "everysec" in text and "power" in text  # the trade-off is stated where the choice is made


def revoke_everything_then_kill(stack, keys) -> dict[str, tuple[str, str]]:
    """Makes three kinds of revocation, each acknowledged, then kills Redis at once (SIGKILL).
    Returns token name -> (token, reason it must be refused for)."""
    admin = stack.verifier.admin
    exp = int(time.time()) + 600
    by_jti = keys.token("ES256", sub="durable-jti", jti="durable-jti-1", exp=exp)
    by_user = keys.token("EdDSA", sub="durable-user", ver=0)
    created = admin("POST", "/v1/admin/sessions", {"sub": "durable-session", "device": "test"})
    assert created.status == 201, created
    sid = created.json()["sid"]
    by_session = keys.token("RS256", sub="durable-session", sid=sid)
    tokens = {"jti": (by_jti, "revoked"), "user": (by_user, "stale_version"),
              "session": (by_session, "session_missing")}
    for token, _ in tokens.values():
        response = stack.envoy.request("/", token)
        assert response.status == 200, response

    answers = [
        admin("POST", "/v1/admin/revoke/user", {"sub": "durable-user"}),
        admin("DELETE", f"/v1/admin/sessions/{sid}"),
        admin("POST", "/v1/admin/revoke/token", {"sub": "durable-jti", "jti": "durable-jti-1", "exp": exp}),
    ]
    stack.redis.kill()  # right after the last acknowledgement: no shutdown, no final fsync
    assert [a.status for a in answers] == [200, 204, 200], [str(a) for a in answers]
    return tokens


def restart_redis(stack) -> None:
    stack.redis.start()  # same configuration, port and directory
    harness.wait_until(lambda: harness.http_request(stack.verifier.port, "GET", "/readyz", timeout=2).status == 200,
                       "the verifier to see Redis again", proc=stack.verifier.proc)


def check(stack, body: dict) -> dict:
    response = harness.http_request(stack.verifier.port, "POST", "/v1/check",
                                    {"content-type": "application/json"}, body)
    assert response.status == 200, response
    return response.json()


def test_acknowledged_revocations_survive_kill_9_of_redis(fault_stack, keys, tmp_path):
    stack = fault_stack(harness.PersistentRedis(tmp_path))
    assert redis_config_get(stack.redis.port, "appendfsync") == "always"
    assert redis_config_get(stack.redis.port, "appendonly") == "yes"
    tokens = revoke_everything_then_kill(stack, keys)
    assert stack.redis.proc.exited()
    restart_redis(stack)

    for name, (token, reason) in tokens.items():
        assert_denied(stack.envoy.request("/", token), reason)
    now = int(time.time())
    assert check(stack, {"sub": "durable-jti", "jti": "durable-jti-1", "iat": now, "exp": now + 600}) == \
        {"allow": False, "reason": "revoked"}
    # Unrelated tokens are unaffected by the restart.
    assert stack.envoy.request("/", keys.token("ES256", sub="durable-other")).status == 200


def test_without_persistence_kill_9_loses_revocations(fault_stack, keys, tmp_path):
    """The control: the same sequence on a Redis without AOF or snapshots (how the rest of the suite
    runs it) forgets the revocations, so the test above can tell durable from not durable."""
    redis = harness.PersistentRedis(tmp_path, extra_args=["--appendonly", "no", "--save", ""])
    stack = fault_stack(redis)
    assert redis_config_get(stack.redis.port, "appendonly") == "no"
    tokens = revoke_everything_then_kill(stack, keys)
    restart_redis(stack)
    token, _ = tokens["jti"]
    response = stack.envoy.request("/", token)
    assert response.status == 200, response
