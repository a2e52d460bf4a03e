"""Offline checks of the Redis Cluster variant for Istio: istio/redis-cluster.yaml and the verifier
settings in istio/verifier-redis-cluster.patch.yaml. The manifests parse and hold together, and
the real redis-server runs a 3+3 cluster from the manifest's own redis.conf, which the real
verifier — started with the patched Deployment's environment, host names mapped to local ports —
serves checks and revocations from."""

from __future__ import annotations

import copy
import os
import re
import subprocess

import pytest
import yaml

import harness

pytestmark = pytest.mark.build_independent("the Redis Cluster manifests and the verifier: no Envoy")

ISTIO = harness.ROOT / "istio"
SEED = re.compile(r"(warden-redis-cluster-(\d))\.warden-redis-cluster\.warden\.svc\.cluster\.local:6379")


def load_all(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((ISTIO / name).read_text()) if doc]


def cluster_docs() -> dict:
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all("redis-cluster.yaml")}


def patched_verifier() -> dict:
    """verifier.yaml's Deployment with the patch applied as `kubectl patch` would (strategic
    merge: containers by name, env entries by name)."""
    deployment = next(d for d in load_all("verifier.yaml") if d["kind"] == "Deployment")
    (patch,) = load_all("verifier-redis-cluster.patch.yaml")
    merged = copy.deepcopy(deployment)
    containers = merged["spec"]["template"]["spec"]["containers"]
    for patch_container in patch["spec"]["template"]["spec"]["containers"]:
        target = next(c for c in containers if c["name"] == patch_container["name"])
        for entry in patch_container.get("env", []):
            target["env"] = [e for e in target["env"] if e["name"] != entry["name"]] + [entry]
    return merged


def env_of(deployment: dict) -> dict[str, str]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


def test_redis_cluster_manifest_shape():
    docs = cluster_docs()
    statefulset = docs[("StatefulSet", "warden-redis-cluster")]
    service = docs[("Service", "warden-redis-cluster")]
    config = docs[("ConfigMap", "warden-redis-cluster")]["data"]["redis.conf"]
    assert statefulset["spec"]["replicas"] == 6
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
    assert {p["port"] for p in service["spec"]["ports"]} == {6379, 16379}
    for line in ("cluster-enabled yes", "cluster-port 16379", "appendonly yes",
                 "appendfsync always", "maxmemory-policy noeviction",
                 "cluster-preferred-endpoint-type hostname"):
        assert line in config.splitlines(), line
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("redis:7.2")
    assert "$(POD_NAME).warden-redis-cluster.warden.svc.cluster.local" in container["args"]
    annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
    assert annotations["traffic.sidecar.istio.io/excludeInboundPorts"] == "16379"
    job = docs[("Job", "warden-redis-cluster-create")]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "--cluster-replicas 1" in script and "for i in 0 1 2 3 4 5" in script
    # The script is valid sh.
    subprocess.run(["sh", "-n", "-c", script], check=True)


def test_verifier_patch_points_at_the_cluster():
    env = env_of(patched_verifier())
    url = env["WARDEN_REDIS_URL"]
    assert url.startswith("redis+cluster://")
    seeds = SEED.findall(url)
    assert len(seeds) >= 3 and len(seeds) == url.count(",") + 1, url
    replicas = cluster_docs()[("StatefulSet", "warden-redis-cluster")]["spec"]["replicas"]
    assert all(int(index) < replicas for _, index in seeds)
    assert env["WARDEN_MIN_REPLICAS_ACK"] == "1"
    # The patch replaced the single-Redis URL rather than adding a second entry.
    (container,) = patched_verifier()["spec"]["template"]["spec"]["containers"]
    assert [e["name"] for e in container["env"]].count("WARDEN_REDIS_URL") == 1


def redis_version() -> tuple[int, int]:
    out = subprocess.run([harness.redis_server_bin(), "--version"], capture_output=True,
                         text=True, check=True).stdout
    major, minor = re.search(r"v=(\d+)\.(\d+)", out).groups()
    return int(major), int(minor)


