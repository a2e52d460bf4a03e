"""Stream mode (`verifier.mode: "stream"`): the verifier pushes revocation state to every Envoy
worker, which decides locally. Propagation to every worker (concurrency 2) is measured and
reported; faults never let a revoked token through: the verifier killed and restarted, Redis
killed and restarted empty, the feed trimmed past the filter's cursor, poll answers malformed,
out of sequence or lost (a small proxy in front of the real verifier corrupts only the feed)."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import harness
from answers import assert_denied, assert_unavailable
from configs import plugin_config
from harness import fresh_user, verifier_checks

MAX_STALENESS_MS = 1000
STREAM = {"path": "/v1/revocations", "max_staleness_ms": MAX_STALENESS_MS, "max_entries": 100000}
# Correctness bound, not a speed claim: the staleness bound plus a generous margin.
BOUND_S = MAX_STALENESS_MS / 1000 + 3.0


def revoke_token(verifier, sub: str, jti: str) -> None:
    answer = verifier.admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": jti, "exp": int(time.time()) + 600})
    assert answer.status == 200, answer


def eventually_denied(envoy, token: str, reason: str, bound_s: float = BOUND_S) -> float:
    """Requests until the first refusal (within `bound_s`); returns the seconds it took."""
    started = time.monotonic()
    while True:
        response = envoy.request("/", token)
        if response.status != 200 or time.monotonic() - started > bound_s:
            break
        time.sleep(0.005)
    assert_denied(response, reason)
    return time.monotonic() - started


def wait_local(envoy, verifier_port: int, token: str, timeout: float = 10.0) -> None:
    """Until requests with `token` pass with no check call: the view is synchronised and trusted."""
    def quiet() -> bool:
        before = verifier_checks(verifier_port)
        ok = all(envoy.request("/", token).status == 200 for _ in range(5))
        return ok and verifier_checks(verifier_port) == before
    harness.wait_until(quiet, "the stream view to answer locally", timeout=timeout)


def redis_command(port: int, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


@pytest.fixture
def stream_stack(own_stack):
    return own_stack(mode="stream", stream=dict(STREAM))


# --- propagation ------------------------------------------------------------------------------------

class Hammer:
    """Threads requesting the current token on a new connection each time (spread over workers)."""

    def __init__(self, envoy, threads: int = 4):
        self.envoy = envoy
        self.token = ""
        self.log: list[tuple[float, int]] = []  # (start, status)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        while not self.stop.is_set():
            token = self.token
            if not token:
                time.sleep(0.001)
                continue
            started = time.monotonic()
            try:
                status = self.envoy.request("/", token).status
            except (OSError, http.client.HTTPException):
                status = 0
            with self.lock:
                self.log.append((started, status, token))

    def __enter__(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)

    def statuses_since(self, since: float, token: str) -> list[tuple[float, int]]:
        with self.lock:
            return [(s, st) for s, st, tok in self.log if s >= since and tok == token]


def worker_connections(envoy) -> dict[str, int]:
    stats = envoy.stats(prefix=f"listener.127.0.0.1_{envoy.port}.worker_")
    return {name: value for name, value in stats.items() if name.endswith("downstream_cx_total")}


def test_propagation_to_every_worker(tmp_path, keys, stream_stack):
    """Revocations (token, user, session, all) while clients hammer both workers: time from the
    admin acknowledgement until no worker allows the token any more. Reported; asserted only
    against the correctness bound."""
    stack = stream_stack
    envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                          upstream_port=stack.upstream.port, verifier_port=stack.verifier.port, concurrency=2)
    envoy.start()
    samples: dict[str, list[float]] = {"token": [], "user": [], "session": [], "all": []}
    from_call: list[float] = []
    try:
        warm = keys.token("ES256", sub=fresh_user())
        wait_local(envoy, stack.verifier.port, warm)
        with Hammer(envoy) as hammer:
            for kind in ("token", "user", "session", "all"):
                for _ in range(5):
                    sub = fresh_user()
                    claims = {"sub": sub}
                    if kind == "session":
                        claims["sid"] = stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub}).json()["sid"]
                    if kind == "all":
                        claims["iat"] = int(time.time()) + 1
                        while time.time() < claims["iat"]:
                            time.sleep(0.01)
                    token = keys.token("ES256", **claims)
                    hammer.token = token
                    harness.wait_until(lambda: len([s for _, s in hammer.statuses_since(0, token) if s == 200]) >= 8,
                                       "the token to pass on the hammering clients", timeout=10)
                    before = time.monotonic()
                    if kind == "token":
                        revoke_token(stack.verifier, sub, claims.get("jti") or _jti(token))
                    elif kind == "user":
                        assert stack.verifier.admin("POST", "/v1/admin/revoke/user", {"sub": sub}).status == 200
                    elif kind == "session":
                        assert stack.verifier.admin("DELETE", f"/v1/admin/sessions/{claims['sid']}").status == 204
                    else:
                        assert stack.verifier.admin("POST", "/v1/admin/revoke/all").status == 200
                    acked = time.monotonic()
                    # Until every client saw a run of refusals.
                    harness.wait_until(lambda: _refused_run(hammer.statuses_since(acked, token), 12),
                                       f"{kind} revocation to reach every worker", timeout=BOUND_S + 5)
                    allowed_after = [s for s, st in hammer.statuses_since(acked, token) if st == 200]
                    last = max(allowed_after, default=acked)
                    samples[kind].append(last - acked)
                    from_call.append(max(last, before) - before)
                    assert last - acked <= BOUND_S, (kind, last - acked)
                    assert all(st in (200, 401) for _, st in hammer.statuses_since(before, token))
        per_worker = worker_connections(envoy)
        assert len(per_worker) == 2 and all(v > 0 for v in per_worker.values()), per_worker
    finally:
        envoy.stop()
    everything = sorted(x for v in samples.values() for x in v)
    p50 = statistics.median(everything)
    p99 = everything[min(len(everything) - 1, int(round(0.99 * (len(everything) - 1))))]
    print(f"\nstream propagation (s, from admin ack until no worker allows; {len(everything)} revocations, "
          f"concurrency 2): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {everything[-1] * 1000:.1f} ms; "
          + ", ".join(f"{k} max {max(v) * 1000:.1f} ms" for k, v in samples.items())
          + f"; from the start of the admin call: max {max(from_call) * 1000:.1f} ms")


def _jti(token: str) -> str:
    import jwt
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def _refused_run(statuses: list[tuple[float, int]], n: int) -> bool:
    """The last `n` answers are all refusals."""
    tail = [st for _, st in sorted(statuses)[-n:]]
    return len(tail) == n and all(st == 401 for st in tail)


def test_every_worker_serves_and_polls(tmp_path, keys, stream_stack):
    """With concurrency 2, both workers take connections and each decides locally."""
    stack = stream_stack
    envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                          upstream_port=stack.upstream.port, verifier_port=stack.verifier.port, concurrency=2)
    envoy.start()
    try:
        token = keys.token("ES256", sub=fresh_user())
        wait_local(envoy, stack.verifier.port, token)
        before = verifier_checks(stack.verifier.port)
        assert [envoy.request("/", token).status for _ in range(60)] == [200] * 60
        assert verifier_checks(stack.verifier.port) == before
        per_worker = worker_connections(envoy)
        assert len(per_worker) == 2 and all(v > 0 for v in per_worker.values()), per_worker
    finally:
        envoy.stop()


# --- faults -----------------------------------------------------------------------------------------

def test_verifier_killed_and_restarted(stream_stack, keys):
    stack = stream_stack
    sub = fresh_user()
    revoked = keys.token("ES256", sub=sub, jti="killed-verifier")
    good = keys.token("ES256", sub=fresh_user())
    wait_local(stack.envoy, stack.verifier.port, good)
    revoke_token(stack.verifier, sub, "killed-verifier")
    eventually_denied(stack.envoy, revoked, "revoked")

    stack.verifier.proc.stop(signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < BOUND_S:
        assert_not_allowed(stack.envoy.request("/", revoked))
        status = stack.envoy.request("/", good).status
        assert status in (200, 503)
        if status == 200:
            assert time.monotonic() - killed < MAX_STALENESS_MS / 1000 + 1.0, "trusted a stale view"
        time.sleep(0.02)
    # Past the staleness bound: callouts, which fail closed.
    assert_unavailable(stack.envoy.request("/", good))
    assert_unavailable(stack.envoy.request("/", revoked))

    stack.verifier.start()
    harness.wait_until(lambda: stack.envoy.request("/", good).status == 200, "the verifier to serve again", timeout=30)
    assert_denied(stack.envoy.request("/", revoked), "revoked")
    later = keys.token("ES256", sub=sub, jti="after-restart")
    revoke_token(stack.verifier, sub, "after-restart")
    eventually_denied(stack.envoy, later, "revoked")
    wait_local(stack.envoy, stack.verifier.port, good)


def assert_not_allowed(response) -> None:
    assert response.status in (401, 503), response


def test_redis_killed_and_restarted_empty(stream_stack, keys):
    stack = stream_stack
    sub = fresh_user()
    revoked = keys.token("ES256", sub=sub, jti="killed-redis")
    good = keys.token("ES256", sub=fresh_user())
    wait_local(stack.envoy, stack.verifier.port, good)
    revoke_token(stack.verifier, sub, "killed-redis")
    eventually_denied(stack.envoy, revoked, "revoked")

    stack.redis.proc.stop(signal.SIGKILL)
    killed = time.monotonic()
    while time.monotonic() - killed < BOUND_S:
        assert_not_allowed(stack.envoy.request("/", revoked))
        time.sleep(0.02)
    assert_unavailable(stack.envoy.request("/", good))

    # Same port, no data: the feed starts again with higher numbers, the filter's cursor is
    # unknown to it, and the filter takes a snapshot.
    stack.redis.start()
    harness.wait_until(lambda: stack.envoy.request("/", good).status == 200, "recovery after the Redis restart",
                       timeout=30)
    after = keys.token("ES256", sub=sub, jti="after-redis-restart")
    assert stack.envoy.request("/", after).status == 200
    revoke_token(stack.verifier, sub, "after-redis-restart")
    eventually_denied(stack.envoy, after, "revoked")
    wait_local(stack.envoy, stack.verifier.port, good)
    assert_denied(stack.envoy.request("/", after), "revoked")


def test_feed_trimmed_past_the_cursor(stream_stack, keys):
    """Envoy frozen while revocations happen and the feed is trimmed: the filter's cursor is gone
    from the feed; it gets a snapshot and then denies all of them locally (no check calls)."""
    stack = stream_stack
    sub = fresh_user()
    tokens = {jti: keys.token("ES256", sub=sub, jti=jti) for jti in ("trim-a", "trim-b", "trim-c")}
    good = keys.token("ES256", sub=fresh_user())
    wait_local(stack.envoy, stack.verifier.port, good)

    harness.signal_process(stack.envoy.proc, signal.SIGSTOP)
    try:
        revoke_token(stack.verifier, sub, "trim-a")
        revoke_token(stack.verifier, sub, "trim-b")
        assert redis_command(stack.redis.port, "XTRIM", "warden:{feed}:log", "MAXLEN", "0").startswith(b":")
        revoke_token(stack.verifier, sub, "trim-c")
        assert redis_command(stack.redis.port, "XLEN", "warden:{feed}:log") == b":1\r\n"
    finally:
        harness.signal_process(stack.envoy.proc, signal.SIGCONT)
    for token in tokens.values():
        eventually_denied(stack.envoy, token, "revoked")
    wait_local(stack.envoy, stack.verifier.port, good)
    before = verifier_checks(stack.verifier.port)
    for token in tokens.values():
        assert_denied(stack.envoy.request("/", token), "revoked")
    assert verifier_checks(stack.verifier.port) == before, "decided by callouts, not by the view"


class FeedProxy:
    """Forwards everything to the real verifier, except that GET /v1/revocations answers are
    replaced according to `fault` (None: passed through)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.fault: str | None = None
        self.polls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.forward()

            def do_POST(self) -> None:
                self.forward()

            def forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                is_poll = self.path.startswith("/v1/revocations")
                fault = proxy.fault if is_poll else None
                if is_poll:
                    proxy.polls += 1
                if fault == "lost":
                    time.sleep(0.05)
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=40)
                try:
                    conn.request(self.command, self.path, body=body,
                                 headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                    answer = conn.getresponse()
                    status, payload = answer.status, answer.read()
                finally:
                    conn.close()
                if fault is not None and status == 200:
                    payload = corrupt(fault, payload)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up waiting (its timeout, or Envoy stopping)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FeedProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def corrupt(fault: str, payload: bytes) -> bytes:
    answer = json.loads(payload)
    if fault == "malformed":
        return payload[: len(payload) // 2]
    if fault == "unknown_change":
        if answer["kind"] == "changes":
            seq = answer["after"] + 1
            answer.update(seq=seq, changes=[{"seq": seq, "change": {"type": "revoke_everything_later"}}])
        else:
            answer["kind"] = "snapshot_v2"
        return json.dumps(answer).encode()
    if fault == "gap":
        if answer["kind"] == "changes":
            seq = answer["after"] + 2
            answer.update(seq=seq, changes=[{"seq": seq, "change": {"type": "not_before", "not_before": 1}}])
        else:
            answer["jtis"] = "not a list"
        return json.dumps(answer).encode()
    raise AssertionError(fault)


@pytest.mark.parametrize("fault", ["malformed", "unknown_change", "gap", "lost"])
def test_bad_poll_answers_fall_back_to_callouts(own_stack, tmp_path, keys, fault):
    """Once poll answers go bad, the view goes stale within max_staleness_ms: requests call the
    verifier again (so a revocation the view never received is still refused), and the view
    resynchronises when answers are good again."""
    stack = own_stack()  # callout-mode stack: its verifier and Redis are what the proxy fronts
    with FeedProxy(stack.verifier.port) as proxy:
        envoy = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                              upstream_port=stack.upstream.port, verifier_port=proxy.port)
        envoy.start()
        try:
            sub = fresh_user()
            good = keys.token("ES256", sub=fresh_user())
            wait_local(envoy, stack.verifier.port, good)
            proxy.fault = fault
            polls = proxy.polls
            time.sleep(MAX_STALENESS_MS / 1000 + 0.5)
            assert proxy.polls > polls
            revoked = keys.token("ES256", sub=sub, jti=f"bad-poll-{fault}")
            assert envoy.request("/", revoked).status == 200
            revoke_token(stack.verifier, sub, f"bad-poll-{fault}")
            # No propagation needed: the stale view is not used, the callout refuses at once.
            assert_denied(envoy.request("/", revoked), "revoked")
            before = verifier_checks(stack.verifier.port)
            assert envoy.request("/", good).status == 200
            assert verifier_checks(stack.verifier.port) == before + 1
            proxy.fault = None
            wait_local(envoy, stack.verifier.port, good)
            assert_denied(envoy.request("/", revoked), "revoked")
        finally:
            envoy.stop()


def test_envoy_hot_restart(stream_stack, keys, tmp_path):
    """Envoy hot restart (epoch 0 hands its sockets to epoch 1): the new VMs start without a view
    and call out until synchronised, the old ones drain; a revoked token never passes, and a
    revocation after the handover reaches the new epoch."""
    stack = stream_stack
    # The stack's Envoy runs with --disable-hot-restart; a hot-restartable one on its own config.
    template = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                             upstream_port=stack.upstream.port, verifier_port=stack.verifier.port)
    base_id = str(template.port)

    def epoch(n: int) -> harness.Process:
        argv = [str(harness.ENVOY_BIN), "-c", str(template.config_path), "--concurrency", "1",
                "--base-id", base_id, "--restart-epoch", str(n), "--drain-time-s", "1",
                "--parent-shutdown-time-s", "3", "--log-level", "info"]
        return harness.Process(f"envoy-epoch{n}:{template.port}", argv, tmp_path / f"envoy-epoch{n}.log").start()

    def ready(proc: harness.Process) -> None:
        harness.wait_until(lambda: harness.http_request(template.admin_port, "GET", "/ready", timeout=2).status == 200,
                           "envoy ready", proc=proc)

    sub = fresh_user()
    revoked = keys.token("ES256", sub=sub, jti="hot-restart")
    good = keys.token("ES256", sub=fresh_user())
    revoke_token(stack.verifier, sub, "hot-restart")
    first = epoch(0)
    second = None
    try:
        ready(first)
        wait_local(template, stack.verifier.port, good)
        assert_denied(template.request("/", revoked), "revoked")
        second = epoch(1)
        handover = time.monotonic()
        statuses = []
        # Until epoch 0 is gone: epoch 1 initialises (compiles the wasm), takes the sockets, and
        # epoch 0 drains and exits after --parent-shutdown-time-s.
        while time.monotonic() - handover < 90 and not first.exited():
            statuses.append(template.request("/", revoked).status)
            assert template.request("/", good).status == 200
            time.sleep(0.02)
        assert first.exited(), "epoch 0 did not hand over"
        assert statuses and all(s == 401 for s in statuses), statuses
        ready(second)
        later = keys.token("ES256", sub=sub, jti="after-hot-restart")
        assert template.request("/", later).status == 200
        revoke_token(stack.verifier, sub, "after-hot-restart")
        eventually_denied(template, later, "revoked")
        wait_local(template, stack.verifier.port, good)
        assert_denied(template.request("/", revoked), "revoked")
    finally:
        for proc in (second, first):
            if proc is not None:
                proc.stop()


