"""The verifier's container image from `make image` (scripts/package-verifier-image.sh): a valid OCI
image layout that skopeo reads, holding a static binary that runs from the unpacked layer as the
non-root user the manifests expect, with CA certificates; the Dockerfile and istio/verifier.yaml
agree with it."""

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

pytestmark = pytest.mark.build_independent("the verifier's container image: no Envoy")

SCRIPT = harness.ROOT / "scripts" / "package-verifier-image.sh"
TAG = "0.1.0"
UID = 65532


def musl_ready() -> str | None:
    if shutil.which("musl-gcc") is None:
        return "musl-gcc (musl-tools) is not installed; scripts/setup.sh installs it where apt is usable"
    targets = subprocess.run(["rustup", "target", "list", "--installed"], capture_output=True,
                             text=True).stdout.split()
    if "x86_64-unknown-linux-musl" not in targets:
        return "the Rust target x86_64-unknown-linux-musl is not installed"
    return None


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    missing = musl_ready()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("image") / "warden-verifier"
    # `--profile image-test`: the same packaging of the same static binary as `make image`, unoptimised.
    done = subprocess.run(["bash", str(SCRIPT), "--tag", TAG, "--profile", "image-test", str(out)],
                          capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("sha256:")
    return out


def blob(layout, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def manifest_and_config(layout) -> tuple[dict, dict]:
    index = json.loads((layout / "index.json").read_text())
    (descriptor,) = index["manifests"]
    assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == TAG
    manifest = json.loads(blob(layout, descriptor["digest"]))
    return manifest, json.loads(blob(layout, manifest["config"]["digest"]))


def unpack(layout, into):
    manifest, _ = manifest_and_config(layout)
    (layer,) = manifest["layers"]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(layout, layer["digest"])))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        tar.extractall(into, filter="tar")
    return members


def test_layout_is_a_valid_oci_image(layout):
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    manifest, config = manifest_and_config(layout)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    for descriptor in [manifest["config"], *manifest["layers"]]:
        data = blob(layout, descriptor["digest"])
        assert len(data) == descriptor["size"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(blob(layout, layer["digest"]))).hexdigest()
    assert config["rootfs"]["diff_ids"] == [diff_id]
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["User"] == f"{UID}:{UID}"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/warden-verifier"]
    assert config["config"]["Cmd"] == ["serve"]


def test_skopeo_inspects_the_layout(layout):
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed (scripts/setup.sh installs it where apt is usable)")
    source = f"oci:{layout}:{TAG}"
    inspected = json.loads(subprocess.run([skopeo, "inspect", source], capture_output=True,
                                          text=True, check=True).stdout)
    assert inspected["Os"] == "linux" and inspected["Architecture"] == "amd64"
    assert len(inspected["Layers"]) == 1
    assert inspected["Labels"]["org.opencontainers.image.version"] == TAG
    config = json.loads(subprocess.run([skopeo, "inspect", "--config", source], capture_output=True,
                                       text=True, check=True).stdout)
    assert config["config"]["User"] == f"{UID}:{UID}"


def test_the_binary_runs_from_the_unpacked_layer(layout, tmp_path):
    root = tmp_path / "rootfs"
    members = unpack(layout, root)
    binary = root / "usr/local/bin/warden-verifier"
    assert members["usr/local/bin/warden-verifier"].mode == 0o755
    # Static: no program interpreter, so it runs on scratch.
    elf = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True, text=True, check=True)
    assert "INTERP" not in elf.stdout
    assert f"warden:x:{UID}:{UID}:" in (root / "etc/passwd").read_text()
    assert "BEGIN CERTIFICATE" in (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert members["tmp"].mode == 0o1777

    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("warden-verifier ")

    redis = harness.Redis(tmp_path).start()
    verifier = harness.Verifier(tmp_path, redis.url)
    verifier.proc.argv[0] = str(binary)
    try:
        verifier.start()
        revoke = verifier.admin("POST", "/v1/admin/revoke/token", {"sub": "alice", "jti": "j1"})
        assert revoke.status == 200, revoke
        for jti, allowed in (("j1", False), ("j2", True)):
            answer = harness.http_request(verifier.port, "POST", "/v1/check",
                                          {"content-type": "application/json"},
                                          {"sub": "alice", "jti": jti, "exp": 0})
            assert answer.status == 200 and answer.json()["allow"] is allowed, answer
    finally:
        verifier.stop()
        redis.stop()


def test_manifest_and_dockerfile_use_the_image(layout):
    _, config = manifest_and_config(layout)
    deployment = next(d for d in yaml.safe_load_all((harness.ROOT / "istio/verifier.yaml").read_text())
                      if d and d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    name, _, tag = container["image"].rpartition(":")
    assert name.endswith("/warden-verifier") and "example.com" not in name
    assert tag == config["config"]["Labels"]["org.opencontainers.image.version"]
    assert container["securityContext"]["runAsUser"] == UID
    assert container["args"] == config["config"]["Cmd"]
    dockerfile = (harness.ROOT / "Dockerfile").read_text()
    assert "FROM scratch" in dockerfile
    assert f"USER {UID}:{UID}" in dockerfile
    assert 'ENTRYPOINT ["/usr/local/bin/warden-verifier"]' in dockerfile
    assert "x86_64-unknown-linux-musl" in dockerfile
