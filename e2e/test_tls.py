"""The filter -> verifier path over mutual TLS on the real Envoy with the real .wasm: the verifier
serves TLS and requires a client certificate from our CA on its check listener; Envoy's verifier
cluster uses the `transport_socket` shipped in envoy/envoy-mtls.yaml. A wrong client certificate is
refused by the verifier and the filter fails closed."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import uuid

import pytest
import yaml

import harness
from answers import assert_denied, assert_unavailable
from configs import plugin_config


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return harness.make_pki(tmp_path_factory.mktemp("pki"))


def verifier_tls(pki) -> harness.VerifierTls:
    return harness.VerifierTls(
        cert=pki / "verifier.crt", key=pki / "verifier.key", ca=pki / "ca.crt",
        client_ca=pki / "ca.crt", client_cert=pki / "envoy.crt", client_key=pki / "envoy.key",
    )


@pytest.fixture
def mtls_stack(tmp_path, keys, pki):
    """Redis, a verifier with TLS + client certificates, the echo upstream, and a factory for Envoys
    whose verifier cluster presents the client certificate `client` of `pki`."""
    parts = []

    def start(part):
        parts.append(part)
        return part.start()

    def envoy_with_client(client: str) -> harness.Envoy:
        tls_dir = harness.envoy_tls_dir(pki, tmp_path / f"envoy-tls-{client}", client=client)
        return start(harness.Envoy(
            tmp_path, plugin_config(keys.jwks()), upstream_port=upstream.port, verifier_port=verifier.port,
            verifier_transport_socket=harness.mtls_transport_socket(tls_dir),
        ))

    try:
        redis = start(harness.Redis(tmp_path))
        verifier = start(harness.Verifier(tmp_path, redis.url, tls=verifier_tls(pki)))
        upstream = start(harness.EchoUpstream(tmp_path))
        yield verifier, envoy_with_client
    finally:
        for part in reversed(parts):
            part.stop()


def render_mtls_config(tmp_path, keys, tls_dir) -> subprocess.CompletedProcess:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))
    rendered = tmp_path / "envoy-mtls.yaml"
    subprocess.run(
        [sys.executable, str(harness.ROOT / "scripts/render_config.py"), str(harness.MTLS_CONFIG), str(rendered),
         "--set", f"TLS_DIR={tls_dir}", "--set-json-string", f"DEMO_JWKS={jwks_file}"],
        check=True,
    )
    return rendered


def test_shipped_mtls_envoy_config_validates(tmp_path, keys, pki):
    tls_dir = harness.envoy_tls_dir(pki, tmp_path / "tls")
    rendered = render_mtls_config(tmp_path, keys, tls_dir)
    result = harness.envoy_validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr

    config = yaml.safe_load(rendered.read_text())
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "warden_verifier"]
    socket = cluster["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    context = socket["typed_config"]
    assert context["@type"].endswith("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
    common = context["common_tls_context"]
    assert common["validation_context"]["trusted_ca"]["filename"] == f"{tls_dir}/ca.crt"
    (identity,) = common["tls_certificates"]
    assert identity["certificate_chain"]["filename"] == f"{tls_dir}/envoy.crt"
    assert identity["private_key"]["filename"] == f"{tls_dir}/envoy.key"


def test_mtls_envoy_config_validation_reads_the_certificate_files(tmp_path, keys):
    """The validation above can fail: without the certificate files Envoy refuses the config."""
    rendered = render_mtls_config(tmp_path, keys, tmp_path / "no-such-dir")
    result = harness.envoy_validate(rendered)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "no-such-dir" in result.stdout + result.stderr


def test_filter_calls_the_verifier_over_mtls(mtls_stack, keys):
    verifier, envoy_with_client = mtls_stack
    envoy = envoy_with_client("envoy")
    sub = f"mtls-{uuid.uuid4().hex[:12]}"
    token = keys.token("ES256", sub=sub, jti="mtls-jti")
    response = envoy.request("/", token)
    assert response.status == 200, response
    assert ["x-jwt-sub", sub] in response.json()["headers"]

    # Revocation through the admin listener (TLS, bearer token, no client certificate).
    answer = verifier.admin("POST", "/v1/admin/revoke/token",
                            {"sub": sub, "jti": "mtls-jti", "exp": int(time.time()) + 600})
    assert answer.status == 200, answer
    assert_denied(envoy.request("/", token), "revoked")
    assert envoy.request("/", keys.token("ES256", sub=sub, jti="other-jti")).status == 200

    # Envoy really speaks TLS to it: the check listener refuses plain HTTP and clients without a
    # certificate from our CA.
    with pytest.raises((OSError, harness.http.client.HTTPException)):
        harness.http_request(verifier.port, "GET", "/readyz", timeout=5)
    with pytest.raises((ssl.SSLError, OSError, harness.http.client.HTTPException)):
        harness.http_request(verifier.port, "GET", "/readyz", timeout=5,
                             ssl_context=verifier.tls.context(with_client_cert=False))
    stats = envoy.stats("cluster.warden_verifier.ssl.handshake")
    assert stats.get("cluster.warden_verifier.ssl.handshake", 0) >= 1, stats


def test_wrong_client_certificate_is_refused_and_the_filter_fails_closed(mtls_stack, keys):
    verifier, envoy_with_client = mtls_stack
    envoy = envoy_with_client("rogue-envoy")
    token = keys.token("ES256", sub=f"rogue-{uuid.uuid4().hex[:12]}")
    assert_unavailable(envoy.request("/", token))
    # Decided locally, before any verifier call: still a 401, and open routes still work.
    assert_denied(envoy.request("/", keys.token("ES256", aud="other")), "audience_mismatch")
    assert envoy.request("/healthz").status == 200
    harness.wait_until(lambda: "TLS handshake refused" in verifier.proc.log_text()
                       and "invalid peer certificate" in verifier.proc.log_text(),
                       "the verifier to log the refused handshake", timeout=10, proc=verifier.proc)
    stats = envoy.stats()
    assert stats.get(harness.stat_name("warden.verifier.failure"), 0) >= 1, stats
    assert stats.get(harness.stat_name("warden.allowed"), 0) == 0, stats
