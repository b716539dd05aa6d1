#!/usr/bin/env bash
# A real single-node Kubernetes on 127.0.0.1 for the tests and `demo --cluster real`:
# etcd, kube-apiserver (RBAC + Node authorization), controller-manager, scheduler,
# containerd and one kubelet node, all from Debian's archive.
#
#   scripts/real-cluster.sh up       build once (cached), start everything, print KUBECONFIG=...
#   scripts/real-cluster.sh down     stop what `up` started, unmount, remove what it created
#   scripts/real-cluster.sh status   what runs, exit 0 when the node is Ready
#   scripts/real-cluster.sh env      print KUBECONFIG=... of the running cluster
#   scripts/real-cluster.sh build    only build (or find) the Kubernetes binaries
#
# Kubernetes v1.20.2 is the only release whose full source Debian's archive still ships
# (bullseye's kubernetes source package); we build kube-apiserver, the controller-manager,
# the scheduler and the kubelet from it once, keyed on the tarball's sha256, under
# ${XDG_CACHE_HOME:-~/.cache}/snapshotctl/real-cluster. etcd, containerd, runc and the
# CNI plugins come from apt. Nothing touches the host's sysctls or network: the kubelet
# runs in a private mount namespace where the sysctl files it wants to write are plain
# files, and pods get a veth pair whose both ends stay inside the pod's network namespace.
#
# Environment: SNAPSHOTCTL_REAL_DIR (state dir, default /var/tmp/snapshotctl-real-cluster),
# SNAPSHOTCTL_REAL_PORT_BASE (default 16440: etcd +0/+1, apiserver +3, kubelet +5/+6,
# controller-manager +7, scheduler +8, containerd stream +9).
set -euo pipefail

K8S_VERSION=v1.20.2
K8S_TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
K8S_SHA256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc
K8S_SIZE=34428927
K8S_URLS=(
  "http://deb.debian.org/debian/pool/main/k/kubernetes/$K8S_TARBALL"
  "http://archive.debian.org/debian/pool/main/k/kubernetes/$K8S_TARBALL"
)
APT_PACKAGES=(golang-go etcd-server containerd runc containernetworking-plugins
  golang-github-modern-go-reflect2-dev gcc libc6-dev openssl iproute2 util-linux curl)
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/snapshotctl/real-cluster
STATE=${SNAPSHOTCTL_REAL_DIR:-/var/tmp/snapshotctl-real-cluster}
PORT_BASE=${SNAPSHOTCTL_REAL_PORT_BASE:-16440}
MARKER=.snapshotctl-real-cluster
NODE=127.0.0.1

log() { printf 'real-cluster: %s\n' "$*" >&2; }
die() { printf 'real-cluster: error: %s\n' "$*" >&2; exit "${2:-1}"; }

# ---------------------------------------------------------------------------- build

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (containerd, the kubelet and CRIU need it)" 3; }

install_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing from apt: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed" 3
  }
}

fetch_source() {
  local dst=$CACHE/$K8S_TARBALL url
  mkdir -p "$CACHE"
  if [ -f "$dst" ] && [ "$(sha256sum "$dst" | cut -d' ' -f1)" = "$K8S_SHA256" ]; then
    printf '%s\n' "$dst"; return 0
  fi
  for url in "${K8S_URLS[@]}"; do
    log "downloading $url"
    if curl -fsSL --retry 3 -o "$dst.part" "$url"; then
      if [ "$(stat -c %s "$dst.part")" = "$K8S_SIZE" ] && [ "$(sha256sum "$dst.part" | cut -d' ' -f1)" = "$K8S_SHA256" ]; then
        mv "$dst.part" "$dst"; printf '%s\n' "$dst"; return 0
      fi
      log "$url: size or sha256 does not match bullseye's Sources index; ignored"
    fi
    rm -f "$dst.part"
  done
  die "could not fetch $K8S_TARBALL (sha256 $K8S_SHA256) from Debian's archive" 3
}

bin_dir() { printf '%s\n' "$CACHE/k8s-$K8S_VERSION-${K8S_SHA256:0:16}"; }

build() {
  local out; out=$(bin_dir)
  local c ok=1
  for c in "${COMPONENTS[@]}"; do [ -x "$out/$c" ] || ok=0; done
  [ -x "$out/pause" ] || ok=0
  if [ $ok = 1 ]; then log "using the cached build in $out"; return 0; fi
  install_packages
  local tarball; tarball=$(fetch_source)
  local work; work=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  log "building Kubernetes $K8S_VERSION from Debian's source (once; ~7-11 min on 2 cores)"
  local t0=$SECONDS
  mkdir -p "$work/gopath/src/k8s.io" "$work/out"
  tar -xzf "$tarball" -C "$work/gopath/src/k8s.io"
  mv "$work/gopath/src/k8s.io/kubernetes-1.20.2" "$work/gopath/src/k8s.io/kubernetes"
  local tree=$work/gopath/src/k8s.io/kubernetes
  # reflect2 1.0.1 (vendored) panics on Go >= 1.18; Debian's 1.0.2 is API-compatible.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod"
  (
    cd "$tree"
    export GOPATH=$work/gopath GO111MODULE=off CGO_ENABLED=0 GOCACHE=$work/gocache GOFLAGS= GOTOOLCHAIN=local
    # The tarball lacks the generated OpenAPI definitions the apiserver links against.
    go build -o "$work/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
    local dirs
    dirs=$(find -H . \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune -o -type f -name '*.go' -print \
      | sed 's|^./staging/src|vendor|; s|^\./||; s|/[^/]*$||' | LC_ALL=C sort -u \
      | while read -r d; do
          case $d in vendor/k8s.io/code-generator/*|vendor/k8s.io/sample-apiserver/*) continue ;; esac
          # shellcheck disable=SC2086
          if grep -l '^// *+k8s:openapi-gen=' "${d/#vendor\//staging/src/}"/*.go >/dev/null 2>&1; then echo "k8s.io/kubernetes/$d"; fi
        done | paste -sd, -)
    "$work/openapi-gen" -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
      -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$work/violations.report" >"$work/openapi.log" 2>&1 \
      || { tail -20 "$work/openapi.log" >&2; exit 1; }
    local date v ld=""
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for v in client-go/pkg/version component-base/version; do
      v=k8s.io/kubernetes/vendor/k8s.io/$v
      ld+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=20 -X $v.gitTreeState=clean"
      ld+=" -X $v.gitCommit=debian-bullseye-1.20.5+really1.20.2 -X $v.buildDate=$date"
    done
    go build -trimpath -ldflags "-s -w$ld" -o "$work/out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet
  ) || die "building Kubernetes failed (see above)" 3
  # The sandbox ("pause") image's one binary: reaps zombies, sleeps until signalled.
  gcc -static -O2 -o "$work/out/pause" "$HERE/real-cluster/pause.c" || die "building pause failed" 3
  rm -rf "$out"; mv "$work/out" "$out"
  log "built in $((SECONDS - t0)) s: $out"
}

case "${1:-}" in
  build) need_root; build ;;
  *) die "usage: $0 up|down|status|env|build" 2 ;;
esac
