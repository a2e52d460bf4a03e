"""Remote JWKS from an identity provider cluster, and a filter without a verifier (local decisions)."""

from __future__ import annotations

import json

import harness
from answers import assert_denied, echoed_headers
from configs import provider
from tokens import KeySet


def remote_config() -> dict:
    remote = provider({"keys": []})
    del remote["local_jwks"]
    remote["remote_jwks"] = {"cluster": "idp", "authority": "idp.test", "path": "/.well-known/jwks.json",
                             "timeout_ms": 1000, "cache_duration_seconds": 300}
    return {
        "providers": {"remote": remote},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "remote"}}],
    }


def test_remote_jwks_is_fetched_and_a_new_kid_is_picked_up(tmp_path, keys):
    only_ec = {"keys": [k for k in keys.jwks()["keys"] if k["kid"] == "ec256-1"]}
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(only_ec))
    idp = harness.EchoUpstream(tmp_path, jwks_file=jwks_file)
    envoy = None
    try:
        idp.start()
        envoy = harness.Envoy(tmp_path, remote_config(), upstream_port=idp.port,
                              verifier_port=harness.free_port(), extra_clusters={"idp": idp.port})
        envoy.start()

        # No verifier configured: tokens without jti are fine, the decision is local.
        token = keys.token("ES256", sub="remote-user", jti=None)
        response = harness.wait_until(lambda: (r := envoy.request("/", token)).status == 200 and r,
                                      "the first JWKS fetch", timeout=30)
        assert echoed_headers(response)["x-jwt-sub"] == ["remote-user"]
        assert_denied(envoy.request("/", keys.token("ES256", aud="nope")), "audience_mismatch")

        # The IdP rotates in a new key: a token with the new kid is accepted without restarting Envoy.
        jwks_file.write_text(json.dumps(keys.jwks()))
        rotated = keys.token("EdDSA", sub="rotated-user")
        harness.wait_until(lambda: envoy.request("/", rotated).status == 200, "the new kid to be fetched", timeout=30)
        # A kid the IdP does not have is still refused.
        stranger = KeySet()
        assert_denied(envoy.request("/", stranger.token("ES256", headers={"kid": "unknown-kid"})), "key_not_found")
        assert envoy.stats().get(harness.stat_name("warden.jwks.fetch_success"), 0) >= 2
    finally:
        if envoy is not None:
            envoy.stop()
        idp.stop()
