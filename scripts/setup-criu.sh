#!/usr/bin/env bash
# Set up a working CRIU (>= 4.1) for snapshotctl's `criu` engine and print the path of
# the command to run it with.
#
# Why: CRIU has to match the running kernel. Debian bookworm's CRIU 3.17 fails on new
# kernels (6.x); Debian trixie's 4.1.1 works. Rather than replace the host's system, we
# install trixie's `criu` into a small trixie root made with debootstrap and run it
# there with trixie's own dynamic loader and libraries (no chroot needed at run time).
#
# Idempotent and cached: a second run only checks the cached root. Safe to run from
# several processes at once (a lock serialises them).
#
#   scripts/setup-criu.sh              # build or reuse the root, print the criu wrapper
#   scripts/setup-criu.sh --bundle DIR # also copy the ~11 MB that criu needs into DIR
#                                      # (the same layout, so SNAPSHOTCTL_CRIU_ROOT=DIR works
#                                      # on a machine without network)
#   scripts/setup-criu.sh --parallel-restore [--bundle DIR]
#                                      # CRIU 4.1.1 built from source with our patch
#                                      # scripts/criu-parallel-restore.patch: the restorer
#                                      # copies the pages image in with several threads
#                                      # (SNAPSHOTCTL_CRIU_READ_THREADS, default: CPUs, at
#                                      # most 8; 1 restores as upstream does). Its own root,
#                                      # default .../criu-trixie-parallel; Debian's binary
#                                      # stays beside it as usr/sbin/criu.debian.
#
# Environment:
#   SNAPSHOTCTL_CRIU_ROOT  where the trixie root lives
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/snapshotctl/criu-trixie,
#                          or criu-trixie-parallel with --parallel-restore)
#   SNAPSHOTCTL_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
#
# Needs root (debootstrap, chroot, mount) and Debian's package archive the first time.
set -euo pipefail

mirror="${SNAPSHOTCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
bundle=""
parallel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle="${2:?--bundle needs a directory}"; shift 2 ;;
    --parallel-restore) parallel=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-criu: unknown argument $1" >&2; exit 2 ;;
  esac
done

cache="${XDG_CACHE_HOME:-$HOME/.cache}/snapshotctl"
root="${SNAPSHOTCTL_CRIU_ROOT:-$cache/criu-trixie${parallel:+-parallel}}"

loader=lib64/ld-linux-x86-64.so.2
libpath() { echo "$1/usr/lib/x86_64-linux-gnu:$1/lib/x86_64-linux-gnu"; }
log() { echo "setup-criu: $*" >&2; }

shim_src="$(cd "$(dirname "$0")" && pwd)/criu-sockopt-compat.c"
shim=snapshotctl/sockopt-compat.so

# The wrapper runs criu with the root's loader and libraries, wherever the root is moved.
write_wrapper() {
  cat >"$1/criu" <<'EOF'
#!/bin/sh
# Runs trixie's criu from this directory with its own loader and libraries, preloading
# the kernel >= 6.16 socket-option shim (scripts/criu-sockopt-compat.c) when present.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
set -- "$here/usr/sbin/criu" "$@"
[ -f "$here/snapshotctl/sockopt-compat.so" ] && set -- --preload "$here/snapshotctl/sockopt-compat.so" "$@"
exec "$here/lib64/ld-linux-x86-64.so.2" --library-path "$here/usr/lib/x86_64-linux-gnu:$here/lib/x86_64-linux-gnu" "$@"
EOF
  chmod 755 "$1/criu"
}

launcher_src="$(dirname "$shim_src")/no-io-uring.c"
launcher=snapshotctl/no-io-uring

# Build the shim and the no-io-uring launcher (a few lines of C each, glibc only) when
# missing or older than their sources.
build_shim() {
  [ -f "$1/$shim" ] && [ ! "$shim_src" -nt "$1/$shim" ] && [ -x "$1/$launcher" ] && [ ! "$launcher_src" -nt "$1/$launcher" ] && return 0
  if ! command -v cc >/dev/null 2>&1 || [ ! -e /usr/include/dlfcn.h ]; then
    log "installing gcc and libc6-dev with apt-get (to build $shim)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc libc6-dev >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc libc6-dev >&2; }
  fi
  mkdir -p "$1/snapshotctl"
  cc -shared -fPIC -O2 -Wall -o "$1/$shim.tmp" "$shim_src" && mv "$1/$shim.tmp" "$1/$shim"
  cc -O2 -Wall -o "$1/$launcher.tmp" "$launcher_src" && mv "$1/$launcher.tmp" "$1/$launcher"
}

works() {
  [ -x "$1/usr/sbin/criu" ] && [ -e "$1/$loader" ] && [ -x "$1/criu" ] && "$1/criu" --version >/dev/null 2>&1
}

# --parallel-restore: upstream CRIU 4.1.1 (Debian's orig tarball, checked against the
# sha256 that trixie's Sources index gives) plus our patch, built inside the root with
# trixie's compiler and libraries, so it links against exactly what Debian's criu does.
criu_version=4.1.1
criu_orig_sha256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
patch_src="$(dirname "$shim_src")/criu-parallel-restore.patch"
marker=snapshotctl/parallel-restore.sha256
build_deps=(gcc make pkgconf python3 patch xz-utils libbsd-dev libcap-dev libgnutls28-dev libnet1-dev
  libnftables-dev libnl-3-dev libprotobuf-c-dev libprotobuf-dev protobuf-c-compiler protobuf-compiler uuid-dev)

patched() { [ -f "$1/$marker" ] && [ "$(cat "$1/$marker")" = "$(sha256sum <"$patch_src" | cut -d' ' -f1)" ]; }

fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >&2 && curl -fsSL --retry 3 -o "$2" "$1"
  fi
}

build_parallel() {
  local r="$1" fs rc=0
  local -a mnts=()
  for fs in proc sys dev; do
    mount --bind "/$fs" "$r/$fs" && mnts=("$r/$fs" "${mnts[@]}")
  done
  trap 'for m in "${mnts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done; exit 130' INT TERM
  build_parallel_steps "$r" || rc=$?
  for fs in "${mnts[@]}"; do umount "$fs" 2>/dev/null || umount -l "$fs" || log "could not unmount $fs"; done
  trap - INT TERM
  return "$rc"
}

build_parallel_steps() {
  local r="$1" src=usr/src/criu-snapshotctl orig
  orig="$r/usr/src/criu_$criu_version.orig.tar.xz"
  log "apt-get install the build dependencies of criu (in the trixie root)"
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${build_deps[@]}" >&2 ||
    { chroot "$r" apt-get update -q >&2 &&
      chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${build_deps[@]}" >&2; } ||
    return 1
  if ! echo "$criu_orig_sha256  $orig" | sha256sum -c --status 2>/dev/null; then
    log "fetching criu_$criu_version.orig.tar.xz from $mirror"
    fetch "$mirror/pool/main/c/criu/criu_$criu_version.orig.tar.xz" "$orig.part" || return 1
    echo "$criu_orig_sha256  $orig.part" | sha256sum -c --status ||
      { log "criu_$criu_version.orig.tar.xz does not match its sha256"; rm -f "$orig.part"; return 1; }
    mv "$orig.part" "$orig" || return 1
  fi
  rm -rf "${r:?}/$src" && mkdir -p "$r/$src" || return 1
  chroot "$r" tar -xJf "/usr/src/criu_$criu_version.orig.tar.xz" --strip-components=1 -C "/$src" || return 1
  chroot "$r" patch -d "/$src" -p1 --quiet <"$patch_src" || { log "the patch does not apply to criu $criu_version"; return 1; }
  log "building criu $criu_version with the parallel page restore patch"
  chroot "$r" make -C "/$src" -j"$(nproc)" criu >"$r/$src.build.log" 2>&1 ||
    { tail -20 "$r/$src.build.log" >&2; return 1; }
  { [ -f "$r/usr/sbin/criu.debian" ] || cp -p "$r/usr/sbin/criu" "$r/usr/sbin/criu.debian"; } &&
    chroot "$r" strip -o /usr/sbin/criu.new "/$src/criu/criu" &&
    mv "$r/usr/sbin/criu.new" "$r/usr/sbin/criu" &&
    mkdir -p "$r/snapshotctl" &&
    sha256sum <"$patch_src" | cut -d' ' -f1 >"$r/$marker"
}

if [ "$(uname -m)" != x86_64 ]; then
  log "only x86_64 is supported (this machine is $(uname -m))"; exit 1
fi

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9

if ! works "$root"; then
  if [ "$(id -u)" -ne 0 ]; then
    log "building the trixie root needs root (debootstrap, chroot); run it as root: $0"; exit 1
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
  fi
  build="$root.building.$$"
  rm -rf "$build"
  mounted=()
  cleanup() {
    local m
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
      m="${mounted[$i]}"
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
    done
    mounted=()
    [ -n "${build:-}" ] && [ -d "$build" ] && rm -rf --one-file-system "$build"
  }
  trap cleanup EXIT INT TERM
  log "debootstrap --variant=minbase trixie $build ($mirror)"
  debootstrap --variant=minbase trixie "$build" "$mirror" >&2
  for fs in proc sys dev; do
    mount --bind "/$fs" "$build/$fs"
    mounted+=("$build/$fs")
  done
  log "apt-get install criu (in the trixie root)"
  chroot "$build" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends criu >&2
  chroot "$build" apt-get clean >&2
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[$i]}"; done
  mounted=()
  write_wrapper "$build"
  build_shim "$build"
  works "$build" || { log "criu in the new root does not run"; exit 1; }
  rm -rf "$root"
  mv "$build" "$root"
  build=""
  trap - EXIT INT TERM
fi
write_wrapper "$root"
build_shim "$root"
if [ -n "$parallel" ] && ! patched "$root"; then
  [ "$(id -u)" -eq 0 ] || { log "building CRIU with the parallel restore patch needs root; run it as root: $0 --parallel-restore"; exit 1; }
  build_parallel "$root" || { log "building CRIU with the parallel restore patch failed"; exit 1; }
  works "$root" || { log "the patched criu in $root does not run"; exit 1; }
fi

if [ -n "$bundle" ]; then
  # criu's own libraries, as the loader resolves them, plus the loader and the binary.
  mapfile -t libs < <("$root/$loader" --library-path "$(libpath "$root")" --list "$root/usr/sbin/criu" |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
  mkdir -p "$bundle"
  for f in "$root/$loader" "$root/usr/sbin/criu" "$root/$shim" "$root/$launcher" "${libs[@]}"; do
    case "$f" in "$root"/*) ;; *) log "skipping $f: not inside $root"; continue ;; esac
    real=$(readlink -f "$f")
    rel="${f#"$root"/}"
    mkdir -p "$bundle/$(dirname "$rel")"
    cp -f "$real" "$bundle/$rel"
  done
  if [ -f "$root/$marker" ]; then
    mkdir -p "$bundle/snapshotctl" && cp -f "$root/$marker" "$bundle/$marker"
  else
    rm -f "$bundle/$marker"
  fi
  write_wrapper "$bundle"
  works "$bundle" || { log "the bundle in $bundle does not run"; exit 1; }
  log "bundle: $(du -sh "$bundle" | cut -f1) in $bundle"
fi

echo "$root/criu"
