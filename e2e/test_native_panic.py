"""A panic inside the native module answers that request 503 and is counted; Envoy keeps
serving (the module is built with `panic = "unwind"` and every hook catches). Uses a test build
of the module with the `fault-injection` feature, where the header `x-warden-fault: panic`
panics inside the filter; `make native` never has it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import harness
from tokens import AUDIENCE, ISSUER


def build_fault_module(into) -> None:
    """The debug build with the feature (only warden-native recompiles: its dependencies are the
    unit tests' build), copied where Envoy looks first: its working directory."""
    subprocess.run(["cargo", "build", "--quiet", "-p", "warden-native", "--features", "fault-injection"],
                   cwd=harness.ROOT, check=True, timeout=900)
    shutil.copy(harness.ROOT / "target/debug/libwarden_native.so", into / "libwarden_native.so")

def native_envoy(workdir, config: dict, upstream_port: int) -> tuple[harness.Process, int, int]:
    port, admin = harness.free_port(), harness.free_port()
    module = {
        "name": "envoy.filters.http.dynamic_modules",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {"name": "warden_native"},
            "filter_name": "warden",
            "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": json.dumps(config)},
        },
    }
    bootstrap = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "static_resources": {
            "listeners": [{
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                 "http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "panic",
                        "route_config": {"virtual_hosts": [{
                            "name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]}]},
                        "http_filters": [module, {
                            "name": "envoy.filters.http.router",
                            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http."
                                                      "router.v3.Router"}}],
                    },
                }]}],
            }],
            "clusters": [harness.static_cluster("upstream", upstream_port)],
        },
    }
    path = workdir / "envoy-panic.json"
    path.write_text(json.dumps(bootstrap))
    proc = harness.Process(f"envoy:{port}", [str(harness.ENVOY_BIN), "-c", str(path), "--concurrency", "1",
                                              "--disable-hot-restart", "--log-level", "info"],
                           workdir / f"envoy-{port}.log", cwd=workdir)
    proc.start()
    harness.wait_until(lambda: harness.http_request(admin, "GET", "/ready", timeout=2).status == 200,
                       f"envoy ready on admin {admin}", proc=proc)
    return proc, port, admin

def test_a_panic_answers_503_is_counted_and_envoy_serves_on(tmp_path, keys):
    build_fault_module(tmp_path)
    upstream = harness.EchoUpstream(tmp_path).start()
    config = {
        "providers": {"p": {"issuer": ISSUER, "audiences": [AUDIENCE],
                            "local_jwks": {"inline_string": json.dumps(keys.jwks())}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}],
    }
    envoy, port, admin = native_envoy(tmp_path, config, upstream.port)
    try:
        token = keys.token("ES256")
        auth = ("authorization", f"Bearer {token}")
        assert harness.http_request(port, "GET", "/", [auth]).status == 200
        answer = harness.http_request(port, "GET", "/", [auth, ("x-warden-fault", "panic")])
        assert answer.status == 503, answer
        # Failed closed as when the filter cannot decide (the wasm build's unconfigured answer).
        assert json.loads(answer.body)["error_description"] == "verifier_unavailable", answer.body
        # Envoy is still up and the next request is decided as usual.
        assert not envoy.exited()
        assert harness.http_request(port, "GET", "/", [auth]).status == 200
        assert harness.http_request(port, "GET", "/").status == 401
        stats = harness.http_request(admin, "GET", "/stats?filter=warden.native.panics").body.decode()
        assert "warden.native.panics: 1" in stats, stats
        log = envoy.log_path.read_text()
        assert "panic: " in log and "fault injection" in log, log[-2000:]
    finally:
        envoy.stop()
        upstream.stop()
