#!/usr/bin/env bash
# Build our images as OCI archives, without docker or a registry:
#
#   scripts/build-images.sh OUTDIR
#
# writes
#   OUTDIR/snapshot-agent.tar          localhost/snapshotctl/snapshot-agent:<version>
#       our node agent: Node.js (this machine's), the package's dist/ and production
#       node_modules, containerd's ctr, CRIU (from scripts/setup-criu.sh's root, when it
#       was set up) and a static busybox.
#   OUTDIR/cpu-worker-placeholder.tar  ghcr.io/snapshotctl/cpu-worker-placeholder:dev
#       the CPU sample worker (manifests/samples/cpu-worker.yaml): Node.js, the worker
#       script at /opt/snapshotctl/..., a reaping init (pause), busybox, CRIU, and
#       worker-init (scripts/images/worker-init.c) at /bin/worker-init, which starts a
#       worker under it as PID 1 at PID >= 1000, and as /usr/local/bin/sleep, which as
#       PID 1 running `sleep infinity` (a placeholder) reaps what is restored under it.
#
# Import them with `ctr -n k8s.io images import FILE` on each node (scripts/real-cluster.sh
# import FILE does it for the real test cluster). Users with docker or podman can build
# the same images from images/*.Containerfile instead.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=lib/oci.sh
. "$HERE/lib/oci.sh"

log() { printf 'build-images: %s\n' "$*" >&2; }
die() { printf 'build-images: error: %s\n' "$*" >&2; exit "${2:-1}"; }

OUT=${1:-}
[ -n "$OUT" ] || die "usage: $0 OUTDIR" 2
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VERSION=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")
AGENT_IMAGE=${SNAPSHOTCTL_AGENT_IMAGE:-localhost/snapshotctl/snapshot-agent:$VERSION}
WORKER_IMAGE=${SNAPSHOTCTL_WORKER_IMAGE:-ghcr.io/snapshotctl/cpu-worker-placeholder:dev}
NODE_BIN=$(command -v node)
CRIU_ROOT=${SNAPSHOTCTL_CRIU_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/snapshotctl/criu-trixie-parallel}
command -v busybox >/dev/null || [ -x /bin/busybox ] || die "static busybox missing: apt-get install busybox-static" 3
[ -f "$REPO/dist/cli/main.js" ] || die "dist/ is not built: run npm run build first" 3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A reaping init for placeholders: scripts/real-cluster.sh builds the same static pause.
pause_bin() {
  local p="$work/pause"
  [ -x "$p" ] || gcc -static -O2 -o "$p" "$HERE/real-cluster/pause.c" || die "could not build the pause init (gcc, libc6-dev)" 3
  printf '%s\n' "$p"
}

# worker-init: PID 1 of checkpointable workers and the reaping `sleep` of placeholders.
worker_init_bin() {
  local p="$work/worker-init"
  [ -x "$p" ] || gcc -static -O2 -o "$p" "$HERE/images/worker-init.c" || die "could not build worker-init (gcc, libc6-dev)" 3
  printf '%s\n' "$p"
}

# CRIU (our parallel-restore build) as setup-criu.sh bundles it: ~11 MB that run through
# the bundle's own loader, under /opt/criu, with /usr/local/bin/criu calling it. Only
# when setup-criu.sh has made its root here (it takes minutes the first time):
# SNAPSHOTCTL_IMAGES_CRIU=0 leaves CRIU out, =1 builds the root when missing.
add_criu() {
  local root=$1 want=${SNAPSHOTCTL_IMAGES_CRIU:-auto}
  [ "$want" = 0 ] && return 0
  if [ "$want" = auto ] && [ ! -x "$CRIU_ROOT/usr/sbin/criu" ]; then
    log "no CRIU root at $CRIU_ROOT (scripts/setup-criu.sh --parallel-restore makes one); image without criu"
    return 0
  fi
  mkdir -p "$root/usr/local/bin"
  SNAPSHOTCTL_CRIU_ROOT=$CRIU_ROOT bash "$HERE/setup-criu.sh" --parallel-restore --bundle "$root/opt/criu" >/dev/null ||
    die "setup-criu.sh could not bundle CRIU" 3
  printf '#!/bin/sh\nexec /opt/criu/criu "$@"\n' >"$root/usr/local/bin/criu"
  chmod 0755 "$root/usr/local/bin/criu"
}

# --- snapshot-agent
log "snapshot-agent: production dependencies"
app="$work/agent/opt/snapshotctl"
mkdir -p "$app"
cp "$REPO/package.json" "$REPO/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error --offline >/dev/null 2>&1 ||
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci --omit=dev failed" 3
cp -a "$REPO/bin" "$REPO/dist" "$app/"
# The cuda engine's helper (it needs a python3, which this image does not carry: use the
# Containerfile's image for --engine cuda, or point SNAPSHOTCTL_PYTHON at one).
mkdir -p "$app/src/agent/cuda" && cp "$REPO/src/agent/cuda/cuda_ckpt.py" "$app/src/agent/cuda/"
mkdir -p "$app/manifests" && cp -a "$REPO/manifests/seccomp" "$app/manifests/"
add_binary "$work/agent" "$NODE_BIN" /usr/local/bin/node
add_binary "$work/agent" "$(command -v ctr)" /usr/local/bin/ctr
# The criu engine runs criu inside a container's namespaces through nsenter.
add_binary "$work/agent" "$(command -v nsenter)" /usr/bin/nsenter
add_busybox "$work/agent"
add_criu "$work/agent"
log "snapshot-agent: writing $OUT/snapshot-agent.tar ($AGENT_IMAGE)"
oci_archive "$work/agent" "$AGENT_IMAGE" "$OUT/snapshot-agent.tar" /usr/local/bin/node /opt/snapshotctl/bin/snapshot-agent.js

# --- cpu-worker-placeholder
w="$work/worker"
mkdir -p "$w/opt/snapshotctl/manifests/samples/cpu-worker"
cp "$REPO/manifests/samples/cpu-worker/worker.mjs" "$w/opt/snapshotctl/manifests/samples/cpu-worker/"
add_binary "$w" "$NODE_BIN" /usr/local/bin/node
add_busybox "$w"
cp "$(pause_bin)" "$w/bin/pause"
cp "$(worker_init_bin)" "$w/bin/worker-init"
mkdir -p "$w/usr/local/bin" && ln -s /bin/worker-init "$w/usr/local/bin/sleep"
add_criu "$w"
log "cpu-worker-placeholder: writing $OUT/cpu-worker-placeholder.tar ($WORKER_IMAGE)"
oci_archive "$w" "$WORKER_IMAGE" "$OUT/cpu-worker-placeholder.tar" /bin/pause

printf '%s\n' "$OUT/snapshot-agent.tar" "$OUT/cpu-worker-placeholder.tar"
