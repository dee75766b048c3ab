#!/usr/bin/env bash
# Build the cluster's pod sandbox image without a registry: a static C binary
# (pause/pause.c) packed as a `docker save`-format archive (one layer, an image
# config, manifest.json), which `ctr -n k8s.io images import` reads.
#
# Usage: build-pause-image.sh <image reference> <output tar>
set -euo pipefail
ref="$1" out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/authgate-pause.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$(dirname "$out")"
gcc -static -Os -s -o "$work/rootfs/pause" "$here/pause/pause.c"
chmod 0755 "$work/rootfs/pause"
python3 - "$ref" "$work" "$out.partial" <<'PY'
import hashlib, io, json, sys, tarfile
ref, work, out = sys.argv[1:]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
    info = tar.gettarinfo(f"{work}/rootfs/pause", arcname="pause")
    info.uid = info.gid = 0; info.uname = info.gname = ""; info.mtime = 0
    with open(f"{work}/rootfs/pause", "rb") as f:
        tar.addfile(info, f)
layer_bytes = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
config = {
    "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
    "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/testenv/build-pause-image.sh"}],
}
config_bytes = json.dumps(config, sort_keys=True).encode()
config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
layer_name = diff_id.split(":")[1] + "/layer.tar"
manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]
with tarfile.open(out, mode="w") as tar:
    for name, data in ((config_name, config_bytes), (layer_name, layer_bytes),
                       ("manifest.json", json.dumps(manifest).encode())):
        info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
print(f"{ref}: layer {diff_id[:19]}, {len(layer_bytes)} bytes")
PY
mv "$out.partial" "$out"
