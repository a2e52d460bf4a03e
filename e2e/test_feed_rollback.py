"""Stream mode after Redis loses its last writes (issue 20, finding 3): the feed's sequence and log
roll back together, and new entries reuse numbers the filter's cursor already passed. Every feed
entry has a random id and the filter's cursor is (seq, id), so the verifier answers a cursor
whose entry is gone with a snapshot. Two verifier replicas on one Redis: the filter polls one,
revocations go through the other."""

from __future__ import annotations

import signal
import time

import harness
from answers import assert_denied
from configs import plugin_config
from harness import fresh_user, verifier_checks
from test_stream import BOUND_S, STREAM, eventually_denied, redis_command, revoke_token, wait_local


class DebugRedis(harness.Redis):
    """A plain Redis with the DEBUG command on (`DEBUG RELOAD NOSAVE`: back to the last SAVE)."""

    def start(self) -> DebugRedis:
        argv = [
            harness.redis_server_bin(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
            "--enable-debug-command", "yes",
        ]
        self.proc = harness.Process(f"redis:{self.port}", argv,
                                    self.workdir / f"redis-{self.port}.log").start()
        harness.wait_until(lambda: harness._ping_redis(self.port), f"redis on {self.port}", proc=self.proc)
        return self


def test_revocations_after_a_rollback_reach_a_filter_whose_cursor_passed_the_lost_entries(tmp_path, keys):
    """Revoke, SAVE, revoke twice more (the filter's cursor passes them), freeze the replica the
    filter polls, roll Redis back to the SAVE, revoke three tokens through the other replica,
    thaw: the filter must deny all three. Before entry ids, the frozen replica re-read the feed
    from the filter's cursor, found an entry at that (reused) number and answered only what came
    after it: two of the three acknowledged revocations were never enforced."""
    parts = []
    try:
        redis = DebugRedis(tmp_path).start()
        parts.append(redis)
        polled = harness.Verifier(tmp_path, redis.url).start()
        parts.append(polled)
        other = harness.Verifier(tmp_path, redis.url).start()
        parts.append(other)
        upstream = harness.EchoUpstream(tmp_path).start()
        parts.append(upstream)
        envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                              upstream_port=upstream.port, verifier_port=polled.port).start()
        parts.append(envoy)

        sub = fresh_user("rollback")
        token = {jti: keys.token("ES256", sub=sub, jti=jti)
                 for jti in ("kept", "lost-1", "lost-2", "new-1", "new-2", "new-3")}
        good = keys.token("ES256", sub=fresh_user("rollback"))
        wait_local(envoy, polled.port, good)
        revoke_token(other, sub, "kept")
        eventually_denied(envoy, token["kept"], "revoked")
        assert redis_command(redis.port, "SAVE") == b"+OK\r\n"
        for jti in ("lost-1", "lost-2"):
            revoke_token(other, sub, jti)
            eventually_denied(envoy, token[jti], "revoked")
        # The view holds them (its cursor passed both), deciding with no check call.
        wait_local(envoy, polled.port, good)
        before = verifier_checks(polled.port)
        for jti in ("lost-1", "lost-2"):
            assert_denied(envoy.request("/", token[jti]), "revoked")
        assert verifier_checks(polled.port) == before

        for jti in ("new-1", "new-2", "new-3"):
            assert envoy.request("/", token[jti]).status == 200
        harness.signal_process(polled.proc, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            assert redis_command(redis.port, "DEBUG", "RELOAD", "NOSAVE") == b"+OK\r\n"
            for jti in ("new-1", "new-2", "new-3"):
                revoke_token(other, sub, jti)
            time.sleep(max(0.0, 0.4 - (time.monotonic() - frozen)))
        finally:
            harness.signal_process(polled.proc, signal.SIGCONT)

        for jti in ("new-1", "new-2", "new-3"):
            eventually_denied(envoy, token[jti], "revoked", bound_s=BOUND_S)
        # And from the view itself, resynchronised, not by callouts.
        wait_local(envoy, polled.port, good)
        before = verifier_checks(polled.port)
        for jti in ("kept", "new-1", "new-2", "new-3"):
            assert_denied(envoy.request("/", token[jti]), "revoked")
        assert verifier_checks(polled.port) == before, "decided by callouts, not by the view"
    finally:
        for part in reversed(parts):
            part.stop()