def test_past_max_entries_the_filter_calls_out(own_stack, keys):
    """A view over `max_entries` is dropped, not trimmed: every request calls the verifier, so no
    revocation is forgotten."""
    stack = own_stack(mode="stream", stream=dict(STREAM, max_entries=2))
    sub = fresh_user()
    good = keys.token("ES256", sub=fresh_user())
    wait_local(stack.envoy, stack.verifier.port, good)
    revoked = []
    for i in range(3):
        jti = f"overflow-{i}"
        revoked.append(keys.token("ES256", sub=sub, jti=jti))
        revoke_token(stack.verifier, sub, jti)
    for token in revoked:
        eventually_denied(stack.envoy, token, "revoked")
    time.sleep(MAX_STALENESS_MS / 1000)
    before = verifier_checks(stack.verifier.port)
    for token in revoked:
        assert_denied(stack.envoy.request("/", token), "revoked")
    assert stack.envoy.request("/", good).status == 200
    assert verifier_checks(stack.verifier.port) - before == 4, "each request called out"
    assert "over max_entries" in stack.envoy.proc.log_text()


# --- sessions: the view allows only sessions it knows to be live --------------------------------------

def verifier_shaped_sid(sub: str) -> str:
    """A sid of the verifier's shape in `sub`'s own slot (`<22 random>.<22 user tag>`)."""
    import base64
    import hashlib
    import secrets
    tag = base64.urlsafe_b64encode(hashlib.sha256(sub.encode()).digest()).decode().rstrip("=")[:22]
    random_half = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    return f"{random_half}.{tag}"


