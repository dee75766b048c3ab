#!/usr/bin/env bash
# Installs what `make bench` needs, idempotently:
#   wrk, nginx (Debian packages), oha (crates.io, cached in ~/.cache/authgate/oha),
#   oauth2-proxy v7 (Go module proxy, same cache path as the test environment).
# Prints the exports to source (also appended to nothing: env.sh belongs to testenv).
set -euo pipefail
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/authgate"
mkdir -p "$CACHE"
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

# oha: a fixed-rate load generator with latency correction (optional: the
# harness falls back to its own generator when it is missing).  The first
# build takes 10-40 minutes on 2 cores; AUTHGATE_BENCH_NO_OHA=1 skips it.
if [ ! -x "$CACHE/oha/bin/oha" ] && [ -z "${AUTHGATE_BENCH_NO_OHA:-}" ] && command -v cargo >/dev/null; then
  echo "building oha (cargo install --locked oha) ..." >&2
  cargo install --locked oha --root "$CACHE/oha" >"$CACHE/oha-build.log" 2>&1 \
    || echo "oha build failed (see $CACHE/oha-build.log); using the built-in generator" >&2
fi

# oauth2-proxy: reuse the test environment's build, else build the same way.
O2P_VERSION="${OAUTH2_PROXY_VERSION:-v7.15.6}"
if [ -z "${AUTHGATE_OAUTH2_PROXY:-}" ] || [ ! -x "${AUTHGATE_OAUTH2_PROXY}" ]; then
  out="$CACHE/oauth2-proxy-$O2P_VERSION"
  if [ ! -x "$out/oauth2-proxy" ]; then
    echo "building oauth2-proxy $O2P_VERSION ..." >&2
    here="$(cd "$(dirname "$0")/.." && pwd)"
    bash "$here/scripts/testenv/build-go-install.sh" \
      github.com/oauth2-proxy/oauth2-proxy/v7 "$O2P_VERSION" "$out" >"$CACHE/oauth2-proxy-build.log" 2>&1
  fi
  echo "export AUTHGATE_OAUTH2_PROXY=$out/oauth2-proxy"
fi
echo "export AUTHGATE_OHA=$CACHE/oha/bin/oha"
