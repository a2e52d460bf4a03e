#!/usr/bin/env bash
# Builds the warden-verifier container image as an OCI image layout, without Docker:
# a static x86_64-unknown-linux-musl binary, CA certificates (for rediss:// with public CAs), a
# passwd/group naming the non-root user 65532 ("warden") the image runs as. One layer,
# deterministic (same binary -> same digests).
#
#   scripts/package-verifier-image.sh [--tag TAG] [--binary PATH] [--profile PROFILE] OUT_DIR
#
# Without --binary it runs `cargo build --profile PROFILE --target x86_64-unknown-linux-musl -p warden-verifier`
# (PROFILE `image` by default; the e2e test packages an `image-test` build: same static binary,
# unoptimised, a fraction of the build time). Needs `rustup target add x86_64-unknown-linux-musl`
# and musl-gcc from musl-tools for ring's C; scripts/setup.sh installs both for `make image`. Push with e.g.
#   skopeo copy oci:OUT_DIR:TAG docker://REGISTRY/warden-verifier:TAG
set -euo pipefail

tag="0.1.0"
binary=""
profile="image"
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        --*) echo "package-verifier-image: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--tag TAG] [--binary PATH] [--profile PROFILE] OUT_DIR" >&2; exit 2; }
out="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
target="x86_64-unknown-linux-musl"

if [ -z "$binary" ]; then
    command -v musl-gcc >/dev/null 2>&1 || {
        echo "package-verifier-image: musl-gcc not found (Debian: apt-get install musl-tools; make setup does it)" >&2
        exit 1
    }
    rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target" >/dev/null
    CC_x86_64_unknown_linux_musl=musl-gcc \
        cargo build --quiet --profile "$profile" --target "$target" -p warden-verifier --manifest-path "$root/Cargo.toml"
    binary="$root/target/$target/$profile/warden-verifier"
fi
[ -f "$binary" ] || { echo "package-verifier-image: $binary not found" >&2; exit 1; }

ca_bundle=""
for candidate in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    if [ -f "$candidate" ]; then ca_bundle="$candidate"; break; fi
done
[ -n "$ca_bundle" ] || { echo "package-verifier-image: no CA bundle found (Debian: apt-get install ca-certificates)" >&2; exit 1; }

PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" \
    exec python3 - "$tag" "$binary" "$ca_bundle" "$out" <<'PY'
import sys
from pathlib import Path

from oci_layout import IMAGE_CONFIG, MANIFEST, TAR_GZIP_LAYER, Layout, TarLayer, canonical, diff_id

tag, binary_path, ca_path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
binary = binary_path.read_bytes()
if binary[:4] != b"\x7fELF":
    sys.exit(f"package-verifier-image: {binary_path} is not an ELF binary")
# A static binary has no PT_INTERP (program interpreter) segment.
if b"/lib64/ld-linux" in binary[:4096] or b"/lib/ld-musl" in binary[:4096]:
    sys.exit(f"package-verifier-image: {binary_path} is dynamically linked; build for x86_64-unknown-linux-musl")

UID = 65532
layout = Layout(out)
layer = TarLayer()
for d in ("etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "usr/local/bin"):
    layer.add_dir(d)
layer.add_dir("tmp", 0o1777)
layer.add_dir("home", 0o755)
layer.add_dir("home/warden", 0o700, UID)
layer.add_file("etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\nwarden:x:{UID}:{UID}:warden:/home/warden:/sbin/nologin\n".encode(), 0o644)
layer.add_file("etc/group", f"root:x:0:\nwarden:x:{UID}:\n".encode(), 0o644)
layer.add_file("etc/ssl/certs/ca-certificates.crt", ca_path.read_bytes(), 0o644)
layer.add_file("usr/local/bin/warden-verifier", binary, 0o755)
layer_tar, layer_gz = layer.close()

image_config = {
    "architecture": "amd64",
    "os": "linux",
    "created": "1970-01-01T00:00:00Z",
    "config": {
        "User": f"{UID}:{UID}",
        "Entrypoint": ["/usr/local/bin/warden-verifier"],
        "Cmd": ["serve"],
        "Env": [
            "PATH=/usr/local/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            "WARDEN_LISTEN=0.0.0.0:8081",
            "WARDEN_ADMIN_LISTEN=0.0.0.0:8082",
        ],
        "ExposedPorts": {"8081/tcp": {}, "8082/tcp": {}},
        "WorkingDir": "/home/warden",
        "Labels": {"org.opencontainers.image.title": "warden-verifier",
                   "org.opencontainers.image.version": tag},
    },
    "rootfs": {"type": "layers", "diff_ids": [diff_id(layer_tar)]},
    "history": [{"created": "1970-01-01T00:00:00Z",
                 "created_by": "scripts/package-verifier-image.sh (static musl binary, CA bundle, user 65532)"}],
}
config_desc = layout.put_blob(canonical(image_config), IMAGE_CONFIG)
layer_desc = layout.put_blob(layer_gz, TAR_GZIP_LAYER)
manifest = {
    "schemaVersion": 2,
    "mediaType": MANIFEST,
    "config": config_desc,
    "layers": [layer_desc],
    "annotations": {"org.opencontainers.image.title": "warden-verifier",
                    "org.opencontainers.image.version": tag},
}
manifest_desc = layout.put_blob(canonical(manifest), MANIFEST)
manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
layout.finish([manifest_desc], index_media_type=False)
print(manifest_desc["digest"])
PY
