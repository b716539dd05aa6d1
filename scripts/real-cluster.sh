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
#   scripts/real-cluster.sh import F  import OCI image archives into the node's containerd
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
  golang-github-modern-go-reflect2-dev gcc libc6-dev openssl iproute2 util-linux curl busybox-static)
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
  trap 'rm -rf "$work"; trap - RETURN' RETURN
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

# ---------------------------------------------------------------------------- images

# Write an OCI image archive that `ctr images import` accepts, from a root-filesystem
# directory: one uncompressed layer, no registry. Usage: oci_archive ROOTFS NAME OUT.tar ENTRY...
# shellcheck source=lib/oci.sh
. "$HERE/lib/oci.sh"

PAUSE_IMAGE=localhost/snapshotctl/pause:1
TOOLS_IMAGE=localhost/snapshotctl/test-placeholder:3

# The sandbox image (our static pause) and a tools image (static busybox: sh, cat, cp,
# rm, sleep) for test workers and the CLI's helper pods.
base_images() {
  local out; out=$(bin_dir)
  [ -f "$out/pause.tar" ] && [ -f "$out/tools-3.tar" ] && return 0
  install_packages
  local r; r=$(mktemp -d)
  mkdir -p "$r/p"
  cp "$out/pause" "$r/p/pause"
  oci_archive "$r/p" "$PAUSE_IMAGE" "$out/pause.tar" /pause
  add_busybox "$r/t"
  cp "$out/pause" "$r/t/bin/pause"
  oci_archive "$r/t" "$TOOLS_IMAGE" "$out/tools-3.tar" /bin/sh
  rm -rf "$r"
}

# ---------------------------------------------------------------------------- up

P_ETCD=$PORT_BASE P_ETCD_PEER=$((PORT_BASE + 1)) P_API=$((PORT_BASE + 3))
P_KUBELET=$((PORT_BASE + 5)) P_KUBELET_HEALTH=$((PORT_BASE + 6))
P_CM=$((PORT_BASE + 7)) P_SCHED=$((PORT_BASE + 8))
ALL_PORTS=("$P_ETCD" "$P_ETCD_PEER" "$P_API" "$P_KUBELET" "$P_KUBELET_HEALTH" "$P_CM" "$P_SCHED")
CGROUP_ROOT=/snapshotctl-real-cluster
# Host paths the kubelet and containerd use whatever their flags say; `down` removes
# the ones that did not exist before `up`.
FIXED_PATHS=(/var/log/pods /var/log/containers /var/lib/kubelet /run/containerd /run/snapshot-agent)

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pki() {
  local d=$STATE/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=snapshotctl-real-cluster-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1
  openssl genrsa -out "$d/sa.key" 2048 >/dev/null 2>&1
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" >/dev/null 2>&1
  # name  subject  [SANs]
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=snapshotctl-admin"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet-client "/O=system:nodes/CN=system:node:$NODE"
  cert kubelet "/CN=$NODE" "IP:127.0.0.1,DNS:localhost"
}
cert() {
  local d=$STATE/pki name=$1 subj=$2 san=${3:-}
  openssl genrsa -out "$d/$name.key" 2048 >/dev/null 2>&1
  openssl req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr" >/dev/null 2>&1
  local ext=$d/$name.ext
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"; [ -n "$san" ] && echo "subjectAltName=$san"; } >"$ext"
  openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$ext" -out "$d/$name.crt" >/dev/null 2>&1
  rm -f "$d/$name.csr" "$ext"
}
kubeconfig() { # name user
  local d=$STATE/pki
  cat >"$STATE/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: real
  cluster:
    server: https://127.0.0.1:$P_API
    certificate-authority: $d/ca.crt
users:
- name: $2
  user:
    client-certificate: $d/$2.crt
    client-key: $d/$2.key
contexts:
- name: real
  context: {cluster: real, user: $2, namespace: default}
current-context: real
KC
}

# start NAME BINARY CMD...: run CMD in the background in its own session (it execs into
# BINARY), recording its PID and BINARY so that `down` signals exactly it and nothing else.
start() {
  local name=$1 exe; exe=$(readlink -f "$2"); shift 2
  setsid "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo "$! $exe" >"$STATE/pids/$name"
}
# The recorded PID of NAME, only while it still runs the recorded binary.
recorded_pid() {
  local f=$STATE/pids/$1 pid exe now
  [ -f "$f" ] || return 1
  read -r pid exe <"$f"
  now=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${now% (deleted)}" = "$exe" ] || return 1
  echo "$pid"
}

