#!/usr/bin/env python3
"""Per-request cost of JWT checking in the real Envoy (V8), against Envoy's own `jwt_authn`.

One Envoy worker (--concurrency 1), a direct_response route (no upstream), wrk on loopback.
Cases per algorithm:
  warden (same token)      the verified-token cache hits: signature checked once
  warden (distinct tokens) 4096 tokens rotated by wrk, more than the 1024-entry cache: every
                           request checks a signature
  jwt_authn (same token)   Envoy's native filter, token cache off
plus a passthrough baseline. No verifier call: this measures local verification only.

Run: make bench  (or .venv/bin/python bench/envoy_bench.py [--seconds 5] [--algs ES256,RS256])
Writes bench/results/envoy.md. Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "e2e"))
from harness import free_port  # noqa: E402
from tokens import KeySet, ISSUER, AUDIENCE  # noqa: E402

ENVOY = ROOT / ".venv" / "bin" / "envoy"
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "warden_plugin.wasm"
POOL = 4096


def filter_yaml(kind: str, jwks: dict) -> str:
    if kind == "passthrough":
        return ""
    if kind == "warden":
        config = {
            "providers": {"p": {"issuer": ISSUER, "audiences": [AUDIENCE],
                                "local_jwks": {"inline_string": json.dumps(jwks)}}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}],
        }
        return f"""
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: warden
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {WASM}}}}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {json.dumps(json.dumps(config))}"""
    return f"""
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                p:
                  issuer: {ISSUER}
                  audiences: [{AUDIENCE}]
                  local_jwks: {{inline_string: {json.dumps(json.dumps(jwks))}}}
              rules:
              - match: {{prefix: /}}
                requires: {{provider_name: p}}"""


def envoy_yaml(port: int, admin: int, filt: str) -> str:
    return f"""
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:{filt}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


WRK_ROTATE = """
local tokens = {}
for line in io.lines("%s") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", "/", {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def wrk(port: int, seconds: int, token: str | None, pool_file: Path | None, workdir: Path) -> float:
    cmd = ["wrk", "-t1", "-c8", f"-d{seconds}s", f"http://127.0.0.1:{port}/"]
    if pool_file is not None:
        script = workdir / "rotate.lua"
        script.write_text(WRK_ROTATE % pool_file)
        cmd += ["-s", str(script)]
    elif token is not None:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"benchmark requests were refused ({non2xx.group(1)} non-2xx):\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def measure(kind: str, jwks: dict, seconds: int, workdir: Path, token=None, pool=None) -> float:
    port, admin = free_port(), free_port()
    cfg = workdir / f"{kind}.yaml"
    cfg.write_text(envoy_yaml(port, admin, filter_yaml(kind, jwks)))
    log = open(workdir / f"{kind}.log", "w")
    proc = subprocess.Popen([str(ENVOY), "-c", str(cfg), "--concurrency", "1", "--base-id", str(port),
                             "-l", "error"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                f"http://127.0.0.1:{admin}/ready"], capture_output=True, text=True)
            if r.stdout == "200":
                break
            time.sleep(0.2)
        wrk(port, 1, token, pool, workdir)  # warm-up (wasm compile, caches)
        return wrk(port, seconds, token, pool, workdir)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--algs", default="HS256,RS256,PS256,ES256,ES384,ES512,EdDSA")
    args = ap.parse_args()
    for need in (ENVOY, WASM):
        if not need.exists():
            raise SystemExit(f"{need} is missing: run `make setup build` first")
    keys = KeySet()
    jwks = keys.jwks()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = measure("passthrough", jwks, args.seconds, workdir)
        rows.append(("passthrough (no auth)", "-", base))
        for alg in args.algs.split(","):
            exp = int(time.time()) + 3600
            token = keys.token(alg, exp=exp)
            pool = workdir / f"{alg}.tokens"
            pool.write_text("\n".join(keys.token(alg, exp=exp) for _ in range(POOL)) + "\n")
            rows.append(("warden, same token (cache hit)", alg, measure("warden", jwks, args.seconds, workdir, token)))
            rows.append(("warden, distinct tokens (cache miss)", alg,
                         measure("warden", jwks, args.seconds, workdir, pool=pool)))
            rows.append(("jwt_authn, same token", alg, measure("jwt_authn", jwks, args.seconds, workdir, token)))
            print(f"{alg}: " + ", ".join(f"{r[0]} {r[2]:.0f}" for r in rows[-3:]), flush=True)
    base_us = 1e6 / base
    lines = [
        "# Envoy benchmark: Warden filter vs Envoy jwt_authn",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} cores; Envoy `--concurrency 1`, V8, wrk -t1 -c8 -d{args.seconds}s, "
        "direct_response route, no verifier call. `added µs` = 1e6/req/s minus the passthrough's.",
        "",
        "| case | alg | req/s | µs/request | added µs |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, alg, rps in rows:
        us = 1e6 / rps
        lines.append(f"| {name} | {alg} | {rps:.0f} | {us:.0f} | {us - base_us:.0f} |")
    out = ROOT / "bench" / "results" / "envoy.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
