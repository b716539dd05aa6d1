/**
 * The script of the CLI's storage-scan reader pod (src/commands/storage-scan.ts), here so
 * that the dev cluster, which imports nothing from the CLI, runs this very text and no
 * other: a pod's own script never reaches the host's shell. Pure data.
 */

/** First line of the script. */
export const STORAGE_SCAN_MARKER = '# snapshotctl storage scan v1';

/**
 * `sh -c SCRIPT storage-scan <base> <out>`: lines `A<TAB>id<TAB>version<TAB>KiB<TAB>
 * mtime<TAB>manifest(0|1)<TAB>namespace<TAB>pod<TAB>node<TAB>createdAt<TAB>engine<TAB>
 * simulated`, then `END<TAB>count`, written to <out> and then to stdout.
 */
export const STORAGE_SCAN_SCRIPT = `${STORAGE_SCAN_MARKER}
base=$1; out=$2
cd -- "$base" 2>/dev/null || { echo "cannot open the checkpoint volume at $base" >&2; exit 3; }
field() { sed -n "s/^$1: *//p" "$2" | head -n 1; }
n=0
: > "$out"
for v in */versions/*; do
  id=\${v%%/*}
  [ -d "$v" ] || continue
  [ -L "$id" ] || [ -L "$id/versions" ] || [ -L "$v" ] && continue
  ver=\${v##*/}
  m="$v/manifest.yaml"
  has=0; ns=; pod=; node=; at=; eng=; sim=
  if [ -f "$m" ] && [ ! -L "$m" ]; then
    has=1
    ns=$(field namespace "$m"); pod=$(field pod "$m"); node=$(field nodeName "$m")
    at=$(field createdAt "$m"); sim=$(field simulated "$m")
    eng=$(sed -n '/^engine:/,/^[^ ]/s/^  name: *//p' "$m" | head -n 1)
  fi
  kib=$(du -sk -- "$v" 2>/dev/null | cut -f1)
  mt=$(stat -c %Y -- "$v" 2>/dev/null)
  printf 'A\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$id" "$ver" "\${kib:--}" "\${mt:--}" "$has" "$ns" "$pod" "$node" "$at" "$eng" "$sim" >> "$out"
  n=$((n+1))
done
printf 'END\\t%s\\n' "$n" >> "$out"
cat "$out"
`;
