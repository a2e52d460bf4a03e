"""An OCI image layout (image-spec `image-layout.md`) written deterministically: the same inputs
give the same digests. Used by scripts/package-oci.sh (the .wasm for Istio) and
scripts/package-verifier-image.sh (the verifier's container image)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
TAR_GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def canonical(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


class Layout:
    """A fresh layout in `out` (an existing folder there is replaced)."""

    def __init__(self, out: Path):
        self.out = out
        if out.exists():
            shutil.rmtree(out)
        self.blobs = out / "blobs" / "sha256"
        self.blobs.mkdir(parents=True)

    def put_blob(self, data: bytes, media_type: str, annotations: dict | None = None) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        descriptor = {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
        if annotations:
            descriptor["annotations"] = annotations
        return descriptor

    def finish(self, manifests: list[dict], index_media_type: bool = True) -> None:
        index: dict = {"schemaVersion": 2, "manifests": manifests}
        if index_media_type:
            index["mediaType"] = "application/vnd.oci.image.index.v1+json"
        (self.out / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
        (self.out / "index.json").write_bytes(canonical(index))


class TarLayer:
    """A layer's tar with fixed times and owners; `tar` is the uncompressed layer (its digest is
    the image config's diff_id), `gzip` the blob."""

    def __init__(self):
        self._bytes = io.BytesIO()
        self._tar = tarfile.open(fileobj=self._bytes, mode="w", format=tarfile.PAX_FORMAT)

    def add_dir(self, name: str, mode: int = 0o755, owner: int = 0) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.uid, info.gid = tarfile.DIRTYPE, mode, 0, owner, owner
        self._tar.addfile(info)

    def add_file(self, name: str, data: bytes, mode: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), mode, 0, 0, 0
        self._tar.addfile(info, io.BytesIO(data))

    def close(self) -> tuple[bytes, bytes]:
        """(tar, gzip) of the finished layer."""
        self._tar.close()
        tar = self._bytes.getvalue()
        return tar, gzip.compress(tar, compresslevel=9, mtime=0)


def diff_id(tar: bytes) -> str:
    return f"sha256:{hashlib.sha256(tar).hexdigest()}"
