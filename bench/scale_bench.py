#!/usr/bin/env python3
"""Verifier checks/s against one Redis and against a 3-master Redis Cluster, on this machine,
with the same verifier binary, the same wrk connections and the same request mix; plus Redis
memory per revoked jti, per session and per user.

For each topology: start Redis, start `warden-verifier serve` (release build), revoke one jti of
each of 1000 users, then wrk POSTs /v1/check rotating over those 1000 users (one check in ten
asks for a revoked jti). Redis CPU time is read from /proc during the run, so the results also
give checks per Redis CPU-second ("per Redis core").

Memory: a fresh Redis, N revocations / sessions / users made through the admin API, then
`INFO memory` used_memory delta / N and `MEMORY USAGE` of one key of each kind.

Run: make bench-scale  (or .venv/bin/python bench/scale_bench.py [--seconds 10] [--verifier PATH])
Writes bench/results/scale.md. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "e2e"))
from harness import Redis, RedisCluster, free_port  # noqa: E402

VERIFIER = ROOT / "target" / "image" / "warden-verifier"  # cargo build --profile image
ADMIN_TOKEN = "bench-admin-token-0123456789"
USERS = 1000

WRK_SCRIPT = r"""
local users = %d
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local u = n %% users
  local jti = (n %% 10 == 0) and "revoked" or ("j" .. n)
  local body = string.format('{"sub":"user%%d","jti":"%%s","iat":%%d,"exp":%%d}', u, jti, now, now + 3600)
  return wrk.format(nil, "/v1/check", nil, body)
