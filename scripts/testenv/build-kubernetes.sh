#!/usr/bin/env bash
# Build Kubernetes commands (kube-apiserver, kubelet, ...) from the Go module proxy.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@vX` fails because
# k8s.io/kubernetes's go.mod replaces its staging modules (k8s.io/api, ...)
# with relative paths (kubernetes/kubernetes#79384). A scratch wrapper module
# re-points each `k8s.io/<staging> v0.0.0` requirement at the published
# `v0.<minor>.<patch>` tag. Do NOT `go mod tidy`: it would re-resolve the graph.
#
# All commands named are built by ONE `go build` invocation, so the packages
# they share are compiled once (and the Go build cache makes a later build of
# other commands of the same version cheap: the link step dominates).
#
# Usage: build-kubernetes.sh <version, e.g. v1.37.2> <output dir> <cmd>...
#   e.g. build-kubernetes.sh v1.37.2 out kubelet kube-scheduler kubectl
set -euo pipefail
version="$1" out="$2"; shift 2
cmds=("$@")
[ "${#cmds[@]}" -gt 0 ] || { echo "usage: $0 <version> <out> <cmd>..." >&2; exit 2; }
minor_patch="${version#v1.}"                       # 37.2
staging_version="v0.${minor_patch}"                # v0.37.2
major="1" minor="${minor_patch%%.*}"
work="$(mktemp -d "${TMPDIR:-/tmp}/authgate-kube-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOWORK=off
go mod init authgate.local/kubernetes-build >/dev/null 2>&1
gomod="$(go mod download -json "k8s.io/kubernetes@${version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
# every `k8s.io/xxx v0.0.0` requirement in the tag's go.mod is a staging module
grep -E '^\s*k8s\.io/[^ ]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | sort -u | while read -r mod; do
  echo "replace ${mod} => ${mod} ${staging_version}"
done >> go.mod
echo "wrapper go.mod: $(grep -c '^replace' go.mod) staging replaces -> ${staging_version}"
pkgs=()
for cmd in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${cmd}"); done
go get "${pkgs[@]/%/@${version}}"
v=k8s.io/component-base/version
ldflags="-s -w -X ${v}.gitVersion=${version} -X ${v}.gitMajor=${major} -X ${v}.gitMinor=${minor}"
ldflags+=" -X ${v}.gitTreeState=clean -X ${v}.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=${version} -X k8s.io/client-go/pkg/version.gitMajor=${major} -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
mkdir -p "$out" "$work/bin"
go build -trimpath -ldflags "$ldflags" -o "$work/bin/" "${pkgs[@]}"
for cmd in "${cmds[@]}"; do   # rename into place only after the whole build succeeded
  mv "$work/bin/$cmd" "$out/$cmd.partial"
  mv "$out/$cmd.partial" "$out/$cmd"
  echo "$cmd: $("$out/$cmd" --version 2>/dev/null || "$out/$cmd" version --client 2>/dev/null | head -n1)"
done
