"""`make demo` (scripts/demo.sh) end to end: it prints three curls that do what they say; running it
again replaces the running demo (idempotent); an interrupt (Ctrl-C) stops every process it started."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time

import pytest

import harness

pytestmark = pytest.mark.wasm_only(
    "make demo runs the wasm build (envoy/envoy.yaml); test_configs validates "
    "envoy/envoy-native.yaml")

DEMO_PORTS = [10000, 9901, 8080, 8081, 8082, 6380]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_curl(line: str) -> str:
    """Runs a printed curl line through bash, as a user pasting it would; returns the HTTP status."""
    quiet = line.replace("curl -i ", "curl -s -o /dev/null -w '%{http_code}' ", 1)
    return subprocess.run(["bash", "-c", quiet], capture_output=True, text=True, timeout=30).stdout.strip()


class Demo:
    def __init__(self, tmp_path, name: str):
        self.out = tmp_path / f"{name}.out"
        self.run_dir = tmp_path / "run"
        env = dict(os.environ, WARDEN_DEMO_RUN_DIR=str(self.run_dir))
        self.popen = subprocess.Popen(
            ["bash", str(harness.ROOT / "scripts/demo.sh")], cwd=harness.ROOT, env=env,
            stdout=open(self.out, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, like a terminal's foreground job
            # A job started with `&` inherits SIGINT ignored, and bash cannot trap a signal ignored
            # on entry: give the demo the disposition a terminal's foreground job has.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def wait_printed(self) -> str:
        def printed():
            text = self.out.read_text()
            if self.popen.poll() is not None:
                raise RuntimeError(f"demo exited with {self.popen.returncode}:\n{text}")
            return "3. The same curl" in text and text.rstrip().endswith("grep wasmcustom") and text
        return harness.wait_until(printed, "the demo to print its curls", timeout=120)

    def recorded_pids(self) -> list[int]:
        return [int(line.split()[0]) for line in (self.run_dir / "demo.pids").read_text().splitlines()]

    def interrupt(self) -> int:
        """What Ctrl-C does: SIGINT to the whole foreground process group."""
        try:
            os.killpg(self.popen.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            return self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            raise


def refresh_status(source: str) -> int:
    """A junk refresh through the demo's Envoy from the local address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", 10000, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/v1/token", body="grant_type=refresh_token&refresh_token=junk",
                     headers={"content-type": "application/x-www-form-urlencoded"})
        return conn.getresponse().status
    finally:
        conn.close()


def alive(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]


def test_demo_curl_flow_rerun_and_ctrl_c(tmp_path):
    busy = [port for port in DEMO_PORTS if port_in_use(port)]
    if busy:
        pytest.skip(f"demo ports in use on this machine: {busy} (is a demo running?)")
    first = Demo(tmp_path, "first")
    second = None
    try:
        first.wait_printed()
        first_pids = first.recorded_pids()
        assert len(first_pids) == 5  # the script, redis, verifier, upstream, envoy

        # Running the demo again stops the running one and starts afresh.
        second = Demo(tmp_path, "second")
        text = second.wait_printed()
        assert first.popen.wait(timeout=30) != 0
        assert not alive(first_pids), "the first demo's processes survived the rerun"

        lines = text.splitlines()
        sessions_at = next(i for i, line in enumerate(lines) if line.startswith("# 4. "))
        curls = [line for line in lines[:sessions_at] if line.startswith("curl -i ")]
        assert len(curls) == 3, text
        assert [run_curl(curl) for curl in curls] == ["200", "200", "401"]
        # The session life cycle, pasted into one bash as printed: each `curl -i` prints its status.
        block = [line for line in lines[sessions_at:] if line and not line.startswith("Also:")]
        block = block[:next(i for i, line in enumerate(block) if line.startswith("# Log out"))]
        script = "\n".join(line.replace("curl -i ", "curl -s -o /dev/null -w '%{http_code}\\n' ", 1)
                           for line in block)
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        statuses = [line for line in result.stdout.splitlines() if line.isdigit()]
        assert statuses == ["200", "200", "400", "401", "401"], (result.stdout, result.stderr)

        # The shipped pair (Envoy's use_remote_address + the verifier's --trusted-proxy): clients
        # of different addresses have their own refresh budgets (30 a minute), not Envoy's one.
        first_client = [refresh_status("127.0.0.2") for _ in range(31)]
        assert first_client == [400] * 30 + [429], first_client
        assert refresh_status("127.0.0.3") == 400, "another client shares the first one's budget"
        assert "no --trusted-proxy" not in (second.run_dir / "verifier.log").read_text()
        second_pids = second.recorded_pids()
    finally:
        for demo in (second, first):
            if demo is not None:
                demo.interrupt()
    assert second.popen.returncode == 130
    assert not alive(second_pids), "still running after Ctrl-C"
    assert "demo: stopped" in second.out.read_text()
    assert not (tmp_path / "run/demo.pids").exists()
    assert not [port for port in DEMO_PORTS if port_in_use(port)]
