#!/usr/bin/env python3
"""Refresh cost on the real verifier (target/debug or --bin) over a real redis-server: one refresh is
one address-budget script, one GET of the global not-before and the family script, then an ES256
signature. Sequential latency along one chain, and throughput with several chains in parallel.
Writes bench/results/refresh.md. Numbers only; nothing is asserted.

    .venv/bin/python bench/refresh_bench.py [--bin target/release/warden-verifier] [--refreshes 500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "e2e"))
import harness  # noqa: E402


def post(conn: http.client.HTTPConnection, path: str, body: str, headers: dict) -> tuple[int, dict]:
    conn.request("POST", path, body=body, headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    return answer.status, (json.loads(data) if data else {})


def chain(port: int, refresh: str, count: int, latencies: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"content-type": "application/x-www-form-urlencoded"}
    for _ in range(count):
        started = time.perf_counter()
        status, body = post(conn, "/v1/token", f"grant_type=refresh_token&refresh_token={refresh}", headers)
        latencies.append(time.perf_counter() - started)
        assert status == 200, (status, body)
        refresh = body["refresh_token"]
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", type=Path, default=harness.VERIFIER_BIN)
    parser.add_argument("--refreshes", type=int, default=500)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args()
    harness.VERIFIER_BIN = args.bin
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        key = workdir / "bench.jwk"
        subprocess.run([str(args.bin), "keygen", "--alg", "ES256", "--private-out", str(key),
                        "--jwks-out", str(workdir / "bench.jwks")], check=True)
        redis = harness.Redis(workdir).start()
        verifier = harness.Verifier(workdir, redis.url, extra_args=[
            "--signing-key-file", str(key), "--issuer", "https://bench", "--audience", "bench",
            "--refresh-rate-per-minute", "0"]).start()
        try:
            def session(i: int) -> str:
                answer = verifier.admin("POST", "/v1/admin/sessions", {"sub": f"bench-{i}"})
                assert answer.status == 201, answer
                return answer.json()["refresh_token"]

            sequential: list[float] = []
            chain(verifier.port, session(0), args.refreshes, sequential)

            parallel: list[float] = []
            threads = [threading.Thread(target=chain, args=(verifier.port, session(i + 1), args.refreshes, parallel))
                       for i in range(args.chains)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            verifier.stop()
            redis.stop()

    def ms(values: list[float], q: float) -> str:
        ordered = sorted(values)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.2f}"

    report = f"""# Refresh (`POST /v1/token`) on one verifier and one Redis

Measured by `bench/refresh_bench.py` on this machine (2 shared cores, other work running), binary
`{args.bin.relative_to(ROOT) if args.bin.is_relative_to(ROOT) else args.bin}`, ES256 signing,
rate limit off, keep-alive HTTP/1.1 from Python.

| run | refreshes | p50 ms | p90 ms | p99 ms | mean ms | throughput |
|---|---|---|---|---|---|---|
| one chain, sequential | {len(sequential)} | {ms(sequential, 0.5)} | {ms(sequential, 0.9)} | {ms(sequential, 0.99)} | {statistics.mean(sequential) * 1000:.2f} | {len(sequential) / sum(sequential):.0f}/s |
| {args.chains} chains in parallel | {len(parallel)} | {ms(parallel, 0.5)} | {ms(parallel, 0.9)} | {ms(parallel, 0.99)} | {statistics.mean(parallel) * 1000:.2f} | {len(parallel) / elapsed:.0f}/s |

Each refresh is three Redis round trips (address budget, global not-before, the family script)
and one signature.
"""
    out = ROOT / "bench/results/refresh.md"
    out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
