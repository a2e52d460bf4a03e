"""The real stack the end-to-end tests run against: redis-server, warden-verifier, the echo
upstream and Envoy loading the release .wasm, each on free loopback ports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import harness
from configs import plugin_config
from tokens import KeySet


@dataclass
class Stack:
    redis: harness.Redis
    verifier: harness.Verifier
    upstream: harness.EchoUpstream
    envoy: harness.Envoy
    keys: KeySet


def start_stack(workdir: Path, keys: KeySet, redis: harness.Redis | None = None, **config_options) -> Stack:
    """Starts Redis (the one given, e.g. with persistence, else a plain one), the verifier, the echo
    upstream and Envoy with `plugin_config(..., **config_options)`; stops what started on failure."""
    parts = []
    try:
        redis = redis or harness.Redis(workdir)
        parts.append(redis)
        redis.start()
        verifier = harness.Verifier(workdir, redis.url)
        parts.append(verifier)
        verifier.start()
        upstream = harness.EchoUpstream(workdir)
        parts.append(upstream)
        upstream.start()
        envoy = harness.Envoy(workdir, plugin_config(keys.jwks(), **config_options),
                              upstream_port=upstream.port, verifier_port=verifier.port)
        parts.append(envoy)
        envoy.start()
    except BaseException:
        for part in reversed(parts):
            part.stop()
        raise
    return Stack(redis, verifier, upstream, envoy, keys)


def stop_stack(stack: Stack) -> None:
    for part in (stack.envoy, stack.upstream, stack.verifier, stack.redis):
        part.stop()