wait_for() { # what seconds cmd...
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && { log "$what not ready after ${secs} s; its log:"; tail -15 "$STATE/logs/$what.log" >&2 2>/dev/null; return 1; }
    sleep 0.3
  done
}

kctl() { kubectl --kubeconfig "$STATE/admin.kubeconfig" "$@"; }

# A failed `up` keeps the logs (in the cache dir) and removes everything else.
fail_up() {
  rm -rf "$CACHE/last-failed-up"; cp -r "$STATE/logs" "$CACHE/last-failed-up" 2>/dev/null || true
  log "logs kept in $CACHE/last-failed-up"
  down_quiet
}

up() {
  need_root
  if [ -f "$STATE/$MARKER" ] && recorded_pid kube-apiserver >/dev/null; then
    log "already running"; echo "KUBECONFIG=$STATE/admin.kubeconfig"; return 0
  fi
  [ -e "$STATE" ] && [ ! -f "$STATE/$MARKER" ] && die "$STATE exists and was not made by this script; remove it or set SNAPSHOTCTL_REAL_DIR" 2
  [ -f "$STATE/$MARKER" ] && down_quiet
  local p
  for p in "${ALL_PORTS[@]}"; do
    port_taken "$p" && die "port $p on 127.0.0.1 is in use; stop what holds it or set SNAPSHOTCTL_REAL_PORT_BASE" 3
  done
  [ -S /run/containerd/containerd.sock ] && log "note: a host containerd runs at /run/containerd; ours uses its own socket"
  build
  base_images
  command -v kubectl >/dev/null || die "kubectl is not installed (Debian trixie's kubectl works against v1.20)" 3
  local bin; bin=$(bin_dir)
  local t0=$SECONDS
  mkdir -p "$STATE"/{pids,logs,etcd,containerd/root,containerd/state,cni/net.d,cni/bin,cni/ipam,kubelet,kubelet-plugins,seccomp,checkpoints,sysctl}
  touch "$STATE/$MARKER"
  : >"$STATE/created-paths"
  for p in "${FIXED_PATHS[@]}"; do [ -e "$p" ] || echo "$p" >>"$STATE/created-paths"; done
  for p in /run/containerd/s/*; do [ -e "$p" ] && echo "$p"; done >"$STATE/preexisting-shim-sockets" 2>/dev/null || true
  pki
  kubeconfig admin admin; kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler; kubeconfig kubelet kubelet-client

  start etcd "$(command -v etcd)" etcd --name real --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$P_ETCD" --advertise-client-urls "http://127.0.0.1:$P_ETCD" \
    --listen-peer-urls "http://127.0.0.1:$P_ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$P_ETCD_PEER" \
    --initial-cluster "real=http://127.0.0.1:$P_ETCD_PEER" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$P_ETCD/health" || { fail_up; die "etcd did not start" 3; }

  local d=$STATE/pki
  start kube-apiserver "$bin/kube-apiserver" "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$P_ETCD" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$P_API" --insecure-port 0 \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" --client-ca-file "$d/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.0.0.0/24 --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction --allow-privileged=true --endpoint-reconciler-type none \
    --kubelet-client-certificate "$d/apiserver-kubelet-client.crt" --kubelet-client-key "$d/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$d/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
    --profiling=false
  wait_for kube-apiserver 90 kctl get --raw /readyz || { fail_up; die "kube-apiserver did not become ready" 3; }

  start kube-controller-manager "$bin/kube-controller-manager" "$bin/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$P_CM" --port 0 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
    --cluster-signing-cert-file "$d/ca.crt" --cluster-signing-key-file "$d/ca.key" --controllers '*,-nodeipam,-cloud-node-lifecycle' \
    --profiling=false
  start kube-scheduler "$bin/kube-scheduler" "$bin/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$P_SCHED" --port 0 --leader-elect=false --profiling=false

  start_containerd || { fail_up; die "containerd did not start" 3; }
  start_kubelet || { fail_up; die "the kubelet did not start" 3; }
  local end=$((SECONDS + 120))
  until kctl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; do
    [ $SECONDS -ge $end ] && { tail -20 "$STATE/logs/kubelet.log" >&2; fail_up; die "the node did not become Ready within 120 s" 3; }
    sleep 0.5
  done
  # Pods wait for the default ServiceAccount, which the controller-manager makes.
  end=$((SECONDS + 60))
  until kctl get serviceaccount default >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && { fail_up; die "no default ServiceAccount after 60 s" 3; }
    sleep 0.3
  done
  log "up in $((SECONDS - t0)) s: node $NODE Ready ($(kctl get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}'))"
  echo "KUBECONFIG=$STATE/admin.kubeconfig"
}

CTR_SOCK() { echo "$STATE/containerd/containerd.sock"; }
ctr_() { ctr --address "$(CTR_SOCK)" -n k8s.io "$@"; }

start_containerd() {
  local c=$STATE/containerd
  install -m 0755 "$HERE/real-cluster/cni-netns.sh" "$STATE/cni/bin/snapshotctl-netns"
  # containerd's CRI always runs the loopback plugin too (one bin_dir, not a search path).
  install -m 0755 /usr/lib/cni/loopback "$STATE/cni/bin/loopback"
  cat >"$STATE/cni/net.d/10-snapshotctl.conf" <<CNI
{"cniVersion":"0.4.0","name":"snapshotctl-loopback","type":"snapshotctl-netns","ipamDir":"$STATE/cni/ipam","subnet":"10.88.0"}
CNI
  cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$STATE/cni/bin"
    conf_dir = "$STATE/cni/net.d"
TOML
  start containerd "$(command -v containerd)" containerd --config "$c/config.toml"
  wait_for containerd 30 ctr --address "$(CTR_SOCK)" version || return 1
  local bin; bin=$(bin_dir)
  ctr_ images import "$bin/pause.tar" >/dev/null || return 1
  ctr_ images import "$bin/tools-3.tar" >/dev/null || return 1
  local img
  return 0
}

start_kubelet() {
  local ctl
  for ctl in /sys/fs/cgroup/*/; do
    [ -L "${ctl%/}" ] && continue
    mkdir -p "$ctl$CGROUP_ROOT" 2>/dev/null || continue
    if [ -f "$ctl/cpuset.cpus" ]; then
      cat "$ctl/cpuset.cpus" >"$ctl$CGROUP_ROOT/cpuset.cpus"; cat "$ctl/cpuset.mems" >"$ctl$CGROUP_ROOT/cpuset.mems"
    fi
  done
  mkdir -p "$STATE/seccomp/profiles"
  cp "$HERE/../manifests/seccomp/"*.json "$STATE/seccomp/profiles/" 2>/dev/null || true
  local d=$STATE/pki
  cat >"$STATE/kubelet.yaml" <<KCFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $P_KUBELET
healthzBindAddress: 127.0.0.1
healthzPort: $P_KUBELET_HEALTH
readOnlyPort: 0
tlsCertFile: $d/kubelet.crt
tlsPrivateKeyFile: $d/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $d/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: false
volumePluginDir: $STATE/kubelet-plugins
nodeStatusUpdateFrequency: 2s
nodeStatusReportFrequency: 10s
syncFrequency: 5s
fileCheckFrequency: 5s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
KCFG
  # The sysctls kubelet 1.20 insists on writing, as plain files in its own mount namespace.
  echo 1 >"$STATE/sysctl/overcommit_memory"; echo 10 >"$STATE/sysctl/panic"; echo 1 >"$STATE/sysctl/panic_on_oops"
  # Its root dir is shared, so the secret and token mounts it makes in its namespace reach runc.
  mount --bind "$STATE/kubelet" "$STATE/kubelet" && mount --make-rshared "$STATE/kubelet"
  echo "$STATE/kubelet" >"$STATE/mounted"
  local bin; bin=$(bin_dir)
  start kubelet "$bin/kubelet" unshare --mount --propagation unchanged -- /bin/sh -c '
    mount --bind "$1/sysctl/overcommit_memory" /proc/sys/vm/overcommit_memory &&
    mount --bind "$1/sysctl/panic" /proc/sys/kernel/panic &&
    mount --bind "$1/sysctl/panic_on_oops" /proc/sys/kernel/panic_on_oops || exit 1
    shift; exec "$@"' sh "$STATE" \
    "$bin/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
    --container-runtime remote --container-runtime-endpoint "unix://$(CTR_SOCK)" \
    --containerd "$(CTR_SOCK)" --containerd-namespace k8s.io --root-dir "$STATE/kubelet" \
    --cert-dir "$STATE/pki" --seccomp-profile-root "$STATE/seccomp" --hostname-override "$NODE" \
    --pod-infra-container-image "$PAUSE_IMAGE" --image-pull-progress-deadline 10s --v 1
  wait_for kubelet 60 curl -fsS "http://127.0.0.1:$P_KUBELET_HEALTH/healthz"
}

