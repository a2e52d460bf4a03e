"""The harness itself: the echo upstream, Redis (single and Cluster) process control and the port
blocks of parallel workers behave as the suite assumes."""

from __future__ import annotations

import subprocess

import pytest

import harness

pytestmark = pytest.mark.build_independent("the harness's processes: no Envoy")


def test_echo_upstream_returns_what_it_received(tmp_path):
    echo = harness.EchoUpstream(tmp_path).start()
    try:
        response = harness.http_request(echo.port, "POST", "/a/b?c=d", [("x-one", "1"), ("X-One", "2")], b"hi")
        assert response.status == 200
        seen = response.json()
        assert seen["method"] == "POST" and seen["path"] == "/a/b?c=d" and seen["body"] == "hi"
        assert [v for k, v in seen["headers"] if k == "x-one"] == ["1", "2"]
    finally:
        echo.stop()
    assert echo.proc.exited()


def test_redis_stops_and_restarts_on_the_same_port(tmp_path):
    redis = harness.Redis(tmp_path).start()
    try:
        assert harness._ping_redis(redis.port)
        redis.stop()
        with pytest.raises(OSError):
            harness._ping_redis(redis.port)
        redis.start()
        assert harness._ping_redis(redis.port)
    finally:
        redis.stop()


def test_worker_port_blocks_are_disjoint_and_below_the_ephemeral_range():
    blocks = [harness.worker_port_block(f"gw{i}", 32768) for i in range(10)]
    assert all(block is not None and block.stop <= 32768 for block in blocks)
    assert all(a.stop <= b.start for a, b in zip(blocks, blocks[1:]))
    assert blocks[0].start > 10000  # above the demo's fixed ports
    assert harness.worker_port_block("gw11", 32768) is None  # would reach the ephemeral range
    assert harness.worker_port_block("", 32768) is None  # not a pytest-xdist worker
    assert harness.worker_port_block("master", 32768) is None


def test_fresh_users_differ():
    users = {harness.fresh_user("x") for _ in range(100)}
    assert len(users) == 100 and all(u.startswith("x-") for u in users)


def test_redis_cluster_serves_every_slot_and_stops(tmp_path):
    cluster = harness.RedisCluster(tmp_path).start()
    try:
        assert len(cluster.ports) == 3 and len(set(cluster.ports)) == 3
        assert cluster.url() == "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in cluster.ports)
        assert cluster.url(seeds=1) == f"redis+cluster://127.0.0.1:{cluster.ports[0]}"
        info = subprocess.run(["redis-cli", "-p", str(cluster.ports[0]), "CLUSTER", "INFO"],
                              capture_output=True, text=True, check=True).stdout
        assert "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info
    finally:
        cluster.stop()
    assert all(proc.exited() for proc in cluster.procs)
