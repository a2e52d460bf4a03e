#!/usr/bin/env python3
"""Soak: the whole stack (Redis from deploy/redis.conf, the verifier, the echo upstream, Envoy with
the release .wasm) under minutes of load, with revocations interleaved and Redis killed and
restarted now and then.

- Client threads send requests on keep-alive connections, each with a token picked from a pool of
  good tokens and of recently revoked ones.
- A revoker thread makes a token, uses it, then revokes it (by jti, by user version, or by deleting
  its session, in turn) and records when the verifier acknowledged the revocation. From then on
  the clients keep sending that token.
- Every `--fault-every` seconds Redis gets SIGKILL and is restarted on the same port and directory
  (AOF, fsync on every write). 503s sent between the kill and the verifier's recovery (plus the
  filter's verifier timeout) are counted as injected-fault answers.

It reports and checks:
  revoked tokens accepted after acknowledgement  a 2xx for a request sent after the ack (must be 0)
  5xx outside injected faults                     any 5xx, or transport error, outside a fault (must be 0)
and samples the verifier's RSS, Envoy's RSS and Envoy's /memory over time. Writes
bench/results/soak.md; exits 1 if either count is not 0.

Run: make soak [SOAK_SECONDS=300]  (or .venv/bin/python bench/soak.py --seconds 300)
Not part of `make test`.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import random
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "e2e"))
import harness  # noqa: E402
from configs import plugin_config  # noqa: E402
from tokens import KeySet  # noqa: E402

VERIFIER_TIMEOUT_MS = 1000
RECENT_REVOKED = 16  # how many of the latest revoked tokens the clients keep sending
GOOD_TOKENS = 32


@dataclass
class Revoked:
    token: str
    kind: str
    reason: str
    acked: float  # time.monotonic() when the verifier's 200/204 had arrived


@dataclass
class Fault:
    killed: float
    recovered: float | None = None

    def overlaps(self, sent: float, answered: float, grace: float) -> bool:
        """Whether a request was in flight at any moment of the fault (a request sent just before
        the kill can reach Redis after it)."""
        end = self.recovered + grace if self.recovered is not None else float("inf")
        return sent <= end and answered >= self.killed


@dataclass
class Totals:
    requests: int = 0
    by_status: collections.Counter = field(default_factory=collections.Counter)
    revoked_requests_after_ack: int = 0
    revoked_accepted_after_ack: list = field(default_factory=list)
    wrong_reason: list = field(default_factory=list)
    transport_errors: int = 0
    server_errors: list = field(default_factory=list)  # (sent, status) of every 5xx / transport error


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.keys = KeySet()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.fault_lock = threading.Lock()  # held while Redis is down: no revocation is attempted then
        self.revoked: list[Revoked] = []
        self.faults: list[Fault] = []
        # (sent, answered, status, revoked index or None, 401 reason)
        self.results: list[tuple[float, float, int, int | None, str | None]] = []
        self.admin_failures: list[str] = []
        self.samples: list[dict] = []
        self.started = time.monotonic()
        self.good = [self.keys.token("ES256", sub=f"soak-good-{i}", exp=int(time.time()) + 86400)
                     for i in range(GOOD_TOKENS)]
        # --no-persistence runs Redis without AOF: a control showing the soak catches lost revocations.
        extra = ["--appendonly", "no", "--save", ""] if args.no_persistence else []
        self.redis = harness.PersistentRedis(workdir, extra_args=extra)
        self.verifier: harness.Verifier | None = None
        self.envoy: harness.Envoy | None = None
        self.upstream: harness.EchoUpstream | None = None

    # --- stack ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.redis.start()
        self.verifier = harness.Verifier(self.workdir, self.redis.url).start()
        self.upstream = harness.EchoUpstream(self.workdir).start()
        self.envoy = harness.Envoy(self.workdir, plugin_config(self.keys.jwks(), verifier_timeout_ms=VERIFIER_TIMEOUT_MS),
                                   upstream_port=self.upstream.port, verifier_port=self.verifier.port,
                                   concurrency=self.args.envoy_workers).start()

    def shutdown(self) -> None:
        for part in (self.envoy, self.upstream, self.verifier, self.redis):
            if part is not None:
                part.stop()

    # --- load -----------------------------------------------------------------------------------
    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        conn: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            with self.lock:
                recent = list(range(max(0, len(self.revoked) - RECENT_REVOKED), len(self.revoked)))
            index = rng.choice(recent) if recent and rng.random() < 0.4 else None
            token = self.revoked[index].token if index is not None else rng.choice(self.good)
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.envoy.port, timeout=15)
                conn.request("GET", "/soak", headers={"authorization": f"Bearer {token}"})
                answer = conn.getresponse()
                body = answer.read()
                status = answer.status
                reason = None
                if status == 401:
                    reason = json.loads(body).get("error_description")
                if answer.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ValueError):
                status, reason = -1, None
                if conn is not None:
                    conn.close()
                conn = None
            answered = time.monotonic()
            with self.lock:
                self.results.append((sent, answered, status, index, reason))
        if conn is not None:
            conn.close()

    # --- revocations ------------------------------------------------------------------------------
    def revoker(self) -> None:
        kinds = ["jti", "user", "session"]
        n = 0
        while not self.stop.wait(self.args.revoke_every):
            with self.fault_lock:
                kind = kinds[n % len(kinds)]
                try:
                    entry = self.revoke_one(kind, n)
                except (OSError, http.client.HTTPException) as err:
                    self.admin_failures.append(f"{kind} #{n}: {err!r}")
                    entry = None
            if entry is not None:
                with self.lock:
                    self.revoked.append(entry)
            n += 1

    def revoke_one(self, kind: str, n: int) -> Revoked | None:
        admin = self.verifier.admin
        sub = f"soak-{kind}-{n}"
        exp = int(time.time()) + 3600
        if kind == "jti":
            token = self.keys.token("ES256", sub=sub, jti=f"soak-jti-{n}", exp=exp)
            revoke = ("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": f"soak-jti-{n}", "exp": exp})
            reason = "revoked"
        elif kind == "user":
            token = self.keys.token("ES256", sub=sub, ver=0, exp=exp)
            revoke = ("POST", "/v1/admin/revoke/user", {"sub": sub})
            reason = "stale_version"
        else:
            created = admin("POST", "/v1/admin/sessions", {"sub": sub, "device": "soak"})
            if created.status != 201:
                self.admin_failures.append(f"create session #{n}: {created}")
                return None
            sid = created.json()["sid"]
            token = self.keys.token("ES256", sub=sub, sid=sid, exp=exp)
            revoke = ("DELETE", f"/v1/admin/sessions/{sid}", None)
            reason = "session_missing"
        # The token works before its revocation (so the clients see it change).
        before = self.envoy.request("/soak", token)
        if before.status != 200:
            self.admin_failures.append(f"{kind} #{n} before revocation: {before}")
        answer = admin(*revoke)
        acked = time.monotonic()
        if answer.status not in (200, 204):
            self.admin_failures.append(f"{kind} #{n} revocation: {answer}")
            return None
        return Revoked(token, kind, reason, acked)

    # --- faults ------------------------------------------------------------------------------------
    def injector(self) -> None:
        if self.args.fault_every <= 0:
            return
        while not self.stop.wait(self.args.fault_every):
            with self.fault_lock:
                fault = Fault(killed=time.monotonic())
                self.faults.append(fault)
                self.redis.kill()
                if self.stop.wait(self.args.fault_seconds):
                    self.redis.start()
                    fault.recovered = time.monotonic()
                    return
                self.redis.start()
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if harness.http_request(self.verifier.port, "GET", "/readyz", timeout=2).status == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.05)
                fault.recovered = time.monotonic()

    # --- memory ------------------------------------------------------------------------------------
    def sampler(self, started: float) -> None:
        while True:
            self.samples.append(self.sample(started))
            if self.stop.wait(self.args.sample_every):
                self.samples.append(self.sample(started))
                return

    def sample(self, started: float) -> dict:
        memory = {}
        try:
            memory = harness.http_request(self.envoy.admin_port, "GET", "/memory", timeout=5).json()
        except (OSError, ValueError, http.client.HTTPException):
            pass
        with self.lock:
            count = len(self.results)
        redis_pid = self.redis.proc.popen.pid if self.redis.proc and self.redis.proc.popen else None
        return {
            "t": time.monotonic() - started,
            "requests": count,
            "verifier_rss": harness.rss_kib(self.verifier.proc.popen.pid),
            "envoy_rss": harness.rss_kib(self.envoy.proc.popen.pid),
            "envoy_allocated": int(memory.get("allocated", 0)) // 1024,
            "envoy_heap": int(memory.get("heap_size", 0)) // 1024,
            "redis_rss": harness.rss_kib(redis_pid) if redis_pid else None,
        }

    # --- run and judge -------------------------------------------------------------------------------
    def run(self) -> tuple[Totals, float]:
        started = self.started = time.monotonic()
        threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.args.clients)]
        threads += [threading.Thread(target=self.revoker, daemon=True),
                    threading.Thread(target=self.injector, daemon=True),
                    threading.Thread(target=self.sampler, args=(started,), daemon=True)]
        for thread in threads:
            thread.start()
        try:
            self.stop.wait(self.args.seconds)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        return self.judge(), time.monotonic() - started

    def judge(self) -> Totals:
        grace = VERIFIER_TIMEOUT_MS / 1000 + 1.0
        totals = Totals()
        for sent, answered, status, index, reason in self.results:
            totals.requests += 1
            totals.by_status[status] += 1
            if index is not None:
                entry = self.revoked[index]
                if sent > entry.acked:
                    totals.revoked_requests_after_ack += 1
                    if 200 <= status < 300:
                        totals.revoked_accepted_after_ack.append((sent - entry.acked, entry.kind, index))
                    elif status == 401 and reason != entry.reason:
                        totals.wrong_reason.append((entry.kind, reason))
            if status >= 500 or status < 0:
                if status < 0:
                    totals.transport_errors += 1
                if not any(f.overlaps(sent, answered, grace) for f in self.faults):
                    totals.server_errors.append((sent, status))
        return totals


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def memory_summary(samples: list[dict], elapsed: float) -> str:
    """First and last value of each memory column (growth over the run is what a leak shows)."""
    parts = []
    for key, label in (("verifier_rss", "verifier RSS"), ("envoy_rss", "Envoy RSS"),
                       ("envoy_allocated", "Envoy allocated"), ("redis_rss", "Redis RSS")):
        values = [s[key] for s in samples if s[key] is not None]
        if values:
            parts.append(f"{label} {mib(values[0])} → {mib(values[-1])} MiB (max {mib(max(values))})")
    return f"Memory from start to end of the {elapsed:.0f} s: " + "; ".join(parts) + "."


def report(soak: Soak, totals: Totals, elapsed: float, out: Path) -> str:
    args = soak.args
    kinds = collections.Counter(r.kind for r in soak.revoked)
    fault_5xx = sum(1 for _, _, status, _, _ in soak.results if status >= 500 or status < 0) - len(totals.server_errors)
    accepted_tokens = len({index for _, _, index in totals.revoked_accepted_after_ack})
    recoveries = [f.recovered - f.killed for f in soak.faults if f.recovered is not None]
    lines = [
        "# Soak: load with revocations and Redis restarts",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared with other work). `make soak SOAK_SECONDS={args.seconds}`: "
        f"{args.clients} client threads on keep-alive connections, Envoy `--concurrency {args.envoy_workers}`, "
        f"verifier `timeout_ms` {VERIFIER_TIMEOUT_MS}, Redis from `deploy/redis.conf` "
        f"({'persistence OFF (control run)' if args.no_persistence else 'AOF, `appendfsync always`'}), "
        f"a revocation every {args.revoke_every} s, Redis SIGKILLed and restarted every {args.fault_every} s "
        f"(down {args.fault_seconds} s).",
        "",
        "| check | value | required |",
        "| --- | ---: | ---: |",
        f"| revoked tokens accepted after acknowledgement | {accepted_tokens} "
        f"({len(totals.revoked_accepted_after_ack)} requests) | 0 |",
        f"| 5xx (or transport errors) outside injected faults | {len(totals.server_errors)} | 0 |",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| duration | {elapsed:.0f} s |",
        f"| requests | {totals.requests} ({totals.requests / max(elapsed, 1):.0f}/s) |",
        f"| answers | {', '.join(f'{k}: {v}' for k, v in sorted(totals.by_status.items()))} |",
        f"| revocations acknowledged | {len(soak.revoked)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) |",
        f"| requests with a revoked token sent after its acknowledgement | {totals.revoked_requests_after_ack} |",
        f"| of those denied with another reason than the revocation's | {len(totals.wrong_reason)} |",
        f"| admin calls failed (outside faults: none attempted during one) | {len(soak.admin_failures)} |",
        f"| Redis kills | {len(soak.faults)} (503s during them: {fault_5xx}; "
        f"kill → verifier ready again: {', '.join(f'{r:.1f} s' for r in recoveries) or '-'}) |",
        "",
        memory_summary(soak.samples, elapsed),
        "",
        "Memory over time (MiB; Envoy `allocated` and `heap_size` from its admin `/memory`; the verifier is "
        "the debug build `make` uses):",
        "",
        "| t (s) | requests | verifier RSS | Envoy RSS | Envoy allocated | Envoy heap | Redis RSS |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    step = max(1, len(soak.samples) // 20)
    shown = soak.samples[::step]
    if soak.samples and shown[-1] is not soak.samples[-1]:
        shown.append(soak.samples[-1])
    for s in shown:
        lines.append(f"| {s['t']:.0f} | {s['requests']} | {mib(s['verifier_rss'])} | {mib(s['envoy_rss'])} | "
                     f"{mib(s['envoy_allocated'])} | {mib(s['envoy_heap'])} | {mib(s['redis_rss'])} |")
    if totals.revoked_accepted_after_ack:
        lines += ["", "Accepted after acknowledgement (seconds after the ack, kind):",
                  "", *(f"- {d:.3f} s, {k}" for d, k, _ in totals.revoked_accepted_after_ack[:50])]
    if totals.server_errors:
        lines += ["", f"5xx outside faults (first 20 of {len(totals.server_errors)}):", "",
                  *(f"- status {st} at t={t - soak.started:.1f} s" for t, st in totals.server_errors[:20])]
    if soak.admin_failures:
        lines += ["", "Admin failures:", "", *(f"- {f}" for f in soak.admin_failures[:20])]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", "300")))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--envoy-workers", type=int, default=2)
    parser.add_argument("--revoke-every", type=float, default=0.5)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between Redis kills; 0: none")
    parser.add_argument("--fault-seconds", type=float, default=2.0, help="how long Redis stays down")
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--no-persistence", action="store_true",
                        help="Redis without AOF (a control: revocations are lost at each kill)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/soak.md")
    args = parser.parse_args()

    workdir = ROOT / "target" / "soak"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    soak = Soak(args, workdir)
    signal.signal(signal.SIGTERM, lambda *_: soak.stop.set())
    try:
        soak.start()
        print(f"soak: {args.seconds} s, {args.clients} clients, logs in {workdir}", flush=True)
        totals, elapsed = soak.run()
    finally:
        soak.shutdown()
    print(report(soak, totals, elapsed, args.out), end="")
    print(f"soak: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    failed = bool(totals.revoked_accepted_after_ack) or bool(totals.server_errors)
    if failed:
        print("soak: FAILED (revoked token accepted after acknowledgement, or 5xx outside faults)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
