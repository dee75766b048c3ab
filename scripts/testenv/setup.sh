#!/usr/bin/env bash
# `make testenv`: build or find every component of the real test environment.
#
# Everything is cached outside the clone, keyed by version, under
#   ${XDG_CACHE_HOME:-~/.cache}/authgate/<tool>-<version>/
# so CI's fresh clone on the same machine finds it warm (a warm run takes
# seconds). Writes ~/.cache/authgate/env.sh with the exports the pytest
# fixtures read (docs/testenv-api.md). Idempotent; safe to run concurrently
# (a lock serialises runs). Prints each phase's duration and each binary.
#
# Only registries are reachable: Go tools are built from the Go module proxy,
# Keycloak comes from Maven Central, Docker and debootstrap from Debian.
set -euo pipefail

K8S_VERSION="${AUTHGATE_K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${AUTHGATE_ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${AUTHGATE_HELM_VERSION:-v3.22.0}"
OAUTH2_PROXY_VERSION="${AUTHGATE_OAUTH2_PROXY_VERSION:-v7.15.6}"
CRICTL_VERSION="${AUTHGATE_CRICTL_VERSION:-v1.34.0}"
COREDNS_VERSION="${AUTHGATE_COREDNS_VERSION:-v1.15.0}"
# The one-node cluster's commands, built together from the apiserver's wrapper module.
KUBE_NODE_CMDS=(kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
PAUSE_IMAGE="authgate.local/pause:1"
KEYCLOAK_VERSION="${AUTHGATE_KEYCLOAK_VERSION:-26.7.3}"
KEYCLOAK_BUILD_OPTIONS="--db=dev-file --health-enabled=true"
BASE_SUITE="bookworm"

# dockerd, debootstrap and nginx live in sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/authgate"
LOGS="$CACHE/logs"
mkdir -p "$CACHE" "$LOGS"

exec 9>"$CACHE/setup.lock"
if ! flock -n 9; then
  echo "testenv: another setup is running; waiting for it"
  flock 9
fi

total_start=$(date +%s)
SUMMARY=()

# phase NAME LOGFILE COMMAND... : run a step, time it, fail loudly with the log tail.
phase() {
  local name="$1" log="$2"; shift 2
  local start; start=$(date +%s)
  if ! "$@" >>"$log" 2>&1; then
    echo "testenv: FAILED: $name (log: $log)" >&2
    echo "----- last 60 lines of $log -----" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  local took=$(( $(date +%s) - start ))
  SUMMARY+=("$(printf '%-16s %5ss' "$name" "$took")")
  printf 'testenv: %-16s %5ss\n' "$name" "$took"
}

# --- apt packages ----------------------------------------------------------
apt_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v mvn >/dev/null || missing+=(maven)
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  # The one-node cluster: CRI runtime, OCI runtime, CNI plugins, kube-proxy's iptables,
  # and gcc + the static libc for the pause binary.
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v gcc >/dev/null || missing+=(gcc)
  [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/libc.a ] || missing+=(libc6-dev)
  # The real-browser tests (tests/browser): Debian's chromium and its chromedriver.
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v go >/dev/null || { echo "Go toolchain not found on PATH" >&2; return 1; }
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" != 0 ]; then echo "need root to apt-get install ${missing[*]}" >&2; return 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

# --- Go tools --------------------------------------------------------------
build_etcd() {
  [ -x "$CACHE/etcd-$ETCD_VERSION/etcd" ] || \
    bash "$HERE/build-etcd.sh" "$ETCD_VERSION" "$CACHE/etcd-$ETCD_VERSION"
}
build_kube_apiserver() {
  [ -x "$CACHE/kube-apiserver-$K8S_VERSION/kube-apiserver" ] || \
    bash "$HERE/build-kube-apiserver.sh" "$K8S_VERSION" "$CACHE/kube-apiserver-$K8S_VERSION"
}
# The rest of the one-node cluster, in ONE go build (after kube-apiserver, whose build
# warmed the Go build cache: this is mostly linking). kube-apiserver keeps its own
# directory so an existing cache stays valid.
build_kube_node() {
  local out="$CACHE/kubernetes-$K8S_VERSION" cmd missing=0
  for cmd in "${KUBE_NODE_CMDS[@]}"; do [ -x "$out/$cmd" ] || missing=1; done
  [ "$missing" = 0 ] || bash "$HERE/build-kubernetes.sh" "$K8S_VERSION" "$out" "${KUBE_NODE_CMDS[@]}"
}
build_crictl() {
  local out="$CACHE/crictl-$CRICTL_VERSION"
  [ -x "$out/crictl" ] || bash "$HERE/build-go-install.sh" sigs.k8s.io/cri-tools/cmd/crictl \
    "$CRICTL_VERSION" "$out" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"
}
build_coredns() {
  local out="$CACHE/coredns-$COREDNS_VERSION"
  [ -x "$out/coredns" ] || bash "$HERE/build-go-install.sh" github.com/coredns/coredns \
    "$COREDNS_VERSION" "$out"
}
build_pause_image() {
  local tar="$CACHE/pause-image/pause-$(sha256sum "$HERE/pause/pause.c" | cut -c1-12).tar"
  [ -f "$tar" ] || bash "$HERE/build-pause-image.sh" "$PAUSE_IMAGE" "$tar"
  PAUSE_TAR="$tar"
}

build_helm() {
  local out="$CACHE/helm-$HELM_VERSION" pkg="helm.sh/helm/${HELM_VERSION%%.*}"
  [ -x "$out/helm" ] || bash "$HERE/build-go-install.sh" "$pkg/cmd/helm" "$HELM_VERSION" "$out" \
    "-X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
}
build_oauth2_proxy() {
  local out="$CACHE/oauth2-proxy-$OAUTH2_PROXY_VERSION" pkg=github.com/oauth2-proxy/oauth2-proxy/v7
  [ -x "$out/oauth2-proxy" ] || bash "$HERE/build-go-install.sh" "$pkg" "$OAUTH2_PROXY_VERSION" \
    "$out" "-X $pkg/pkg/version.VERSION=$OAUTH2_PROXY_VERSION"
}

# --- Keycloak --------------------------------------------------------------
install_keycloak() {
  local dir="$CACHE/keycloak-$KEYCLOAK_VERSION" zip
  zip="$CACHE/downloads/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  if [ -f "$dir/home/.authgate-build-options" ] && \
     [ "$(cat "$dir/home/.authgate-build-options")" = "$KEYCLOAK_BUILD_OPTIONS" ]; then
    return 0
  fi
  if [ ! -f "$zip" ]; then
    mvn -q -B dependency:copy \
      "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
      "-DoutputDirectory=$CACHE/downloads"
  fi
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial"
  unzip -q "$zip" -d "$dir.partial"
  mv "$dir.partial/keycloak-$KEYCLOAK_VERSION" "$dir.partial/home"
  # shellcheck disable=SC2086 # the options are words
  "$dir.partial/home/bin/kc.sh" build $KEYCLOAK_BUILD_OPTIONS
  rm -rf "$dir.partial/home/data"
  echo "$KEYCLOAK_BUILD_OPTIONS" > "$dir.partial/home/.authgate-build-options"
  # Swap in the new build; sessions running from hard-linked copies are unaffected.
  if [ -e "$dir" ]; then mv "$dir" "$dir.old.$$"; fi
  mv "$dir.partial" "$dir"
  rm -rf "$dir.old.$$"
}

# --- Docker base image -------------------------------------------------------
debian_mirror() {
  local uri
  uri="$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
          | grep -v security | grep -oE 'https?://[^ ]+' | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}
build_base_image() {
  local tar="$CACHE/base-image-$BASE_SUITE/rootfs.tar"
  [ -f "$tar" ] || bash "$HERE/build-base-image.sh" "$BASE_SUITE" "$(debian_mirror)" "$tar"
}

# Network/disk-bound steps run in the background alongside the CPU-bound Go builds.
background() {
  local name="$1"; shift
  ( phase "$name" "$LOGS/$name.log" "$@" ) &
  BG_PIDS+=("$!:$name")
}

echo "testenv: cache $CACHE (logs in $LOGS)"
phase apt-packages "$LOGS/apt-packages.log" apt_packages
BG_PIDS=()
background keycloak install_keycloak
background base-image build_base_image
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ] && \
   [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]; then
  echo "testenv: using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS (already set)"
  ASSETS="$KUBEBUILDER_ASSETS"
