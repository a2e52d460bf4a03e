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

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}" \
    exec python3 - "$variant" "$tag" "$wasm" "$out" <<'PY'
import sys
from pathlib import Path

from oci_layout import IMAGE_CONFIG, MANIFEST, TAR_GZIP_LAYER, Layout, TarLayer, canonical, diff_id

variant, tag, wasm_path, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
wasm = wasm_path.read_bytes()
if wasm[:4] != b"\0asm":
    sys.exit(f"package-oci: {wasm_path} is not a WebAssembly module")

layout = Layout(out)
manifest_annotations = {"org.opencontainers.image.title": "warden", "org.opencontainers.image.version": tag}

if variant == "compat":
    layer = TarLayer()
    layer.add_file("plugin.wasm", wasm, 0o644)
    layer_tar, layer_gz = layer.close()
    image_config = {
        "architecture": "wasm",
        "os": "wasip1",
        "rootfs": {"type": "layers", "diff_ids": [diff_id(layer_tar)]},
        "config": {},
    }
    config = layout.put_blob(canonical(image_config), IMAGE_CONFIG)
    layers = [layout.put_blob(layer_gz, TAR_GZIP_LAYER)]
    manifest_annotations["module.wasm.image/variant"] = "compat"
else:
    runtime_config = canonical({
        "type": "envoy_proxy",
        "abiVersions": ["v0.2.1"],
        "config": {"root_ids": ["warden"]},
    })
    config = layout.put_blob(runtime_config, "application/vnd.module.wasm.config.v1+json")
    layers = [
        layout.put_blob(runtime_config, "application/vnd.module.wasm.config.v1+json",
                        {"org.opencontainers.image.title": "runtime-config.json"}),
        layout.put_blob(wasm, "application/vnd.module.wasm.content.layer.v1+wasm",
                        {"org.opencontainers.image.title": "plugin.wasm"}),
    ]

manifest = {
    "schemaVersion": 2,
    "mediaType": MANIFEST,
    "config": config,
    "layers": layers,
    "annotations": manifest_annotations,
}
manifest_descriptor = layout.put_blob(canonical(manifest), MANIFEST, {"org.opencontainers.image.ref.name": tag})
layout.finish([manifest_descriptor])
print(f"{out} ({variant} variant, tag {tag}): manifest {manifest_descriptor['digest']}")
PY
