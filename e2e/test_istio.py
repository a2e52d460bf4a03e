"""Offline checks of istio/: manifests parse and hold what docs/istio.md promises, the WasmPlugin's
pluginConfig runs in the real plugin (in Envoy, with clusters named as Istio names them), and the OCI
image layout from scripts/package-oci.sh is what Istio's Wasm image fetcher accepts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile

import pytest
import yaml

import harness
from answers import assert_denied, echoed_headers

ISTIO = harness.ROOT / "istio"


def load_all(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((ISTIO / name).read_text()) if doc]


def wasm_plugin() -> dict:
    (plugin,) = load_all("wasmplugin.yaml")
    return plugin


@pytest.mark.build_independent("reads the istio/ manifests: no Envoy")
def test_wasm_plugin_resource_shape():
    plugin = wasm_plugin()
    assert plugin["apiVersion"] == "extensions.istio.io/v1alpha1"
    assert plugin["kind"] == "WasmPlugin"
    spec = plugin["spec"]
    assert spec["phase"] == "AUTHN"
    assert spec["failStrategy"] == "FAIL_CLOSE"
    assert spec["url"].startswith("oci://")
    assert spec["selector"]["matchLabels"]
    assert spec["match"][0]["ports"][0]["number"] > 0
    verifier = spec["pluginConfig"]["verifier"]
    assert verifier["cluster"] == "outbound|8081||warden-verifier.warden.svc.cluster.local"
    assert verifier["failure_mode"] == "deny"


@pytest.mark.build_independent("reads the istio/ manifests: no Envoy")
def test_verifier_and_redis_manifests():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load_all("verifier.yaml") + load_all("redis.yaml")}
    deployment = docs[("Deployment", "warden-verifier")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WARDEN_LISTEN"].endswith(":8081")
    assert env["WARDEN_REDIS_URL"].startswith("redis://warden-redis.warden.svc.cluster.local:")
    service_ports = {p["port"] for p in docs[("Service", "warden-verifier")]["spec"]["ports"]}
    assert 8081 in service_ports
    assert ("StatefulSet", "warden-redis") in docs and ("Service", "warden-redis") in docs
    # The cluster name in the WasmPlugin points at this Service.
    namespace = docs[("Service", "warden-verifier")]["metadata"]["namespace"]
    expected = f"outbound|8081||warden-verifier.{namespace}.svc.cluster.local"
    assert wasm_plugin()["spec"]["pluginConfig"]["verifier"]["cluster"] == expected


def test_istio_plugin_config_runs_in_the_real_plugin(tmp_path, keys):
    """Istio passes pluginConfig to the plugin as JSON; run exactly that in Envoy with the clusters
    Istio would create, a JWKS endpoint on the IdP cluster and a real verifier."""
    spec = wasm_plugin()["spec"]
    config = spec["pluginConfig"]
    provider = config["providers"]["idp"]
    jwks_cluster = provider["remote_jwks"]["cluster"]
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(keys.jwks()))

    parts = []
    try:
        redis = harness.Redis(tmp_path)
        parts.append(redis)
        redis.start()
        verifier = harness.Verifier(tmp_path, redis.url)
        parts.append(verifier)
        verifier.start()
        upstream = harness.EchoUpstream(tmp_path, jwks_file=jwks_file)
        parts.append(upstream)
        upstream.start()
        envoy = harness.Envoy(
            tmp_path, json.dumps(config), upstream_port=upstream.port, verifier_port=verifier.port,
            verifier_cluster=config["verifier"]["cluster"], extra_clusters={jwks_cluster: upstream.port},
        )
        parts.append(envoy)
        envoy.start()

        claims = {"iss": provider["issuer"], "aud": provider["audiences"][0]}
        token = keys.token("ES256", sub="istio-user", **claims)
        response = harness.wait_until(lambda: (r := envoy.request("/orders", token)).status == 200 and r,
                                      "the remote JWKS to be fetched", timeout=30)
        assert echoed_headers(response)["x-jwt-sub"] == ["istio-user"]
        assert envoy.request("/healthz").status == 200
        assert envoy.request("/orders").status == 401
        assert_denied(envoy.request("/orders", keys.token("EdDSA", **claims)), "algorithm_not_allowed")
        assert "invalid configuration" not in envoy.proc.log_text()
    finally:
        for part in reversed(parts):
            part.stop()


def read_blob(layout, descriptor: dict) -> bytes:
    algorithm, hexdigest = descriptor["digest"].split(":")
    assert algorithm == "sha256"
    data = (layout / "blobs" / "sha256" / hexdigest).read_bytes()
    assert hashlib.sha256(data).hexdigest() == hexdigest, descriptor
    assert len(data) == descriptor["size"], descriptor
    return data


def package(tmp_path, variant: str):
    layout = tmp_path / variant
    result = subprocess.run(
        ["bash", str(harness.ROOT / "scripts/package-oci.sh"), "--variant", variant, "--tag", "0.1.0",
         str(harness.WASM_FILE), str(layout)],
        capture_output=True, text=True, check=True,
    )
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    (descriptor,) = index["manifests"]
    assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == "0.1.0"
    assert descriptor["digest"] in result.stdout
    manifest = json.loads(read_blob(layout, descriptor))
    assert manifest["schemaVersion"] == 2
    config = read_blob(layout, manifest["config"])
    layers = [(layer, read_blob(layout, layer)) for layer in manifest["layers"]]
    return descriptor, manifest, config, layers


@pytest.mark.wasm_only("the .wasm packaged as an OCI image for Istio")
@pytest.mark.parametrize("variant", ["compat", "oci"])
def test_oci_layout_is_valid_and_deterministic(tmp_path, variant):
    wasm = harness.require_file(harness.WASM_FILE, "build it with `make wasm`").read_bytes()
    descriptor, manifest, config, layers = package(tmp_path, variant)
    if variant == "compat":
        # What Istio's fetcher does for the compat variant: one tar+gzip layer with plugin.wasm.
        assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
        assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
        ((layer, blob),) = layers
        assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        raw_tar = gzip.decompress(blob)
        assert json.loads(config)["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(raw_tar).hexdigest()}"]
        with tarfile.open(fileobj=io.BytesIO(raw_tar)) as tar:
            member = tar.extractfile("plugin.wasm")
            assert member is not None and member.read() == wasm
    else:
        # The oci variant: exactly two layers, the runtime config and the raw module.
        assert manifest["config"]["mediaType"] == "application/vnd.module.wasm.config.v1+json"
        assert json.loads(config)["type"] == "envoy_proxy"
        assert len(layers) == 2
        by_type = {layer["mediaType"]: blob for layer, blob in layers}
        assert by_type["application/vnd.module.wasm.content.layer.v1+wasm"] == wasm
        assert json.loads(by_type["application/vnd.module.wasm.config.v1+json"])["type"] == "envoy_proxy"
    again, *_ = package(tmp_path / "again", variant)
    assert again["digest"] == descriptor["digest"]


@pytest.mark.wasm_only("the .wasm packaged as an OCI image for Istio")
@pytest.mark.parametrize("variant", ["compat", "oci"])
def test_skopeo_reads_and_copies_the_oci_layout(tmp_path, variant):
    """An independent OCI implementation verifies the digests while copying the image out."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed (scripts/setup.sh installs it where apt is usable)")
    descriptor, manifest, _, _ = package(tmp_path, variant)
    source = f"oci:{tmp_path / variant}:0.1.0"
    inspected = subprocess.run([skopeo, "inspect", "--raw", source], capture_output=True, text=True, check=True)
    assert json.loads(inspected.stdout) == manifest
    copied = tmp_path / "copied"
    subprocess.run([skopeo, "copy", "--quiet", source, f"dir:{copied}"], capture_output=True, text=True, check=True)
    wasm = harness.WASM_FILE.read_bytes()
    blobs = [p.read_bytes() for p in copied.iterdir() if p.name not in ("manifest.json", "version")]
    if variant == "oci":
        assert wasm in blobs
    else:
        (layer,) = [b for b in blobs if b[:2] == b"\x1f\x8b"]
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
            assert tar.extractfile("plugin.wasm").read() == wasm