# Checkpoint storage: $STATE/checkpoints holds one directory per hostPath
# PersistentVolume that tests and `demo --cluster real` create (pre-bound to their
# namespace's snapshot-pvc); `down` removes it with the rest.

# ---------------------------------------------------------------------------- down

stop_recorded() {
  local name=$1 pid
  pid=$(recorded_pid "$name") || { rm -f "$STATE/pids/$name"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  local end=$((SECONDS + 15))
  while [ -d "/proc/$pid" ] && [ $SECONDS -lt $end ]; do sleep 0.2; done
  [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -f "$STATE/pids/$name"
}

# Every container and sandbox of our containerd, and the shims that serve them.
remove_containers() {
  recorded_pid containerd >/dev/null || return 0
  local id
  for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  sleep 0.5
  for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
}
kill_our_shims() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$(command -v containerd-shim-runc-v2 2>/dev/null || echo /nonexistent)")" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$(CTR_SOCK)" && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  return 0
}
unmount_under_state() {
  local m
  # Deepest first; lazily, as a shim may still be exiting.
  awk -v s="$STATE/" '{ gsub(/\\040/, " ", $5); if (index($5, s) == 1 || $5 == substr(s, 1, length(s) - 1)) print $5 }' /proc/self/mountinfo \
    | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
remove_cgroups() {
  local ctl
  for ctl in /sys/fs/cgroup/*/; do
    [ -d "$ctl$CGROUP_ROOT" ] || continue
    find "$ctl$CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

down_quiet() {
  [ -f "$STATE/$MARKER" ] || return 0
  local n
  for n in kubelet kube-scheduler kube-controller-manager kube-apiserver; do stop_recorded "$n"; done
  remove_containers
  stop_recorded containerd
  kill_our_shims
  stop_recorded etcd
  unmount_under_state
  sleep 0.2
  remove_cgroups
  local p
  if [ -f "$STATE/created-paths" ]; then
    while read -r p; do [ -n "$p" ] && rm -rf "$p"; done <"$STATE/created-paths"
  fi
  if [ -d /run/containerd/s ] && [ -f "$STATE/preexisting-shim-sockets" ]; then
    for p in /run/containerd/s/*; do
      [ -e "$p" ] || continue
      grep -qxF "$p" "$STATE/preexisting-shim-sockets" || rm -f "$p"
    done
  fi
  # Nothing may still be mounted inside before the tree goes.
  if grep -qF " $STATE/" /proc/self/mountinfo; then
    die "mounts under $STATE remain (see /proc/self/mountinfo); run down again" 1
  fi
  rm -rf "$STATE"
}

down() {
  need_root
  if [ ! -e "$STATE" ]; then log "not running"; return 0; fi
  [ -f "$STATE/$MARKER" ] || die "$STATE was not made by this script; not touching it" 2
  down_quiet
  log "stopped; removed $STATE"
}

status() {
  if [ ! -f "$STATE/$MARKER" ]; then echo "not running"; return 1; fi
  local n pid rc=0
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
    if pid=$(recorded_pid "$n"); then echo "$n: running (pid $pid)"; else echo "$n: not running"; rc=1; fi
  done
  local ready
  ready=$(kctl get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  echo "node $NODE: Ready=${ready:-unknown}"
  [ "$ready" = True ] || rc=1
  echo "KUBECONFIG=$STATE/admin.kubeconfig"
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) [ -f "$STATE/$MARKER" ] || die "not running (scripts/real-cluster.sh up)" 1; echo "KUBECONFIG=$STATE/admin.kubeconfig" ;;
  build) need_root; build; base_images ;;
  images) base_images; echo "$(bin_dir)" ;;
  import)
    shift
    [ -f "$STATE/$MARKER" ] || die "not running (scripts/real-cluster.sh up)" 1
    [ $# -gt 0 ] || die "usage: $0 import OCI-ARCHIVE..." 2
    for f in "$@"; do
      [ -f "$f" ] || die "no such image archive: $f" 2
      ctr_ images import "$f" >/dev/null || die "containerd could not import $f" 3
      log "imported $f"
    done ;;
  *) die "usage: $0 up|down|status|env|build|images|import FILE..." 2 ;;
esac
