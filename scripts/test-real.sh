#!/usr/bin/env bash
# The real-cluster lane: a real Kubernetes on 127.0.0.1 (scripts/real-cluster.sh), our
# images built and imported (scripts/build-images.sh), then test/real/ run against it
# (vitest.real.config.ts; extra arguments go to vitest), and the cluster taken down
# again whatever happened. Needs root and Linux (containerd, the kubelet); elsewhere it
# says so and exits 0 without running anything.
#
#   scripts/test-real.sh                      # up, test, down
#   SNAPSHOTCTL_REAL_KEEP=1 scripts/test-real.sh   # leave the cluster up afterwards
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ]; then
  echo "test-real: skipped: the real-cluster lane needs root on Linux (containerd and a kubelet)" >&2
  exit 0
fi

STATE=${SNAPSHOTCTL_REAL_DIR:-/var/tmp/snapshotctl-real-cluster}
started=0
rc=0
# After `down`: nothing of the cluster may be left (processes, mounts, cgroups, files).
check_left() {
  local left=() h p
  for p in $(pgrep -f "$STATE" 2>/dev/null); do left+=("process $p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)"); done
  while read -r _ m _; do case "$m" in "$STATE"*|/var/lib/kubelet*|/run/containerd*) left+=("mount $m") ;; esac; done </proc/mounts
  for h in /sys/fs/cgroup/*/; do [ -e "${h}snapshotctl-real-cluster" ] && left+=("cgroup ${h}snapshotctl-real-cluster"); done
  [ -e "$STATE" ] && left+=("directory $STATE")
  if [ ${#left[@]} -gt 0 ]; then
    printf 'test-real: down left behind: %s\n' "${left[@]}" >&2
    return 1
  fi
  echo "test-real: down left no process, mount, cgroup or file behind"
}
cleanup() {
  local st=$?
  [ "$st" -ne 0 ] && rc=$st
  if [ "$started" = 1 ] && [ "${SNAPSHOTCTL_REAL_KEEP:-0}" != 1 ]; then
    bash scripts/real-cluster.sh down && check_left || rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
if ! bash scripts/real-cluster.sh status >/dev/null 2>&1; then
  started=1
  bash scripts/real-cluster.sh up >/dev/null || { echo "test-real: the real cluster did not come up" >&2; exit 1; }
fi
eval "$(bash scripts/real-cluster.sh env)"
images=$(mktemp -d)
SNAPSHOTCTL_IMAGES_CRIU=1 bash scripts/build-images.sh "$images" >/dev/null || { rm -rf "$images"; exit 1; }
bash scripts/real-cluster.sh import "$images"/*.tar || { rm -rf "$images"; exit 1; }
rm -rf "$images"
echo "test-real: cluster and images ready in $(( $(date +%s) - t0 )) s"

SNAPSHOTCTL_REAL_KUBECONFIG=$KUBECONFIG node node_modules/vitest/vitest.mjs run --config vitest.real.config.ts "$@" || rc=1
