#!/usr/bin/env bash
# The whole user flow through the snapshotctl CLI on the GPU machine (no network, no
# Node.js): unpacks .gpu-carry/ (scripts/pack-gpu-carry.sh) into the work directory and
# runs bench/gpu/cli_flow.mjs with the carried Node. As root, from anywhere:
#
#   bench/gpu/cli_flow.sh --smoke                    # Qwen3-8B widths, 2 layers: ~2 min
#   bench/gpu/cli_flow.sh --thp always               # Qwen3-8B: ~6 min
#   options of cli_flow.mjs: --criu parallel,stock  --budget S  --data DIR  --work DIR
#     --preset P  --worker llm|fake-llm|cpu  --engine cuda|criu  --python PY
#
# Writes $OUT/cli-results.json and $OUT/cli-flow.log ($OUT defaults to ./cli-flow-out).
# SNAPSHOTCTL_CLI_FLOW_NODE / SNAPSHOTCTL_CLI_FLOW_APP: use this node and app directory
# instead of unpacking the carry (development).
set -euo pipefail
repo=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
work=/var/tmp/snapshotctl-cli-flow
prev=
for arg in "$@"; do
  [ "$prev" = --work ] && work=$arg
  case "$arg" in --work=*) work=${arg#--work=} ;; esac
  prev=$arg
done
out=${OUT:-$PWD/cli-flow-out}
mkdir -p "$work" "$out"
say() { printf '[cli_flow.sh] %s\n' "$*"; }
node=${SNAPSHOTCTL_CLI_FLOW_NODE:-}
app=${SNAPSHOTCTL_CLI_FLOW_APP:-}
if [ -z "$node" ] || [ -z "$app" ]; then
  carry=$repo/.gpu-carry
  if [ ! -f "$carry/unpack.sh" ]; then
    say "error: $carry/unpack.sh is missing: run scripts/pack-gpu-carry.sh where npm is, and carry .gpu-carry" >&2
    exit 1
  fi
  say "checking and unpacking $carry into $work/carry ($(cat "$carry/info.json" 2>/dev/null || echo 'no info.json'))"
  if command -v sha256sum >/dev/null; then
    (cd "$carry" && sha256sum -c --quiet SHA256SUMS) || { say "error: .gpu-carry does not match its SHA256SUMS (incomplete copy?)" >&2; exit 1; }
  fi
  t0=$(date +%s.%N)
  sh "$carry/unpack.sh" "$work/carry"
  node=$work/carry/node
  app=$work/carry/app
  say "unpacked in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s: node $("$node" --version), $app"
fi
exec "$node" "$repo/bench/gpu/cli_flow.mjs" --app "$app" --repo "$repo" --out "$out" --work "$work" "$@"
