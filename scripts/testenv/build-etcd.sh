#!/usr/bin/env bash
# Build etcd from the Go module proxy.
#
# go.etcd.io/etcd/server/v3 (whose root package is the `etcd` main package
# since 3.5) has relative replace directives, so `go install ...@v` refuses
# it; a scratch wrapper module requiring it builds fine, because replace
# directives of dependencies are ignored and its requirements name real tags.
#
# Usage: build-etcd.sh <version, e.g. v3.6.16> <output dir>
set -euo pipefail
version="$1" out="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/authgate-etcd-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOWORK=off
go mod init authgate.local/etcd-build >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@${version}"
mkdir -p "$out"
go build -trimpath -ldflags "-s -w" -o "$out/etcd.partial" go.etcd.io/etcd/server/v3
mv "$out/etcd.partial" "$out/etcd"
"$out/etcd" --version
