#!/usr/bin/env bash
# Build the authgate container image.
#
#   scripts/build-image.sh [--offline] [--tag TAG] [--base IMAGE] [-- extra docker build args]
#
# --offline fills build/wheelhouse/ on this host first (the authgate wheel plus
# manylinux cp311 wheels of every runtime dependency), so the Dockerfile installs
# with `pip --no-index` and the build runs with `--network none`. Use it
# where containers cannot reach PyPI (air-gapped CI, this project's test sandbox).
# Without it the wheelhouse is removed and the build installs from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=authgate:dev
BASE=""
OFFLINE=0
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
while [ $# -gt 0 ]; do
  case "$1" in
    --offline) OFFLINE=1 ;;
    --tag) TAG=$2; shift ;;
    --base) BASE=$2; shift ;;
    --) shift; break ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

rm -rf build/wheelhouse
if [ "$OFFLINE" = 1 ]; then
  mkdir -p build/wheelhouse
  "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir build/wheelhouse .
  "$PYTHON" -m pip download --quiet --dest build/wheelhouse --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    build/wheelhouse/authgate-*.whl
fi

args=(--tag "$TAG" --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")
[ -n "$BASE" ] && args+=(--build-arg "BASE_IMAGE=$BASE")
# Offline means hermetic: the build gets no network at all.
[ "$OFFLINE" = 1 ] && args+=(--network none)
docker build "${args[@]}" "$@" .
docker image inspect --format '{{.Size}}' "$TAG" | awk -v t="$TAG" '{printf "%s: %.1f MiB\n", t, $1/1048576}'
