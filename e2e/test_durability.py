"""Durability of acknowledged revocations: Redis runs from the production configuration
(deploy/redis.conf: AOF, fsync on every write), is killed with SIGKILL right after the verifier
acknowledged a revocation, and restarts from the same configuration and directory; the revoked
token is still refused. A control run without persistence shows the same kill does lose them.
The ACL user the config suggests is checked to be enough for the verifier."""

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


def acl_hint(path) -> list[str]:
    """The verifier's ACL user suggested (commented) in deploy/redis.conf, as ACL SETUSER arguments."""
    for line in path.read_text().splitlines():
        words = line.lstrip("# ").split()
        if words[:2] == ["user", "warden"]:
            return words[1:]
    raise AssertionError(f"no `user warden` hint in {path}")


def test_deploy_acl_user_is_enough_for_the_verifier(tmp_path):
    """The ACL user the production config suggests (default user off) can do everything the
    verifier does: readiness, each admin write, sessions, checks."""
    redis = harness.PersistentRedis(tmp_path).start()
    verifier = None
    try:
        password = "acl-test-password-0123456789"
        rules = [f">{password}" if word.startswith(">") else word for word in acl_hint(DEPLOY_CONF)[1:]]
        cli = ["redis-cli", "-p", str(redis.port)]
        subprocess.run([*cli, "acl", "setuser", "warden", "reset", *rules], check=True, capture_output=True, timeout=10)
        subprocess.run([*cli, "acl", "setuser", "default", "off"], check=True, capture_output=True, timeout=10)
        verifier = harness.Verifier(tmp_path, f"redis://warden:{password}@127.0.0.1:{redis.port}").start()
        exp = int(time.time()) + 600
        assert verifier.admin("POST", "/v1/admin/revoke/token", {"sub": "acl", "jti": "j1", "exp": exp}).status == 200
        assert verifier.admin("POST", "/v1/admin/revoke/user", {"sub": "acl-2"}).json() == {"version": 1}
        created = verifier.admin("POST", "/v1/admin/sessions", {"sub": "acl-3"})
        assert created.status == 201, created
        sid = created.json()["sid"]
        assert verifier.admin("GET", "/v1/admin/users/acl-3/sessions").status == 200
        now = int(time.time())
        answer = harness.http_request(verifier.port, "POST", "/v1/check", {"content-type": "application/json"},
                                      {"sub": "acl-3", "jti": "j2", "sid": sid, "iat": now, "exp": exp})
        assert answer.status == 200 and answer.json() == {"allow": True}, answer
        answer = harness.http_request(verifier.port, "POST", "/v1/check", {"content-type": "application/json"},
                                      {"sub": "acl", "jti": "j1", "iat": now, "exp": exp})
        assert answer.json() == {"allow": False, "reason": "revoked"}, answer
        assert verifier.admin("DELETE", f"/v1/admin/sessions/{sid}").status == 204
        assert verifier.admin("POST", "/v1/admin/revoke/all").status == 200
        assert "NOPERM" not in verifier.proc.log_text()
    finally:
        if verifier is not None:
            verifier.stop()
        redis.stop()
