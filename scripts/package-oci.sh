#!/usr/bin/env bash
# Packages the Warden .wasm as an OCI image layout that Istio's WasmPlugin can pull, without Docker.
#
#   scripts/package-oci.sh [--variant compat|oci] [--tag TAG] WASM_FILE OUT_DIR
#
# Variants of the Wasm image specification (solo-io/wasm spec, which Istio's fetcher implements):
#   compat (default)  one application/vnd.oci.image.layer.v1.tar+gzip layer holding plugin.wasm, a
#                     standard image config, manifest annotation module.wasm.image/variant=compat.
#                     Any registry and tool (skopeo, crane, oras, docker) handles it as a plain image.
#   oci               custom artifact media types: a runtime config layer
#                     (application/vnd.module.wasm.config.v1+json) and the raw module as
#                     application/vnd.module.wasm.content.layer.v1+wasm.
# The output is deterministic (same .wasm -> same digests). It prints the manifest digest, which is
# what WasmPlugin.spec.sha256 checks for an OCI image. Push it with e.g.
#   skopeo copy oci:OUT_DIR:TAG docker://REGISTRY/warden:TAG
#   oras cp --from-oci-layout OUT_DIR:TAG REGISTRY/warden:TAG
set -euo pipefail

variant="compat"
tag="latest"
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant="${2:?--variant needs compat or oci}"; shift 2 ;;
        --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        --*) echo "package-oci: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--variant compat|oci] [--tag TAG] WASM_FILE OUT_DIR" >&2; exit 2; }
case "$variant" in compat|oci) ;; *) echo "package-oci: --variant must be compat or oci" >&2; exit 2 ;; esac
wasm="$1" out="$2"
[ -f "$wasm" ] || { echo "package-oci: $wasm not found (build it with: make wasm)" >&2; exit 1; }

exec python3 - "$variant" "$tag" "$wasm" "$out" <<'PY'
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

variant, tag, wasm_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
wasm = wasm_path.read_bytes()
if wasm[:4] != b"\0asm":
    sys.exit(f"package-oci: {wasm_path} is not a WebAssembly module")

if out.exists():
    shutil.rmtree(out)
blobs = out / "blobs" / "sha256"
blobs.mkdir(parents=True)


def canonical(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def put_blob(data: bytes, media_type: str, annotations: dict | None = None) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    descriptor = {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
    if annotations:
        descriptor["annotations"] = annotations
    return descriptor


manifest_annotations = {"org.opencontainers.image.title": "warden", "org.opencontainers.image.version": tag}

if variant == "compat":
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size, info.mode, info.mtime, info.uid, info.gid = len(wasm), 0o644, 0, 0, 0
        tar.addfile(info, io.BytesIO(wasm))
    layer_tar = tar_bytes.getvalue()
    layer_gz = gzip.compress(layer_tar, compresslevel=9, mtime=0)
    image_config = {
        "architecture": "wasm",
        "os": "wasip1",
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
        "config": {},
    }
    config = put_blob(canonical(image_config), "application/vnd.oci.image.config.v1+json")
    layers = [put_blob(layer_gz, "application/vnd.oci.image.layer.v1.tar+gzip")]
    manifest_annotations["module.wasm.image/variant"] = "compat"
else:
    runtime_config = canonical({
        "type": "envoy_proxy",
        "abiVersions": ["v0.2.1"],
        "config": {"root_ids": ["warden"]},
    })
    config = put_blob(runtime_config, "application/vnd.module.wasm.config.v1+json")
    layers = [
        put_blob(runtime_config, "application/vnd.module.wasm.config.v1+json",
                 {"org.opencontainers.image.title": "runtime-config.json"}),
        put_blob(wasm, "application/vnd.module.wasm.content.layer.v1+wasm",
                 {"org.opencontainers.image.title": "plugin.wasm"}),
    ]

manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": config,
    "layers": layers,
    "annotations": manifest_annotations,
}
manifest_descriptor = put_blob(canonical(manifest), "application/vnd.oci.image.manifest.v1+json",
                               {"org.opencontainers.image.ref.name": tag})
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [manifest_descriptor],
}
(out / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
(out / "index.json").write_bytes(canonical(index))
print(f"{out} ({variant} variant, tag {tag}): manifest {manifest_descriptor['digest']}")
PY
