#!/usr/bin/env bash
# Builds .gpu-carry/: what the GPU machine (no network, no Node.js) needs to run the
# snapshotctl CLI and its dev cluster, carried in the working tree beside the CRIU
# bundles (.criu-carry/, .criu-carry-parallel/):
#   node.xz        this machine's Node 20 binary, stripped, xz -9 (cached by its sha256
#                  in ${XDG_CACHE_HOME:-~/.cache}/snapshotctl/gpu-carry/)
#   app.tar.xz     the package as `npm pack` ships it (package.json, bin/, dist/, manifests/,
#                  src/agent/cuda/cuda_ckpt.py) plus its production node_modules
#                  (`npm ci --omit=dev` in a temporary directory, from the npm cache)
#   unpack.sh      `unpack.sh DEST`: DEST/node and DEST/app/ (xz, or Python's lzma without it)
#   SHA256SUMS, info.json
# and prints the sizes: .gpu-carry + .criu-carry + .criu-carry-parallel must stay under
# 60 MiB (the working tree that travels is limited to 64 MiB in all).
#
#   scripts/pack-gpu-carry.sh [--no-build] [--node PATH]
set -euo pipefail

repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$repo"
build=1
node_bin=$(command -v node)
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --node) node_bin=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "pack-gpu-carry: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
say() { printf '[pack-gpu-carry] %s\n' "$*"; }
die() { printf '[pack-gpu-carry] error: %s\n' "$*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
bytes() { du -sbL "$1" | cut -f1; }

command -v xz >/dev/null || die "xz is needed (apt-get install xz-utils)"
command -v npm >/dev/null || die "npm is needed"
version=$("$node_bin" --version)
case "$version" in v20.*) ;; *) die "$node_bin is Node $version; the carry is Node 20 (give --node PATH)" ;; esac

if [ "$build" = 1 ]; then
  say "npm run build"
  npm run build --silent >/dev/null
fi
[ -f dist/cli/main.js ] || die "dist/ is not built (npm run build)"

out=$repo/.gpu-carry
tmp=$(mktemp -d /tmp/pack-gpu-carry.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out.new"
mkdir -p "$out.new"

# --- Node: stripped (drops 13 MB of debug info), then xz -9; cached, it takes a minute
sha=$(sha256sum "$node_bin" | cut -d' ' -f1)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/snapshotctl/gpu-carry
mkdir -p "$cache"
if [ ! -s "$cache/node-$sha.xz" ]; then
  say "compressing $node_bin ($version, $(mib "$(stat -c %s "$node_bin")")): strip + xz -9, about a minute"
  cp "$node_bin" "$tmp/node"
  if command -v strip >/dev/null; then strip "$tmp/node"; else say "no strip here: the binary goes unstripped"; fi
  "$tmp/node" --version >/dev/null || die "the stripped node does not run"
  xz -9 -T0 -c "$tmp/node" > "$tmp/node.xz"
  mv "$tmp/node.xz" "$cache/node-$sha.xz"
else
  say "node: $cache/node-$sha.xz (cached)"
fi
cp "$cache/node-$sha.xz" "$out.new/node.xz"

# --- the package and its production dependencies
app=$tmp/app
mkdir -p "$app/src/agent/cuda"
cp package.json package-lock.json "$app/"
cp -r bin manifests "$app/"
cp src/agent/cuda/cuda_ckpt.py "$app/src/agent/cuda/"
# dist/ without test files (tsconfig.build.json leaves them out; an older build may not have)
cp -r dist "$app/dist"
find "$app/dist" -name '*.test.*' -delete
say "npm ci --omit=dev (from the npm cache where it can)"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null) || die "npm ci --omit=dev failed"
say "app: $(mib "$(bytes "$app")") unpacked (node_modules $(mib "$(bytes "$app/node_modules")")); xz -9"
tar -C "$tmp" -cf - app | xz -9 -T0 > "$out.new/app.tar.xz"

cat > "$out.new/unpack.sh" <<'EOF'
#!/bin/sh
# unpack.sh DEST: DEST/node (Node 20) and DEST/app/ (snapshotctl with its node_modules).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
dest=${1:?usage: unpack.sh DEST}
mkdir -p "$dest"
rm -rf "$dest/app" "$dest/node" "$dest/node.tmp"
if command -v xz >/dev/null 2>&1; then
  xz -dc "$here/node.xz" > "$dest/node.tmp"
  xz -dc "$here/app.tar.xz" | tar -C "$dest" -xf -
else
  python3 - "$here" "$dest" <<'PY'
import lzma, shutil, sys, tarfile
here, dest = sys.argv[1], sys.argv[2]
with lzma.open(f"{here}/node.xz") as src, open(f"{dest}/node.tmp", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
with tarfile.open(f"{here}/app.tar.xz", "r:xz") as t:
    t.extractall(dest)
PY
fi
chmod 755 "$dest/node.tmp"
mv "$dest/node.tmp" "$dest/node"
"$dest/node" --version >/dev/null 2>&1 || { echo "unpack.sh: the carried node does not run here:" >&2; "$dest/node" --version; exit 1; }
EOF
chmod 755 "$out.new/unpack.sh"
(cd "$out.new" && sha256sum node.xz app.tar.xz unpack.sh > SHA256SUMS)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)
printf '{"node": "%s", "nodeSha256": "%s", "commit": "%s", "dirty": %s, "packedAt": "%s"}\n' "$version" "$sha" "$commit" "$dirty" "$(date -u +%FT%TZ)" > "$out.new/info.json"
rm -rf "$out"
mv "$out.new" "$out"

total=0
for d in .gpu-carry .criu-carry .criu-carry-parallel; do
  if [ -e "$d" ]; then
    b=$(bytes "$d"); total=$((total + b))
    say "$(printf '%-22s %s' "$d" "$(mib "$b")")"
  else
    say "$(printf '%-22s %s' "$d" 'missing (scripts/setup-criu.sh --bundle makes it)')"
  fi
done
say "  node.xz $(mib "$(stat -c %s .gpu-carry/node.xz)"), app.tar.xz $(mib "$(stat -c %s .gpu-carry/app.tar.xz)")"
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
say "$(printf '%-22s %s' 'carried in all' "$(mib "$total")") (limit 60 MiB); tracked files $(mib "$tracked"); the working tree may carry 64 MiB"
[ "$total" -lt $((60 * 1048576)) ] || die "the carried folders take $(mib "$total"), over 60 MiB"
