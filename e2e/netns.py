"""A network namespace joined to the host by a veth pair, for putting network faults between Envoy and
the verifier: processes run inside it with `ip netns exec`, the host reaches them over a private
/30, and `delay()` holds every packet leaving the namespace for a while (`tc qdisc ... netem
delay`; on kernels built without sch_netem, an NFQUEUE delay line, see nfq_delay.py). Needs root
(CAP_NET_ADMIN) and iproute2."""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

import harness

NFQ_DELAY = Path(__file__).resolve().parent / "nfq_delay.py"
NFQUEUE_NUM = 7


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def unavailable_reason() -> str | None:
    """Why this machine cannot run namespace tests, or None when it can (probed, not guessed)."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed: run scripts/setup.sh as root"
    name = f"wprobe-{secrets.token_hex(3)}"
    probe = _run(["ip", "netns", "add", name], check=False)
    if probe.returncode != 0:
        return f"cannot create a network namespace (needs root / CAP_NET_ADMIN): {probe.stderr.strip()}"
    _run(["ip", "netns", "del", name], check=False)
    return None


class NetNamespace:
    def __init__(self, workdir: Path):
        suffix = secrets.token_hex(3)
        self.workdir = workdir
        self.name = f"warden-{suffix}"
        self.host_if = f"wdh{suffix}"  # interface names: at most 15 characters
        self.ns_if = f"wdn{suffix}"
        # A random /30 in 10.200.0.0/13, so parallel runs on one machine do not collide.
        base = (10 << 24) | (200 << 16) | (secrets.randbelow(1 << 17) << 2)
        self.host_addr = _dotted(base + 1)
        self.ns_addr = _dotted(base + 2)
        self.delay_mode: str | None = None
        self._delay_line: harness.Process | None = None
        self._created = False

    def create(self) -> NetNamespace:
        try:
            _run(["ip", "netns", "add", self.name])
            self._created = True
            _run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if,
                  "netns", self.name])
            _run(["ip", "addr", "add", f"{self.host_addr}/30", "dev", self.host_if])
            _run(["ip", "link", "set", self.host_if, "up"])
            _run(self.argv(["ip", "addr", "add", f"{self.ns_addr}/30", "dev", self.ns_if]))
            _run(self.argv(["ip", "link", "set", self.ns_if, "up"]))
            _run(self.argv(["ip", "link", "set", "lo", "up"]))
        except BaseException:
            self.destroy()
            raise
        return self

    def argv(self, argv: list[str]) -> list[str]:
        """`argv` run inside the namespace (ip netns exec replaces itself with the command)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def delay(self, ms: int) -> str:
        """Delays every packet leaving the namespace over the veth by `ms`; returns the mechanism."""
        self.clear_delay()
        netem = _run(self.argv(["tc", "qdisc", "add", "dev", self.ns_if, "root", "netem", "delay", f"{ms}ms"]),
                     check=False)
        if netem.returncode == 0:
            self.delay_mode = "netem"
            return self.delay_mode
        if "unknown" not in netem.stderr.lower():
            raise RuntimeError(f"tc netem failed: {netem.stderr.strip()}")
        # This kernel has no sch_netem: hold the packets in user space through an NFQUEUE instead.
        if shutil.which("iptables") is None:
            raise RuntimeError("the kernel has no sch_netem and iptables (for the NFQUEUE delay line) is missing")
        line = harness.Process(
            f"nfq-delay:{self.name}",
            self.argv([sys.executable, str(NFQ_DELAY), "--queue", str(NFQUEUE_NUM), "--delay-ms", str(ms)]),
            self.workdir / f"nfq-delay-{self.name}.log",
        ).start()
        self._delay_line = line
        harness.wait_until(lambda: "nfq_delay: queue" in line.log_text(), "the NFQUEUE delay line", proc=line,
                           timeout=10)
        _run(self.argv(["iptables", "-A", "OUTPUT", "-o", self.ns_if, "-j", "NFQUEUE",
                        "--queue-num", str(NFQUEUE_NUM)]))
        self.delay_mode = "nfqueue"
        return self.delay_mode

    def clear_delay(self) -> None:
        if self.delay_mode == "netem":
            _run(self.argv(["tc", "qdisc", "del", "dev", self.ns_if, "root"]), check=False)
        elif self.delay_mode == "nfqueue":
            _run(self.argv(["iptables", "-D", "OUTPUT", "-o", self.ns_if, "-j", "NFQUEUE",
                            "--queue-num", str(NFQUEUE_NUM)]), check=False)
        if self._delay_line is not None:
            self._delay_line.stop()
            self._delay_line = None
        self.delay_mode = None

    def destroy(self) -> None:
        """Removes the delay, the veth pair and the namespace; safe to call twice or half-created."""
        self.clear_delay()
        _run(["ip", "link", "del", self.host_if], check=False)
        if self._created:
            _run(["ip", "netns", "del", self.name], check=False)
            self._created = False

    def exists(self) -> bool:
        return self.name in _run(["ip", "netns", "list"], check=False).stdout.split()

    def http_get(self, port: int, path: str, timeout: float = 5.0) -> harness.Response:
        """GET from the host to a server listening on the namespace's address."""
        conn = http.client.HTTPConnection(self.ns_addr, port, timeout=timeout)
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            return harness.Response(answer.status, answer.getheaders(), answer.read())
        finally:
            conn.close()


def _dotted(value: int) -> str:
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


class NamespacedRedis:
    """redis-server inside the namespace, on its loopback (only the verifier there reaches it)."""

    def __init__(self, ns: NetNamespace, workdir: Path):
        self.ns = ns
        self.port = harness.free_port()
        argv = ns.argv([harness.redis_server_bin(), "--port", str(self.port), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", str(workdir)])
        self.proc = harness.Process(f"redis-ns:{self.port}", argv, workdir / f"redis-ns-{self.port}.log")

    def start(self) -> NamespacedRedis:
        self.proc.start()
        ping = self.ns.argv(["redis-cli", "-p", str(self.port), "ping"])
        harness.wait_until(lambda: _run(ping, check=False).stdout.strip() == "PONG",
                           f"redis in {self.ns.name}", proc=self.proc)
        return self

    def stop(self) -> None:
        self.proc.stop()


class NamespacedVerifier(harness.Verifier):
    """The verifier inside the namespace: the check listener on the namespace's veth address (what
    Envoy calls), the admin listener on the namespace's loopback."""

    def __init__(self, ns: NetNamespace, workdir: Path, redis_port: int):
        super().__init__(workdir, f"redis://127.0.0.1:{redis_port}")
        self.ns = ns
        argv = list(self.proc.argv)
        argv[argv.index("--listen") + 1] = f"{ns.ns_addr}:{self.port}"
        self.proc.argv = ns.argv(argv)

    def start(self) -> NamespacedVerifier:
        self.proc.start()
        harness.wait_until(lambda: self.ns.http_get(self.port, "/readyz", timeout=2).status == 200,
                           f"verifier /readyz on {self.ns.ns_addr}:{self.port}", proc=self.proc)
        return self


def point_cluster(config_path: Path, cluster: str, address: str, port: int) -> None:
    """Rewrites one cluster's endpoint in a rendered Envoy config (before Envoy starts)."""
    config = yaml.safe_load(config_path.read_text())
    for entry in config["static_resources"]["clusters"]:
        if entry["name"] == cluster:
            endpoint = entry["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"]["socket_address"] = {"address": address, "port_value": port}
            config_path.write_text(json.dumps(config, indent=1))
            return
    raise KeyError(f"no cluster {cluster!r} in {config_path}")
