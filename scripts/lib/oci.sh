# OCI image archives without docker: a directory becomes a one-layer image in an OCI
# layout tar that `ctr images import` (and podman/skopeo) accept. Sourced by
# scripts/real-cluster.sh and scripts/build-images.sh.

# oci_archive ROOTFS NAME OUT [CMD...]: ROOTFS as image NAME (the
# io.containerd.image.name annotation) with CMD as its default command.
oci_archive() {
  local rootfs=$1 name=$2 out=$3; shift 3
  local d; d=$(mktemp -d)
  mkdir -p "$d/blobs/sha256"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$rootfs" -cf "$d/layer.tar" .
  local layer; layer=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  mv "$d/layer.tar" "$d/blobs/sha256/$layer"
  local entry="" a
  for a in "$@"; do entry+="${entry:+,}\"$a\""; done
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":[%s],"Env":["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$layer" >"$d/config.json"
  local config; config=$(sha256sum "$d/config.json" | cut -d' ' -f1)
  mv "$d/config.json" "$d/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(stat -c %s "$d/blobs/sha256/$config")" "$layer" "$(stat -c %s "$d/blobs/sha256/$layer")" >"$d/manifest.json"
  local manifest; manifest=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
  local msize; msize=$(stat -c %s "$d/manifest.json")
  mv "$d/manifest.json" "$d/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$msize" "$name" "${name##*:}" >"$d/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  tar -C "$d" -cf "$out" oci-layout index.json blobs
  rm -rf "$d"
}

# add_binary ROOTFS BIN [DEST]: copy BIN into ROOTFS (at DEST, default its own path)
# with every shared library ldd lists and the loader, at their host paths.
add_binary() {
  local root=$1 bin=$2 dest=${3:-$2} lib
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$bin" "$root$dest"
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# add_busybox ROOTFS: a static busybox at /bin with the applets scripts and probes use.
add_busybox() {
  local root=$1 a
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh cat cp rm ls sleep touch mkdir echo test true false kill ps env mv sync stat ip \
    hostname grep sed head tail wc seq awk dd od sha256sum md5sum setsid nohup date tr cut printf nc wget; do
    [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
  done
  chmod 1777 "$root/tmp"
  [ -f "$root/etc/passwd" ] || echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
}