else
  phase etcd "$LOGS/etcd-$ETCD_VERSION.log" build_etcd
  phase kube-apiserver "$LOGS/kube-apiserver-$K8S_VERSION.log" build_kube_apiserver
  ASSETS="$CACHE/kubebuilder-assets-$K8S_VERSION-etcd-$ETCD_VERSION"
  mkdir -p "$ASSETS"
  ln -sfn "$CACHE/etcd-$ETCD_VERSION/etcd" "$ASSETS/etcd"
  ln -sfn "$CACHE/kube-apiserver-$K8S_VERSION/kube-apiserver" "$ASSETS/kube-apiserver"
fi
phase kubernetes-node "$LOGS/kubernetes-node-$K8S_VERSION.log" build_kube_node
phase crictl "$LOGS/crictl-$CRICTL_VERSION.log" build_crictl
phase coredns "$LOGS/coredns-$COREDNS_VERSION.log" build_coredns
PAUSE_TAR=""
phase pause-image "$LOGS/pause-image.log" build_pause_image
phase helm "$LOGS/helm-$HELM_VERSION.log" build_helm
phase oauth2-proxy "$LOGS/oauth2-proxy-$OAUTH2_PROXY_VERSION.log" build_oauth2_proxy
failed=0
for entry in "${BG_PIDS[@]}"; do
  wait "${entry%%:*}" || { echo "testenv: background phase ${entry#*:} failed" >&2; failed=1; }