@pytest.fixture(scope="module")
def manifest_cluster(tmp_path_factory):
    """Six redis-servers on the manifest's redis.conf (ports, paths and announced names local),
    made into a cluster with the Job's `redis-cli --cluster create … --cluster-replicas 1`."""
    workdir = tmp_path_factory.mktemp("redis-cluster")
    config = cluster_docs()[("ConfigMap", "warden-redis-cluster")]["data"]["redis.conf"]
    procs, ports = [], []
    try:
        for i in range(6):
            port, bus = harness.free_port(), harness.free_port()
            node_dir = workdir / f"node{i}"
            node_dir.mkdir()
            local = (config.replace("port 6379", f"port {port}")
                     .replace("cluster-port 16379", f"cluster-port {bus}")
                     .replace("/data", str(node_dir)))
            conf = node_dir / "redis.conf"
            conf.write_text(local + "bind 127.0.0.1\n")
            proc = harness.Process(f"redis-cluster:{port}",
                                   [harness.redis_server_bin(), str(conf),
                                    "--cluster-announce-hostname", "localhost"],
                                   node_dir / "redis.log").start()
            procs.append(proc)
            ports.append(port)
            harness.wait_until(lambda p=port: harness._ping_redis(p), f"redis {port}", proc=proc)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"localhost:{p}" for p in ports],
                        "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True)

        def healthy() -> bool:
            for p in ports:
                info = subprocess.run(["redis-cli", "-p", str(p), "CLUSTER", "INFO"],
                                      capture_output=True, text=True).stdout
                if "cluster_state:ok" not in info:
                    return False
            return True

        harness.wait_until(healthy, "cluster state ok")
        harness.wait_until(
            lambda: sum("state=online" in subprocess.run(
                ["redis-cli", "-p", str(p), "INFO", "replication"], capture_output=True,
                text=True).stdout for p in ports) == 3,
            "three replicas online")
        yield ports
    finally:
        for proc in procs:
            proc.stop()


def local_env(ports: list[int]) -> dict[str, str]:
    env = env_of(patched_verifier())
    env["WARDEN_REDIS_URL"] = SEED.sub(lambda m: f"localhost:{ports[int(m.group(2))]}",
                                       env["WARDEN_REDIS_URL"])
    return env


def test_patched_verifier_serves_from_the_manifest_cluster(tmp_path, manifest_cluster):
    env = local_env(manifest_cluster)
    aof = env.pop("WARDEN_WAIT_AOF", "false") == "true"
    if aof and redis_version() < (7, 2):
        # The manifests pin Redis 7.2 for WAITAOF; an older server is refused with a clear reason.
        token = tmp_path / "token"
        token.write_text("x" * 32)
        out = subprocess.run(
            [str(harness.VERIFIER_BIN), "serve", "--listen", f"127.0.0.1:{harness.free_port()}",
             "--admin-listen", f"127.0.0.1:{harness.free_port()}", "--admin-token-file", str(token)],
            env={**os.environ, **env, "WARDEN_WAIT_AOF": "true"}, capture_output=True, text=True,
            timeout=30)
        assert out.returncode != 0 and "WAITAOF" in out.stderr, out.stderr
        aof = False
    env["WARDEN_WAIT_AOF"] = "true" if aof else "false"
    verifier = harness.Verifier(tmp_path, env.pop("WARDEN_REDIS_URL"))
    verifier.proc.argv += ["--min-replicas-ack", env["WARDEN_MIN_REPLICAS_ACK"]]
    if env["WARDEN_WAIT_AOF"] == "true":
        verifier.proc.argv.append("--wait-aof")
    verifier.start()
    try:
        for user in range(12):
            revoke = verifier.admin("POST", "/v1/admin/revoke/token",
                                    {"sub": f"user{user}", "jti": "stolen"})
            assert revoke.status == 200, revoke
        for user in range(12):
            for jti, allowed in (("stolen", False), ("fresh", True)):
                answer = harness.http_request(verifier.port, "POST", "/v1/check",
                                              {"content-type": "application/json"},
                                              {"sub": f"user{user}", "jti": jti, "exp": 0})
                assert answer.status == 200, answer
                assert answer.json()["allow"] is allowed, answer
        # The writes were spread over the masters and acknowledged by their replicas.
        with_keys = [p for p in manifest_cluster
                     if int(subprocess.run(["redis-cli", "-p", str(p), "DBSIZE"],
                                           capture_output=True, text=True).stdout) > 0]
        assert len(with_keys) >= 4, with_keys  # >= 2 masters and their replicas
    finally:
        verifier.stop()
