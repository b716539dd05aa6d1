#!/usr/bin/env bash
# One run of the whole GPU benchmark on the GPU machine, as root, from the repository root:
# the LLM worker through the engine (bench/gpu/llm_bench.py: the machine's floors, cold
# starts with the page cache dropped and warm, checkpoint, Debian's CRIU beside the patched
# one, a restore with the page cache dropped) and then through the CLI
# (bench/gpu/cli_flow.sh: checkpoint, restore from the manifest, in place, and with the page
# cache dropped), then one table of both (bench/gpu/combine.py).
#
#   bench/gpu/full_run.sh [--no-compile] [--engine-budget S] [--cli-budget S] [--preset P]
#
# --no-compile: the worker without torch.compile (by default it compiles its decode step,
# as servers compile their forward pass, each cold start with an empty compile cache).
# Needs .criu-carry/, .criu-carry-parallel/ and .gpu-carry/ in the working tree
# (scripts/setup-criu.sh, scripts/pack-gpu-carry.sh). Writes $OUT/engine/, $OUT/cli/,
# $OUT/results.json and $OUT/table.md ($OUT defaults to ./full-run-out).
set -euo pipefail
repo=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
out=${OUT:-$PWD/full-run-out}
compile=--compile
engine_budget=330
cli_budget=220
preset=qwen3-8b
while [ $# -gt 0 ]; do
  case "$1" in
    --no-compile) compile= ;;
    --engine-budget) engine_budget=$2; shift ;;
    --cli-budget) cli_budget=$2; shift ;;
    --preset) preset=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "full_run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
say() { printf '[full_run.sh %s] %s\n' "$(date +%T)" "$*"; }
mkdir -p "$out/engine" "$out/cli"
rc=0
# a `timeout` around the run: whatever ran is still combined into the table
trap 'say "stopped (TERM): combining what ran"; python3 "$repo/bench/gpu/combine.py" "$out" || true; exit 1' TERM INT
say "engine: llm_bench.py --presets $preset $compile (budget $engine_budget s)"
python3 "$repo/bench/gpu/llm_bench.py" --presets "$preset" --no-check $compile \
  --restores stock,thp+parallel,thp+parallel-cold --budget "$engine_budget" --out "$out/engine" || rc=1
say "cli: cli_flow.sh --preset $preset --criu parallel --thp always --cold-cache (budget $cli_budget s)"
OUT=$out/cli bash "$repo/bench/gpu/cli_flow.sh" --preset "$preset" --criu parallel --thp always --cold-cache \
  --budget "$cli_budget" ${compile:+--worker-args=$compile} || rc=1
say "combining"
python3 "$repo/bench/gpu/combine.py" "$out" || rc=1
exit $rc
