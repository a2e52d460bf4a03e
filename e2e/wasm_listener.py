"""Envoy configuration pieces for tests that build their own Envoy (a file-based dynamic listener, a
filter that traps): one listener with the Warden filter (the wasm one, or under WARDEN_BUILD=native
the dynamic module) in front of the `upstream` cluster."""

from __future__ import annotations

import json
from pathlib import Path

import harness

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
WASM = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"


def wasm_filter(plugin_config: dict | str, *, wasm_file: Path | None = None, name: str = "warden",
                failure: dict | None = None) -> dict:
    """The wasm HTTP filter. `failure` holds the PluginConfig failure fields (`fail_open`,
    `failure_policy`); the shipped configs set them explicitly. For Warden's own .wasm (no
    `wasm_file`) under WARDEN_BUILD=native: the dynamic-module filter with the same configuration
    (`harness.to_build`); another module (`wasm_file`, e.g. the trap test's probe) stays wasm."""
    config_text = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    config = {
        "name": name,
        "root_id": name,
        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config_text},
        "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                      "code": {"local": {"filename": str(wasm_file or harness.WASM_FILE)}}},
    }
    config.update(failure if failure is not None else {"fail_open": False})
    http_filter = {"name": "envoy.filters.http.wasm", "typed_config": {"@type": WASM, "config": config}}
    return harness.to_build(http_filter) if wasm_file is None else http_filter


def listener(name: str, port: int, http_filter: dict) -> dict:
    return {
        "@type": LISTENER,
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": HCM,
                "stat_prefix": name,
                "normalize_path": True,
                "merge_slashes": True,
                "route_config": {"name": name, "virtual_hosts": [{
                    "name": "upstream", "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}],
                }]},
                "http_filters": [http_filter, {"name": "envoy.filters.http.router",
                                               "typed_config": {"@type": ROUTER}}],
            },
        }]}],
    }


def bootstrap(admin_port: int, upstream_port: int, *, listeners: list[dict] | None = None,
              lds_file: Path | None = None) -> dict:
    """Static listeners, or listeners from `lds_file` (watched through its directory, so an atomic
    rename into it is an update)."""
    config: dict = {
        "node": {"id": "warden-e2e", "cluster": "warden-e2e"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"clusters": [harness.static_cluster("upstream", upstream_port)]},
    }
    if listeners:
        # A static listener is the bare message; `@type` belongs to resources in an LDS file.
        config["static_resources"]["listeners"] = [{k: v for k, v in item.items() if k != "@type"}
                                                   for item in listeners]
    if lds_file is not None:
        config["dynamic_resources"] = {"lds_config": {
            "resource_api_version": "V3",
            "path_config_source": {"path": str(lds_file), "watched_directory": {"path": str(lds_file.parent)}},
        }}
    return config


class CustomEnvoy:
    """Envoy on a bootstrap built by the test (the harness's Envoy renders the e2e template)."""

    def __init__(self, workdir: Path, name: str):
        harness.require_file(harness.ENVOY_BIN, "run scripts/setup.sh (make setup)")
        self.workdir = workdir
        self.port = harness.free_port()
        self.admin_port = harness.free_port()
        self.config_path = workdir / f"envoy-{name}-{self.port}.json"
        self.proc = harness.Process(
            f"envoy:{name}:{self.port}",
            [str(harness.ENVOY_BIN), "-c", str(self.config_path), "--concurrency", "1",
             "--disable-hot-restart", "--log-level", "info"],
            workdir / f"envoy-{name}-{self.port}.log",
        )

    def start(self, config: dict, *, listener_name: str) -> CustomEnvoy:
        self.config_path.write_text(json.dumps(config, indent=1))
        self.proc.start()
        harness.wait_until(
            lambda: listener_name in harness.http_request(self.admin_port, "GET", "/listeners", timeout=2).body.decode()
            and harness.http_request(self.admin_port, "GET", "/ready", timeout=2).status == 200,
            f"envoy listener {listener_name} on admin {self.admin_port}", proc=self.proc)
        return self

    def request(self, path: str = "/", token: str | None = None) -> harness.Response:
        headers = [("authorization", f"Bearer {token}")] if token is not None else []
        return harness.http_request(self.port, "GET", path, headers)

    def stat(self, name: str) -> int:
        answer = harness.http_request(self.admin_port, "GET", f"/stats?filter=^{name}$")
        for line in answer.body.decode().splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.strip() == name:
                return int(value)
        raise KeyError(f"no stat {name} in {answer.body[:300]!r}")

    def stop(self) -> None:
        self.proc.stop()
