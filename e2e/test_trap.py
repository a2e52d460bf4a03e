"""A trap in the filter must not leave Envoy forwarding requests unchecked. The trapping module is the
probe filter (wasm-tests/fixtures/probe-filter, a real proxy-wasm module built for wasm32-wasip1):
on `/panic` its request-headers callback aborts, which in wasm is the `unreachable` trap. Envoy then
marks the VM failed; with the plugin failing closed (`fail_open: false`, `failure_policy:
FAIL_CLOSED`; Istio's `failStrategy: FAIL_CLOSE`) it answers 5xx itself and the upstream sees
nothing, for that request and every later one. The fail-open control shows what the setting
prevents: the same trap, then requests reach the upstream without any filter."""

from __future__ import annotations

import json
import os
import string
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

import harness
from wasm_listener import CustomEnvoy, bootstrap, listener, wasm_filter

pytestmark = pytest.mark.wasm_only(
    "a trapping proxy-wasm module in V8, the wasm filter's fail_open / "
    "failure_policy and the VM reload")

PROBE_MANIFEST = harness.ROOT / "wasm-tests/fixtures/probe-filter/Cargo.toml"
PROBE_WASM = harness.ROOT / "target/wasm32-wasip1/release/probe_filter.wasm"
FAILURE_FIELDS = ("fail_open", "failure_policy")
PLACEHOLDERS = {"ADMIN_PORT": "1", "LISTEN_PORT": "2", "UPSTREAM_PORT": "3", "VERIFIER_PORT": "4",
                "VERIFIER_CLUSTER": "v", "WASM_FILE": "w.wasm", "PLUGIN_CONFIG": '"{}"', "DEMO_JWKS": ""}


@pytest.fixture(scope="module")
def probe_wasm():
    """Builds the probe filter into the workspace target dir (a no-op when `cargo test` built it)."""
    cargo = os.environ.get("CARGO", "cargo")
    result = subprocess.run(
        [cargo, "build", "--quiet", "--release", "--target", "wasm32-wasip1",
         "--manifest-path", str(PROBE_MANIFEST), "--target-dir", str(harness.ROOT / "target")],
        cwd=harness.ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return harness.require_file(PROBE_WASM, "the probe filter build did not produce it")


class RecordingUpstream:
    """An upstream that records every request it receives."""

    def __init__(self) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                seen.append(self.path)
                body = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def shipped_failure_settings() -> list[tuple[str, dict]]:
    """The wasm filter's failure fields in every Envoy config we ship."""
    found = []
    for name in ("envoy.yaml", "e2e.yaml.tmpl"):
        text = (harness.ROOT / "envoy" / name).read_text()
        # Placeholders (ports, paths, the plugin configuration string) do not matter here.
        text = string.Template(text).safe_substitute(PLACEHOLDERS)
        config = yaml.safe_load(text)
        for listener_config in config["static_resources"]["listeners"]:
            manager = listener_config["filter_chains"][0]["filters"][0]["typed_config"]
            for http_filter in manager["http_filters"]:
                if http_filter["name"] == "envoy.filters.http.wasm":
                    plugin = http_filter["typed_config"]["config"]
                    found.append((name, {k: plugin[k] for k in FAILURE_FIELDS if k in plugin}))
    return found


def test_shipped_configs_fail_closed_explicitly():
    settings = shipped_failure_settings()
    assert len(settings) == 2, settings
    for name, fields in settings:
        assert fields.get("fail_open") is False, (name, fields)
        assert fields.get("failure_policy") == "FAIL_CLOSED", (name, fields)


@pytest.fixture
def trap_envoy(tmp_path, probe_wasm):
    started = []

    def make(failure: dict) -> tuple[CustomEnvoy, RecordingUpstream]:
        upstream = RecordingUpstream()
        started.append(upstream)
        envoy = CustomEnvoy(tmp_path, "trap")
        started.append(envoy)
        # The probe accepts any configuration except the string "reject".
        http_filter = wasm_filter("{}", wasm_file=probe_wasm, name="probe", failure=failure)
        config = bootstrap(envoy.admin_port, upstream.port,
                           listeners=[listener("trap", envoy.port, http_filter)])
        envoy.start(config, listener_name="trap")
        return envoy, upstream

    try:
        yield make
    finally:
        for part in reversed(started):
            part.stop()


CLOSED = [
    pytest.param({"fail_open": False}, id="fail_open-false"),  # what Istio's FAIL_CLOSE sets
    pytest.param({"failure_policy": "FAIL_CLOSED"}, id="failure_policy-FAIL_CLOSED"),
    pytest.param(dict(shipped_failure_settings()[0][1]), id="as-shipped"),
]


@pytest.mark.parametrize("failure", CLOSED)
def test_a_trap_fails_closed(trap_envoy, failure):
    envoy, upstream = trap_envoy(failure)
    first = envoy.request("/before")
    assert first.status == 200, first
    assert upstream.seen == ["/before"]

    trapped = envoy.request("/panic")
    assert trapped.status == 503, trapped
    for path in ("/after-1", "/after-2", "/panic"):
        after = envoy.request(path)
        assert after.status == 503, after
    assert upstream.seen == ["/before"], "the upstream saw requests after the trap"
    assert envoy.stat("cluster.upstream.upstream_rq_total") == 1

    log = envoy.proc.log_text()
    assert "probe is about to panic" in log, envoy.proc.log_tail()
    assert "unreachable" in log, envoy.proc.log_tail()


def test_fail_open_control_forwards_unchecked_after_a_trap(trap_envoy):
    """What fail-closed prevents: with `fail_open: true` the failed filter is skipped."""
    envoy, upstream = trap_envoy({"fail_open": True})
    assert envoy.request("/before").status == 200
    envoy.request("/panic")
    after = envoy.request("/after")
    assert after.status == 200, after
    assert "/after" in upstream.seen


def test_fail_reload_stays_closed_and_restarts_the_vm(trap_envoy):
    """FAIL_RELOAD, the other closed policy: the trapping request and those during the reload backoff
    get 5xx; then a fresh VM filters again (and a new trap is refused again)."""
    envoy, upstream = trap_envoy({"failure_policy": "FAIL_RELOAD"})
    assert envoy.request("/before").status == 200
    assert envoy.request("/panic").status >= 500
    harness.wait_until(lambda: envoy.request("/reloaded").status == 200, "the VM reloaded", timeout=30,
                       proc=envoy.proc)
    assert envoy.stat("wasm.probe.vm_reload_success") >= 1
    assert envoy.request("/panic").status >= 500
    assert "/panic" not in upstream.seen, upstream.seen
    assert upstream.seen[0] == "/before" and set(upstream.seen[1:]) == {"/reloaded"}, upstream.seen