def test_sessions_in_stream_mode_answer_as_in_callout_mode(tmp_path, keys, stream_stack):
    """(a) An own-slot sid of the verifier's shape that never existed: 401 `session_missing`, the same
    answer (status, body, WWW-Authenticate) as a callout-mode Envoy on the same verifier. (b) A live
    session's token passes with no check call. (c) Deleted, it is refused within the bound, locally."""
    stack = stream_stack
    callout = harness.Envoy(tmp_path, plugin_config(keys.jwks()), upstream_port=stack.upstream.port,
                            verifier_port=stack.verifier.port).start()
    try:
        good = keys.token("ES256", sub=fresh_user())
        wait_local(stack.envoy, stack.verifier.port, good)

        sub = fresh_user()
        ghost = keys.token("ES256", sub=sub, sid=verifier_shaped_sid(sub))
        in_stream, in_callout = stack.envoy.request("/", ghost), callout.request("/", ghost)
        assert_denied(in_callout, "session_missing")
        assert_denied(in_stream, "session_missing")
        assert (in_stream.status, in_stream.header("www-authenticate"), in_stream.json()) == \
            (in_callout.status, in_callout.header("www-authenticate"), in_callout.json())

        sid = stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub}).json()["sid"]
        token = keys.token("ES256", sub=sub, sid=sid)
        assert callout.request("/", token).status == 200
        wait_local(stack.envoy, stack.verifier.port, token)
        before = verifier_checks(stack.verifier.port)
        assert [stack.envoy.request("/", token).status for _ in range(20)] == [200] * 20
        assert verifier_checks(stack.verifier.port) == before, "a live session needs no check call"

        assert stack.verifier.admin("DELETE", f"/v1/admin/sessions/{sid}").status == 204
        eventually_denied(stack.envoy, token, "session_missing")
        assert_denied(callout.request("/", token), "session_missing")
        wait_local(stack.envoy, stack.verifier.port, good)
        before = verifier_checks(stack.verifier.port)
        assert_denied(stack.envoy.request("/", token), "session_missing")
        assert verifier_checks(stack.verifier.port) == before, "the end is decided locally"
    finally:
        callout.stop()