end
now = os.time()
""" % USERS


def redis_cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], check=True,
                          capture_output=True, text=True).stdout.strip()


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


class Verifier:
    def __init__(self, url: str, workdir: Path):
        token = workdir / "admin-token"
        token.write_text(ADMIN_TOKEN)
        self.check, self.admin = free_port(), free_port()
        env = dict(os.environ, WARDEN_LOG="warn")
        self.proc = subprocess.Popen(
            [str(VERIFIER), "serve", "--listen", f"127.0.0.1:{self.check}",
             "--admin-listen", f"127.0.0.1:{self.admin}", "--redis-url", url,
             "--admin-token-file", str(token)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.check}/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("verifier not ready")

    def admin_post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.admin}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read() or b"{}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wrk(port: int, seconds: int, threads: int, connections: int, script: Path) -> tuple[float, str]:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s",
                          str(script), f"http://127.0.0.1:{port}/"],
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} failed checks during the run:\n{out}")
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    return rate, latency.group(1) if latency else "?"


def throughput(name: str, url: str, redis_pids: list[int], args, workdir: Path) -> dict:
    v = Verifier(url, workdir)
    try:
        for u in range(USERS):
            v.admin_post("/v1/admin/revoke/token", {"sub": f"user{u}", "jti": "revoked"})
        script = workdir / "check.lua"
        script.write_text(WRK_SCRIPT)
        wrk(v.check, 2, args.threads, args.connections, script)  # warm-up: connections, scripts
        before = cpu_seconds(redis_pids)
        rate, latency = wrk(v.check, args.seconds, args.threads, args.connections, script)
        redis_cpu = cpu_seconds(redis_pids) - before
    finally:
        v.stop()
    per_core = rate * args.seconds / redis_cpu if redis_cpu > 0 else float("nan")
    print(f"{name}: {rate:.0f} checks/s, mean latency {latency}, Redis CPU {redis_cpu:.1f}s "
          f"→ {per_core:.0f} checks per Redis CPU-second", flush=True)
    return {"name": name, "rate": rate, "latency": latency, "redis_cpu": redis_cpu,
            "per_core": per_core}


def memory(workdir: Path, n: int) -> dict:
    redis = Redis(workdir).start()
    port = redis.port
    v = Verifier(redis.url, workdir)
    result = {}
    try:
        def used() -> int:
            return int(re.search(r"used_memory:(\d+)", redis_cli(port, "INFO", "memory")).group(1))

        def sample(pattern: str) -> int:
            key = redis_cli(port, "--scan", "--pattern", pattern).splitlines()[0]
            return int(redis_cli(port, "MEMORY", "USAGE", key, "SAMPLES", "0"))

        exp = int(time.time()) + 3600
        base = used()
        for i in range(n):  # a jti as IdPs make them: a UUID
            v.admin_post("/v1/admin/revoke/token",
                         {"sub": f"user{i % 100}", "jti": f"0b6f6a52-3d0c-4a4e-9d1e-{i:012d}",
                          "exp": exp})
        result["jti"] = ((used() - base) / n, sample("warden:*:jti:*"))
        base = used()
        for i in range(n):  # one session per user, with a device label
            v.admin_post("/v1/admin/sessions", {"sub": f"suser{i}", "device": "Firefox on Linux"})
        per_session = (used() - base) / n
        result["session"] = (per_session, sample("warden:*:session:*") + sample("warden:*:sessions"))
        base = used()
        for i in range(n):  # revoke-user: the version key
            v.admin_post("/v1/admin/revoke/user", {"sub": f"vuser{i}"})
        result["user"] = ((used() - base) / n, sample("warden:*:ver"))
    finally:
        v.stop()
        redis.stop()
    return result


def main() -> None:
    global VERIFIER
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--memory-n", type=int, default=5000)
    parser.add_argument("--verifier", type=Path, default=VERIFIER,
                        help="the warden-verifier binary (default: the `image` profile build)")
    args = parser.parse_args()
    VERIFIER = args.verifier
    if not VERIFIER.exists():
        subprocess.run(["cargo", "build", "--profile", "image", "-p", "warden-verifier"], cwd=ROOT,
                       check=True)
    for tool in ("wrk", "redis-server", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (Debian: apt-get install wrk redis-server)")
    with tempfile.TemporaryDirectory(prefix="warden-scale-bench-") as tmp:
        workdir = Path(tmp)
        runs = []
        redis = Redis(workdir).start()
        try:
            runs.append(throughput("single Redis", redis.url, [redis.proc.popen.pid], args, workdir))
        finally:
            redis.stop()
        cluster = RedisCluster(workdir).start()
        try:
            runs.append(throughput("Redis Cluster, 3 masters", cluster.url(), cluster.pids(), args,
                                   workdir))
        finally:
            cluster.stop()
        mem = memory(workdir, args.memory_n)

    version = subprocess.run(["redis-server", "--version"], capture_output=True,
                             text=True).stdout.split()[2].removeprefix("v=")
    try:
        binary = VERIFIER.resolve().relative_to(ROOT)
    except ValueError:
        binary = VERIFIER
    lines = [
        "# Verifier at scale: checks/s by Redis topology, Redis memory per entry",
        "",
        f"Written by `bench/scale_bench.py` on {time.strftime('%Y-%m-%d')}: {platform.machine()}, "
        f"{os.cpu_count()} cores shared by the verifier, Redis and wrk (and other work on this "
        f"machine: numbers are noisy; compare rows, not absolutes). Redis {version}; one "
        f"`warden-verifier` (`{binary}`); wrk -t{args.threads} -c{args.connections} "
        f"-d{args.seconds}s POST /v1/check over {USERS} users, one check in ten for a revoked jti; "
        "every answer was a 200.",
        "",
        "| topology | checks/s | mean latency | Redis CPU s | checks per Redis CPU-second |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(f"| {r['name']} | {r['rate']:.0f} | {r['latency']} | {r['redis_cpu']:.1f} | "
                     f"{r['per_core']:.0f} |")
    lines += [
        "",
        "On this machine the verifier and wrk, not Redis, use most of the CPU: the checks/s rows "
        "show what one verifier gets through each topology; the last column is the Redis-side "
        "cost, the figure to size Redis with (a Redis core — one Redis process, or one cluster "
        "master — serves about that many checks per second).",
        "",
        f"## Memory (Redis {version}, {args.memory_n} entries each, `INFO memory` delta / N; "
        "`MEMORY USAGE` of one key)",
        "",
        "| entry | bytes per entry (used_memory delta / N) | MEMORY USAGE of its key(s) |",
        "| --- | ---: | ---: |",
        f"| revoked jti (UUID jti, with TTL) | {mem['jti'][0]:.0f} | {mem['jti'][1]} |",
        f"| session (record hash + index zset, device label) | {mem['session'][0]:.0f} | "
        f"{mem['session'][1]} |",
        f"| user version (after a revoke-user) | {mem['user'][0]:.0f} | {mem['user'][1]} |",
        "",
    ]
    out = ROOT / "bench" / "results" / "scale.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
