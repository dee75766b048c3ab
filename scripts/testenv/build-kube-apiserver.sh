#!/usr/bin/env bash
# Build kube-apiserver (kept for the cache layout and older callers):
# see build-kubernetes.sh.  Usage: build-kube-apiserver.sh <version> <output dir>
set -euo pipefail
exec bash "$(dirname "$0")/build-kubernetes.sh" "$1" "$2" kube-apiserver
