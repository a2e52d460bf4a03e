"""`make demo` (scripts/demo.sh) end to end: it prints three curls that do what they say, and an
interrupt (Ctrl-C) stops every process it started."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time

import pytest

import harness

DEMO_PORTS = [10000, 9901, 8080, 8081, 8082, 6380]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run_curl(line: str) -> str:
    """Runs a printed curl line (through bash, as a user pasting it would) and returns the status line."""
    result = subprocess.run(["bash", "-c", line.replace("curl -i ", "curl -s -o /dev/null -w '%{http_code}' ", 1)],
                            capture_output=True, text=True, timeout=30)
    return result.stdout.strip()


def test_demo_prints_a_working_curl_flow_and_stops_cleanly(tmp_path):
    busy = [port for port in DEMO_PORTS if port_in_use(port)]
    if busy:
        pytest.skip(f"demo ports in use on this machine: {busy} (is a demo running?)")
    env = dict(os.environ, WARDEN_DEMO_RUN_DIR=str(tmp_path / "run"))
    log = open(tmp_path / "demo.out", "w+")
    demo = subprocess.Popen(["bash", str(harness.ROOT / "scripts/demo.sh")], cwd=harness.ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def printed():
            text = (tmp_path / "demo.out").read_text()
            if demo.poll() is not None:
                raise RuntimeError(f"demo exited with {demo.returncode}:\n{text}")
            return "Ctrl-C stops everything" in text and "3. The same curl" in text and text

        text = harness.wait_until(printed, "the demo to print its curls", timeout=120)
        curls = [line for line in text.splitlines() if line.startswith("curl -i ")]
        assert len(curls) == 3, text
        assert run_curl(curls[0]) == "200"
        assert run_curl(curls[1]) == "200"
        assert run_curl(curls[2]) == "401"
        pids = [int(line.split()[0]) for line in (tmp_path / "run/demo.pids").read_text().splitlines()]
        assert len(pids) == 4
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the foreground process group
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
        time.sleep(0.1)
    left = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    assert not left, f"still running after Ctrl-C: {left}"
    assert not [port for port in DEMO_PORTS if port_in_use(port)]
