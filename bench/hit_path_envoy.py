#!/usr/bin/env python3
"""The wasm floor and the cache hit in the real Envoy (V8), two builds of the filter side by side.

For each round: passthrough, `jwt_authn` with its cache, then for each build the floor (a route
that needs no token) and a local cache hit (the same token each time), scenarios and builds
interleaved so that a noisy machine hurts both alike. Reports µs over passthrough per round and the
median, and the hit's ratio to `jwt_authn` + cache (issue 11 §2: target ≤ 1.5×). Same Envoy
configurations as bench/envoy_bench.py.

Run: .venv/bin/python bench/hit_path_envoy.py --before /tmp/old.wasm [--after PATH] [--rounds 3]
     [--seconds 3] [--algs HS256,ES256] [--out bench/results/hit_path_envoy.md]
Not a test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import envoy_bench as eb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, help="the other build of warden_plugin.wasm (optional)")
    ap.add_argument("--after", type=Path, default=eb.WASM)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--algs", default="HS256,ES256")
    ap.add_argument("--out", type=Path, default=eb.ROOT / "bench" / "results" / "hit_path_envoy.md")
    args = ap.parse_args()
    builds = {"after": args.after}
    if args.before:
        builds = {"before": args.before, **builds}
    for path in [*builds.values(), eb.ENVOY]:
        if not Path(path).exists():
            raise SystemExit(f"{path} is missing")
    keys = eb.KeySet()
    jwks = keys.jwks()
    algs = args.algs.split(",")
    tokens = {alg: keys.token(alg, exp=int(time.time()) + 24 * 3600) for alg in algs}
    # added[(scenario, build, alg)] = [µs over passthrough, one per round]
    added: dict[tuple[str, str, str], list[float]] = {}

    def note(key: tuple[str, str, str], run: eb.Run, base: eb.Run) -> None:
        us = eb.added_us(run, base)
        added.setdefault(key, []).append(us)
        print(f"  {key[0]:10} {key[1]:7} {key[2]:6} {run.rps:8.0f} req/s  +{us:6.1f} µs", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for r in range(args.rounds):
            print(f"round {r + 1}", flush=True)
            base, _ = eb.measure("passthrough", "", args.seconds, workdir)
            print(f"  passthrough {base.rps:.0f} req/s", flush=True)
            for alg in algs:
                run, _ = eb.measure("jwtc", eb.jwt_authn_filter(jwks, cache=True), args.seconds, workdir,
                                    token=tokens[alg])
                note(("jwt_authn cache", "-", alg), run, base)
            for build, wasm in builds.items():
                eb.WASM = Path(wasm)
                run, _ = eb.measure("floor", eb.warden_filter(jwks, verifier=False, open_route=True),
                                    args.seconds, workdir, path="/open")
                note(("floor", build, "-"), run, base)
                for alg in algs:
                    run, stats = eb.measure("warden", eb.warden_filter(jwks, verifier=False), args.seconds,
                                            workdir, token=tokens[alg])
                    hits = [v for k, v in stats.items() if k.endswith("warden.cache.hit")]
                    if not hits or max(hits) == 0:
                        raise SystemExit(f"{build}: the hit scenario never hit the cache: {stats}")
                    note(("local hit", build, alg), run, base)
    report = render(added, builds, algs, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    print(f"wrote {args.out}")


def render(added, builds, algs, args) -> str:
    med = {k: statistics.median(v) for k, v in added.items()}
    lines = [
        "# The wasm floor and the cache hit in Envoy: µs over passthrough",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/hit_path_envoy.py` "
        f"({args.rounds} rounds, {args.seconds} s per scenario, wrk -t1 -c{eb.CONNECTIONS}, Envoy "
        "`--concurrency 1`, V8, direct_response route; configurations as in `envoy_bench.py`). "
        "Scenarios and builds are interleaved in each round; the table shows the median of the rounds "
        "and every round. The machine is shared: compare within a round.",
        "",
        "`× jwt_authn + cache` is the median hit over the median `jwt_authn` + cache (issue 11: "
        "target ≤ 1.5×).",
        "",
        "| scenario | build | alg | µs over passthrough (median) | rounds | × jwt_authn + cache |",
        "| --- | --- | --- | ---: | --- | ---: |",
    ]
    for alg in algs:
        key = ("jwt_authn cache", "-", alg)
        lines.append(f"| jwt_authn cache | - | {alg} | {med[key]:.1f} | {fmt(added[key])} | 1.00 |")
    for build in builds:
        key = ("floor", build, "-")
        lines.append(f"| warden floor (open route) | {build} | - | {med[key]:.1f} | {fmt(added[key])} | - |")
        for alg in algs:
            key = ("local hit", build, alg)
            base = med[("jwt_authn cache", "-", alg)]
            ratio = f"{med[key] / base:.2f}" if base > 0 else "-"
            lines.append(f"| warden local hit | {build} | {alg} | {med[key]:.1f} | {fmt(added[key])} | {ratio} |")
    return "\n".join(lines) + "\n"


def fmt(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


if __name__ == "__main__":
    main()
