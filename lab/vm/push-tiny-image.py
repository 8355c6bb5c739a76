#!/usr/bin/env python3
"""Build the lab's tiny image (a static busybox, ~1 MB compressed) and push it to a registry, with no Docker.

Usage: push-tiny-image.py BUSYBOX REGISTRY REPOSITORY TAG

One layer (bin/busybox, its applets as symlinks, /tmp, /etc/passwd and /etc/group), an image config and a
Docker schema 2 manifest, pushed over the registry's HTTP API (distribution v2, no auth). The layer is built
deterministically (fixed times and owners, gzip without a timestamp), so the same busybox gives the same
digests on every run. Prints the manifest's digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

APPLETS = ["sh", "ls", "cat", "echo", "id", "stat", "touch", "mkdir", "rm", "sleep", "true", "false", "env", "ps"]
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EPOCH = 1700000000


def _entry(name: str, kind: bytes, mode: int, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    for key, value in kw.items():
        setattr(info, key, value)
    return info


def build_layer(busybox: str) -> tuple[bytes, bytes]:
    """Return (uncompressed tar, gzipped tar) of the image's only layer."""
    with open(busybox, "rb") as handle:
        binary = handle.read()
    files = {
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in ("bin", "etc", "root"):
            tar.addfile(_entry(directory, tarfile.DIRTYPE, 0o755))
        tar.addfile(_entry("tmp", tarfile.DIRTYPE, 0o1777))
        tar.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, size=len(binary)), io.BytesIO(binary))
        for applet in APPLETS:
            tar.addfile(_entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox"))
        for name, content in files.items():
            tar.addfile(_entry(name, tarfile.REGTYPE, 0o644, size=len(content)), io.BytesIO(content))
    tar_bytes = raw.getvalue()
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(tar_bytes)
    return tar_bytes, compressed.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def request(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        return urllib.request.urlopen(req, timeout=30)  # noqa: S310 - the lab's own registry
    except urllib.error.HTTPError as err:
        body = err.read().decode(errors="replace")[:500]
        raise SystemExit(f"{method} {url}: HTTP {err.code} {body}") from err


def push_blob(base: str, repository: str, blob: bytes) -> str:
    digest = sha256(blob)
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/v2/{repository}/blobs/{digest}", method="HEAD"), timeout=30)  # noqa: S310
        return digest  # already there
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise
    start = request("POST", f"{base}/v2/{repository}/blobs/uploads/", data=b"")
    location = urllib.parse.urljoin(base + "/", start.headers["Location"])
    separator = "&" if "?" in location else "?"
    request(
        "PUT",
        f"{location}{separator}digest={urllib.parse.quote(digest)}",
        data=blob,
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(blob))},
    )
    return digest


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    busybox, registry, repository, tag = argv[1:]
    base = f"http://{registry}"
    tar_bytes, layer = build_layer(busybox)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2023-11-14T22:13:20Z",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "stacked-sparks VM lab: static busybox"}],
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    layer_digest = push_blob(base, repository, layer)
    config_digest = push_blob(base, repository, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": config_digest},
            "layers": [{"mediaType": LAYER_TYPE, "size": len(layer), "digest": layer_digest}],
        },
        indent=3,
    ).encode()
    request("PUT", f"{base}/v2/{repository}/manifests/{tag}", data=manifest, headers={"Content-Type": MANIFEST_TYPE})
    print(sha256(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
