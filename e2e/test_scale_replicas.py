"""Two verifier replicas behind one Envoy cluster (round robin), both on one Redis Cluster of three
masters: a revocation made through either replica is effective through Envoy on the very next
request, whichever replica answers it; revoke-all within its documented 1 s bound."""

from __future__ import annotations

import time

import pytest
import yaml

import harness
from answers import assert_denied
from configs import plugin_config

NOT_BEFORE_CACHE_MAX_AGE_S = 1.0  # verifier-service/src/service/mod.rs


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, keys):
    workdir = tmp_path_factory.mktemp("replicas")
    redis_cluster = harness.RedisCluster(workdir).start()
    parts = []
    try:
        url = redis_cluster.url(seeds=2)
        verifiers = [harness.Verifier(workdir, url).start() for _ in range(2)]
        parts += verifiers
        upstream = harness.EchoUpstream(workdir).start()
        parts.append(upstream)
        envoy = harness.Envoy(workdir, plugin_config(keys.jwks()), upstream_port=upstream.port,
                              verifier_port=verifiers[0].port)
        # One Envoy cluster, both replicas as its endpoints (round robin).
        config = yaml.safe_load(envoy.config_path.read_text())
        (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "warden_verifier"]
        endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        second = yaml.safe_load(yaml.safe_dump(endpoints[0]))
        second["endpoint"]["address"]["socket_address"]["port_value"] = verifiers[1].port
        endpoints.append(second)
        cluster["lb_policy"] = "ROUND_ROBIN"
        envoy.config_path.write_text(yaml.safe_dump(config))
        envoy.start()
        parts.append(envoy)
        yield envoy, verifiers
    finally:
        for part in reversed(parts):
            part.stop()
        redis_cluster.stop()


def checks_per_replica(verifiers) -> list[int]:
    return [harness.verifier_checks(v.port) for v in verifiers]


def test_a_revocation_through_either_replica_holds_on_the_next_request(replicas, keys):
    envoy, verifiers = replicas
    before = checks_per_replica(verifiers)
    for revoking in verifiers:
        sub = harness.fresh_user()
        token = keys.token("ES256", sub=sub, jti="stolen")
        for _ in range(4):  # both replicas have allowed it
            assert envoy.request("/", token).status == 200
        answer = revoking.admin("POST", "/v1/admin/revoke/token", {"sub": sub, "jti": "stolen"})
        assert answer.status == 200, answer
        for _ in range(6):  # every request after the acknowledgement, on either replica
            assert_denied(envoy.request("/", token), "revoked")
        other = keys.token("ES256", sub=sub, jti="kept")
        assert envoy.request("/", other).status == 200
    after = checks_per_replica(verifiers)
    assert all(a > b for a, b in zip(after, before)), (before, after)  # both replicas answered


def test_revoke_all_reaches_every_replica_within_its_bound(replicas, keys):
    envoy, verifiers = replicas
    issued = int(time.time())
    token = keys.token("ES256", sub=harness.fresh_user(), iat=issued)
    for _ in range(4):  # both replicas cache the (unset) not-before
        assert envoy.request("/", token).status == 200
    answer = verifiers[0].admin("POST", "/v1/admin/revoke/all")
    assert answer.status == 200, answer
    time.sleep(NOT_BEFORE_CACHE_MAX_AGE_S + 0.2)
    for _ in range(6):
        assert_denied(envoy.request("/", token), "revoked_all")