done
[ "$failed" = 0 ] || exit 1

# kubectl at the server's version (the machine's Debian kubectl is v1.32).
KUBECTL="$CACHE/kubernetes-$K8S_VERSION/kubectl"
cat > "$CACHE/env.sh.partial" <<ENV
# Written by scripts/testenv/setup.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ)); source it before pytest.
export KUBEBUILDER_ASSETS="$ASSETS"
export AUTHGATE_HELM="$CACHE/helm-$HELM_VERSION/helm"
export AUTHGATE_KUBECTL="$KUBECTL"
export AUTHGATE_OAUTH2_PROXY="$CACHE/oauth2-proxy-$OAUTH2_PROXY_VERSION/oauth2-proxy"
export AUTHGATE_KEYCLOAK_HOME="$CACHE/keycloak-$KEYCLOAK_VERSION/home"
export AUTHGATE_DOCKERD="$(command -v dockerd)"
export AUTHGATE_BASE_IMAGE_TAR="$CACHE/base-image-$BASE_SUITE/rootfs.tar"
export AUTHGATE_KUBE_NODE_BIN="$CACHE/kubernetes-$K8S_VERSION"
export AUTHGATE_CRICTL="$CACHE/crictl-$CRICTL_VERSION/crictl"
export AUTHGATE_COREDNS="$CACHE/coredns-$COREDNS_VERSION/coredns"
export AUTHGATE_PAUSE_IMAGE_TAR="$PAUSE_TAR"
export AUTHGATE_PAUSE_IMAGE="$PAUSE_IMAGE"
export AUTHGATE_CONTAINERD="$(command -v containerd)"
export AUTHGATE_CNI_BIN_DIR="/usr/lib/cni"
ENV
mv "$CACHE/env.sh.partial" "$CACHE/env.sh"

# shellcheck source=/dev/null
source "$CACHE/env.sh"
echo "testenv: components"
printf '  %-16s %s  (%s)\n' \
  etcd "$KUBEBUILDER_ASSETS/etcd" "$("$KUBEBUILDER_ASSETS/etcd" --version | head -n1)" \
  kube-apiserver "$KUBEBUILDER_ASSETS/kube-apiserver" "$("$KUBEBUILDER_ASSETS/kube-apiserver" --version)" \
  helm "$AUTHGATE_HELM" "$("$AUTHGATE_HELM" version --short)" \
  kubectl "$AUTHGATE_KUBECTL" "$("$AUTHGATE_KUBECTL" version --client 2>/dev/null | head -n1)" \
  oauth2-proxy "$AUTHGATE_OAUTH2_PROXY" "$("$AUTHGATE_OAUTH2_PROXY" --version 2>&1 | head -n1)" \
  keycloak "$AUTHGATE_KEYCLOAK_HOME" "$(cat "$AUTHGATE_KEYCLOAK_HOME/version.txt")" \
  dockerd "$AUTHGATE_DOCKERD" "$("$AUTHGATE_DOCKERD" --version)" \
  base-image "$AUTHGATE_BASE_IMAGE_TAR" "$(du -h "$AUTHGATE_BASE_IMAGE_TAR" | cut -f1)" \
  kubelet "$AUTHGATE_KUBE_NODE_BIN/kubelet" "$("$AUTHGATE_KUBE_NODE_BIN/kubelet" --version)" \
  kube-proxy "$AUTHGATE_KUBE_NODE_BIN/kube-proxy" "$("$AUTHGATE_KUBE_NODE_BIN/kube-proxy" --version)" \
  crictl "$AUTHGATE_CRICTL" "$("$AUTHGATE_CRICTL" --version)" \
  coredns "$AUTHGATE_COREDNS" "$("$AUTHGATE_COREDNS" -version | head -n1)" \
  containerd "$AUTHGATE_CONTAINERD" "$("$AUTHGATE_CONTAINERD" --version)" \
  runc "$(command -v runc)" "$(runc --version | head -n1)" \
  pause-image "$AUTHGATE_PAUSE_IMAGE_TAR" "$AUTHGATE_PAUSE_IMAGE"
echo "testenv: env file $CACHE/env.sh"
echo "testenv: total $(( $(date +%s) - total_start ))s"
