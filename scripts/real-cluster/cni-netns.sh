#!/bin/sh
# A CNI plugin (spec 0.4.0) for a loopback-only machine: each pod gets an eth0 whose
# veth peer stays inside the pod's own network namespace, so nothing is created on the
# host (no bridge, no host-side veth, no iptables). Pods reach themselves, not each other.
# Addresses come from a directory of one file per address (10.88.0.2-254).
set -eu
conf=$(cat)
field() { printf '%s' "$conf" | sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p"; }
ipam=$(field ipamDir)
subnet=$(field subnet)
version=$(field cniVersion)
mkdir -p "$ipam"
case "${CNI_COMMAND:-}" in
  VERSION)
    printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}\n'; exit 0 ;;
  ADD)
    ip=""
    for i in $(seq 2 254); do
      if (set -C; echo "$CNI_CONTAINERID" >"$ipam/$subnet.$i") 2>/dev/null; then ip=$subnet.$i; break; fi
    done
    [ -n "$ip" ] || { printf '{"cniVersion":"%s","code":11,"msg":"no free address in %s.0/24"}\n' "$version" "$subnet"; exit 1; }
    nsenter --net="$CNI_NETNS" sh -c "
      ip link set lo up &&
      ip link add $CNI_IFNAME type veth peer name ${CNI_IFNAME}p &&
      ip addr add $ip/24 dev $CNI_IFNAME &&
      ip link set ${CNI_IFNAME}p up && ip link set $CNI_IFNAME up" >&2 \
      || { rm -f "$ipam/$ip"; exit 1; }
    # /sys shows the host's namespace here, so ask ip for the MAC.
    mac=$(nsenter --net="$CNI_NETNS" ip -o link show "$CNI_IFNAME" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
    printf '{"cniVersion":"%s","interfaces":[{"name":"%s","mac":"%s","sandbox":"%s"}],"ips":[{"version":"4","address":"%s/24","interface":0}],"dns":{}}\n' \
      "$version" "$CNI_IFNAME" "$mac" "$CNI_NETNS" "$ip"
    ;;
  DEL)
    for f in "$ipam"/*; do
      [ -f "$f" ] && [ "$(cat "$f")" = "$CNI_CONTAINERID" ] && rm -f "$f"
    done
    exit 0 ;;
  CHECK) exit 0 ;;
  *) printf '{"cniVersion":"0.4.0","code":4,"msg":"unknown CNI_COMMAND %s"}\n' "${CNI_COMMAND:-}"; exit 1 ;;
esac