def test_a_session_expired_by_its_ttl_is_refused_as_in_callout_mode(stream_stack, keys):
    """Redis drops the record at its expiry and nothing is announced: the view stops allowing the sid
    at the until it was announced with, and the verifier answers."""
    stack = stream_stack
    sub = fresh_user()
    created = stack.verifier.admin("POST", "/v1/admin/sessions", {"sub": sub, "ttl_seconds": 2}).json()
    token = keys.token("ES256", sub=sub, sid=created["sid"])
    wait_local(stack.envoy, stack.verifier.port, token)
    while time.time() < created["expires_at"] + 0.2:
        time.sleep(0.05)
    assert_denied(stack.envoy.request("/", token), "session_missing")


FEED_TOKEN = "feed-token-0123456789abcdef"


def test_feed_token_guards_the_feed_and_the_filter_sends_it(tmp_path, keys):
    """Finding 7: with `--feed-token-file` the feed (every revoked sub/jti, every live sid) answers
    only its bearer token (401 with `WWW-Authenticate: Bearer` otherwise, JSON error); a filter
    configured with `verifier.stream.feed_token` polls with it, synchronises and decides locally,
    and revocations reach it. A filter without it never trusts a view (it calls out instead)."""
    token_file = tmp_path / "feed-token"
    token_file.write_text(FEED_TOKEN + "\n")
    redis = harness.Redis(tmp_path)
    redis.start()
    verifier = harness.Verifier(tmp_path, redis.url, extra_args=["--feed-token-file", str(token_file)])
    verifier.start()
    upstream = harness.EchoUpstream(tmp_path)
    upstream.start()
    with_token = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream",
                                                       stream=dict(STREAM, feed_token=FEED_TOKEN)),
                               upstream_port=upstream.port, verifier_port=verifier.port)
    without = harness.Envoy(tmp_path, plugin_config(keys.jwks(), mode="stream", stream=dict(STREAM)),
                            upstream_port=upstream.port, verifier_port=verifier.port)
    try:
        for headers in ({}, {"authorization": "Bearer wrong-token-0123456789"},
                        {"authorization": FEED_TOKEN}):
            answer = harness.http_request(verifier.port, "GET", "/v1/revocations?max_live=10", headers=headers)
            assert answer.status == 401, answer
            assert answer.header("www-authenticate").startswith("Bearer "), answer
            assert answer.json()["error"] == "unauthorized", answer
        answer = harness.http_request(verifier.port, "GET", "/v1/revocations",
                                      headers={"authorization": f"Bearer {FEED_TOKEN}"})
        assert answer.status == 200 and answer.json()["kind"] == "snapshot", answer

        with_token.start()
        sub = fresh_user()
        revoked = keys.token("ES256", sub=sub, jti="feed-token-revoked")
        good = keys.token("ES256", sub=fresh_user())
        wait_local(with_token, verifier.port, good)
        revoke_token(verifier, sub, "feed-token-revoked")
        eventually_denied(with_token, revoked, "revoked")

        without.start()
        assert without.request("/", good).status == 200
        before = verifier_checks(verifier.port)
        for _ in range(5):
            assert without.request("/", good).status == 200
        assert verifier_checks(verifier.port) - before == 5, "a filter refused by the feed must call out"
    finally:
        for part in (without, with_token, upstream, verifier, redis):
            part.stop()