@pytest.mark.wasm_only("the .wasm packaged as an OCI image for Istio")
def test_package_oci_refuses_a_non_wasm_file(tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm")
    result = subprocess.run(["bash", str(harness.ROOT / "scripts/package-oci.sh"), str(bogus), str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "not a WebAssembly module" in result.stderr


@pytest.mark.build_independent("reads the istio/ manifests: no Envoy")
def test_underscore_headers_are_refused_at_the_protected_workloads():
    (patch,) = load_all("headers-with-underscores.yaml")
    assert patch["kind"] == "EnvoyFilter"
    assert patch["spec"]["workloadSelector"]["labels"] == wasm_plugin()["spec"]["selector"]["matchLabels"]
    assert patch["metadata"]["namespace"] == wasm_plugin()["metadata"]["namespace"]
    (config_patch,) = patch["spec"]["configPatches"]
    typed = config_patch["patch"]["value"]["typed_config"]
    assert typed["common_http_protocol_options"]["headers_with_underscores_action"] == "REJECT_REQUEST"


# --- Claims for AuthorizationPolicy (docs/istio.md) ------------------------------------------------

def claim_header_names(plugin_config: dict) -> set[str]:
    return {m["header_name"] for p in plugin_config["providers"].values() for m in p.get("claim_to_headers", [])}


def istio_value(value: str) -> dict:
    """An AuthorizationPolicy condition value as Istio turns it into an Envoy string matcher."""
    if value == "*":
        return {"safe_regex": {"regex": ".+"}}
    if value.endswith("*"):
        return {"prefix": value[:-1]}
    if value.startswith("*"):
        return {"suffix": value[1:]}
    return {"exact": value}


def istio_rbac(policy: dict) -> dict:
    """The Envoy RBAC filter Istio makes of an ALLOW AuthorizationPolicy, for the parts the recipe
    uses (operation paths, `request.headers[...]` conditions); anything else fails the test."""
    spec = policy["spec"]
    assert spec["action"] == "ALLOW"
    policies = {}
    for i, rule in enumerate(spec["rules"]):
        assert set(rule) <= {"to", "when"}, rule
        (to,) = rule["to"]
        assert set(to["operation"]) == {"paths"}, to
        paths = [{"url_path": {"path": istio_value(p)}} for p in to["operation"]["paths"]]
        conditions = []
        for condition in rule.get("when", []):
            assert set(condition) == {"key", "values"}, condition
            name = condition["key"].removeprefix("request.headers[").removesuffix("]")
            assert condition["key"] == f"request.headers[{name}]", condition
            conditions.append({"or_ids": {"ids": [
                {"header": {"name": name, "string_match": istio_value(v)}} for v in condition["values"]]}})
        principal = {"and_ids": {"ids": conditions}} if conditions else {"any": True}
        policies[f"ns[{policy['metadata']['namespace']}]-policy[{policy['metadata']['name']}]-rule[{i}]"] = {
            "permissions": [{"or_rules": {"rules": paths}}], "principals": [principal]}
    return {"name": "envoy.filters.http.rbac", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
        "rules": {"action": "ALLOW", "policies": policies}}}


@pytest.mark.build_independent("reads the istio/ manifests: no Envoy")
def test_authorization_policy_conditions_name_headers_the_filter_owns():
    (policy,) = load_all("authorizationpolicy-claims.yaml")
    plugin = wasm_plugin()
    assert policy["kind"] == "AuthorizationPolicy"
    assert policy["metadata"]["namespace"] == plugin["metadata"]["namespace"]
    assert policy["spec"]["selector"] == plugin["spec"]["selector"]
    # AUTHN: the WasmPlugin runs before Istio's authorization filter, which then sees its headers.
    assert plugin["spec"]["phase"] == "AUTHN"
    owned = claim_header_names(plugin["spec"]["pluginConfig"])
    keys = [c["key"] for rule in policy["spec"]["rules"] for c in rule.get("when", [])]
    assert keys
    for key in keys:
        assert key.startswith("request.headers[") and key[len("request.headers["):-1] in owned, key


def local_plugin_config(keys) -> dict:
    """The WasmPlugin's pluginConfig with the IdP's keys inline and no verifier (the revocation
    check is test_istio_plugin_config_runs_in_the_real_plugin's business)."""
    config = json.loads(json.dumps(wasm_plugin()["spec"]["pluginConfig"]))
    provider = config["providers"]["idp"]
    del provider["remote_jwks"]
    provider["local_jwks"] = {"inline_string": json.dumps(keys.jwks())}
    del config["verifier"]
    return config


@pytest.fixture
def envoy_after_warden(tmp_path, keys):
    """Starts Envoy with the WasmPlugin's configuration, then `filters`; yields a starter."""
    import rbackit

    parts = []

    def start(filters: list[dict]) -> int:
        upstream = harness.EchoUpstream(tmp_path).start()
        parts.append(upstream)
        config, listen, admin = rbackit.bootstrap(tmp_path, local_plugin_config(keys), upstream.port, filters)
        parts.append(rbackit.start(tmp_path, config, listen, admin))
        return listen

    try:
        yield start
    finally:
        for part in reversed(parts):
            part.stop()


def idp_token(keys, **claims) -> str:
    provider = wasm_plugin()["spec"]["pluginConfig"]["providers"]["idp"]
    return keys.token("ES256", iss=provider["issuer"], aud=provider["audiences"][0], **claims)


@pytest.mark.wasm_only("a recipe for Istio, which runs Warden as the WasmPlugin")
def test_authorization_policy_recipe_on_real_envoy(envoy_after_warden, keys):
    """The AuthorizationPolicy as Istio's RBAC filter, after Warden: alice passes, bob does not,
    and bob cannot pass as alice by sending her claim header."""
    from rbackit import get

    (policy,) = load_all("authorizationpolicy-claims.yaml")
    port = envoy_after_warden([istio_rbac(policy)])
    alice = get(port, "/orders/1", idp_token(keys, sub="alice"))
    assert alice.status == 200, alice
    assert echoed_headers(alice)["x-jwt-sub"] == ["alice"]
    assert get(port, "/orders/1", idp_token(keys, sub="bob")).status == 403
    forged = get(port, "/orders/1", idp_token(keys, sub="bob"), {"x-jwt-sub": "alice"})
    assert forged.status == 403 and forged.body == b"RBAC: access denied", forged
    # No token: Warden answers first.
    assert get(port, "/orders/1", headers={"x-jwt-sub": "alice"}).status == 401
    assert get(port, "/healthz").status == 200


@pytest.mark.wasm_only("a recipe for Istio, which runs Warden as the WasmPlugin")
def test_envoyfilter_rbac_recipe_on_real_envoy(envoy_after_warden, keys):
    """The EnvoyFilter's RBAC filter after Warden, on the filter state the WasmPlugin's provider
    writes: a subject, a group in an array claim, a scope word."""
    from rbackit import get

    (envoy_filter,) = load_all("rbac-claims-envoyfilter.yaml")
    plugin = wasm_plugin()
    assert envoy_filter["kind"] == "EnvoyFilter"
    assert envoy_filter["spec"]["workloadSelector"]["labels"] == plugin["spec"]["selector"]["matchLabels"]
    (patch,) = envoy_filter["spec"]["configPatches"]
    assert patch["applyTo"] == "HTTP_FILTER" and patch["patch"]["operation"] == "INSERT_BEFORE"
    assert patch["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == "envoy.filters.http.router"
    key = plugin["spec"]["pluginConfig"]["providers"]["idp"]["payload_in_filter_state"]
    text = json.dumps(patch["patch"]["value"])
    assert f'"wasm.{key}.sub"' in text and f'"wasm.{key}.groups"' in text and f'"wasm.{key}.scope"' in text
    port = envoy_after_warden([patch["patch"]["value"]])

    def post(path, token):
        return harness.http_request(port, "POST", path, [("authorization", f"Bearer {token}")], body=b"{}")

    assert get(port, "/orders/1", idp_token(keys, sub="alice")).status == 200
    assert get(port, "/orders/1", idp_token(keys, sub="bob"), {"x-jwt-sub": "alice"}).status == 403
    assert get(port, "/admin/users", idp_token(keys, sub="carol", groups=["dev", "admins"])).status == 200
    assert get(port, "/admin/users", idp_token(keys, sub="dave", groups=["dev"])).status == 403
    assert post("/orders", idp_token(keys, sub="erin", scope="read write")).status == 200
    assert post("/orders", idp_token(keys, sub="frank", scope="read writer")).status == 403
    assert get(port, "/healthz").status == 200
