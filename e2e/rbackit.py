"""Envoy with Warden (the release .wasm, or the native module under WARDEN_BUILD=native) followed
by other HTTP filters (an RBAC filter) and an access log: the bootstrap of e2e/test_rbac.py and of
the Istio recipe checks in e2e/test_istio.py. It is envoy/e2e.yaml.tmpl with `http_filters` between
Warden and the router. The filters and the access log are given as written for the wasm build
(filter-state keys `wasm.KEY`) and renamed for the build under test (`harness.filter_state_for_build`)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import harness


def bootstrap(work: Path, plugin_config: dict, upstream_port: int, after_warden: list[dict],
              access_log: list[dict] | None = None) -> tuple[dict, int, int]:
    listen, admin = harness.free_port(), harness.free_port()
    rendered = harness.render_envoy_config(
        work / f"rendered-{listen}.yaml", plugin_config, listen_port=listen, admin_port=admin,
        upstream_port=upstream_port, verifier_port=harness.free_port(),
    )
    config = yaml.safe_load(rendered.read_text())
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    warden, router = hcm["http_filters"]
    assert warden["name"] == harness.FILTER and router["name"] == "envoy.filters.http.router"
    hcm["http_filters"] = [warden, *harness.filter_state_for_build(after_warden), router]
    if access_log:
        hcm["access_log"] = harness.filter_state_for_build(access_log)
    return config, listen, admin


def start(work: Path, config: dict, listen: int, admin: int) -> harness.Process:
    """Validates `config` with `envoy --mode validate`, then runs it."""
    path = work / f"envoy-{listen}.json"
    path.write_text(json.dumps(config, indent=1))
    validated = harness.envoy_validate(path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    proc = harness.Process(f"envoy:{listen}", [
        str(harness.ENVOY_BIN), "-c", str(path), "--concurrency", "1", "--disable-hot-restart",
        "--log-level", "info",
        # Access log files are flushed every 10 s by default.
        "--file-flush-interval-msec", "100",
    ], work / f"envoy-{listen}.log").start()
    try:
        harness.wait_until(lambda: harness.http_request(admin, "GET", "/ready", timeout=2).status == 200,
                           "envoy ready", proc=proc)
    except BaseException:
        proc.stop()
        raise
    return proc


def get(port: int, path: str, token: str | None = None, headers: dict | None = None) -> harness.Response:
    items = list((headers or {}).items())
    if token is not None:
        items.append(("authorization", f"Bearer {token}"))
    return harness.http_request(port, "GET", path, items)
