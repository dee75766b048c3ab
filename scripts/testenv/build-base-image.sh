#!/usr/bin/env bash
# Build the debootstrapped Debian bookworm + python3 root filesystem tarball
# that stands in for a registry base image (no container registry is
# reachable). `docker import <tarball> authgate-base:bookworm` loads it.
#
# Usage: build-base-image.sh <suite> <mirror> <output tarball>
set -euo pipefail
suite="$1" mirror="$2" out="$3"
root="$(mktemp -d "${TMPDIR:-/tmp}/authgate-rootfs.XXXXXX")"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$root" "$mirror"
# Keep the image small and reproducible-ish: no apt lists or caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
mkdir -p "$(dirname "$out")"
tar --numeric-owner -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
ls -l "$out"
