#!/usr/bin/env bash
# `go install <pkg>@<version>` into a version-keyed cache directory.
#
# Usage: build-go-install.sh <package> <version> <output dir> [ldflags]
set -euo pipefail
pkg="$1" version="$2" out="$3" ldflags="${4:-}"
mkdir -p "$out"
export GOBIN="$out" CGO_ENABLED=0 GOWORK=off GOFLAGS="-buildvcs=false"
go install -trimpath -ldflags "-s -w ${ldflags}" "${pkg}@${version}"
ls -l "$out"
