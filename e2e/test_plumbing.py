"""The harness itself: the echo upstream and Redis process control behave as the suite assumes."""

from __future__ import annotations

import pytest

import harness


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
