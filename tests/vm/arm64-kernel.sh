#!/usr/bin/env bash
# Fetch Debian's arm64 6.12 kernel for the arm64 VM rig (run.sh --arch arm64) and print the
# directory it is in:
#   tests/vm/arm64-kernel.sh KABI        (KABI: 6.12.N+deb12, the ABI of the modules' headers)
# linux-image-KABI-arm64:arm64 and busybox-static:arm64 are downloaded with `apt-get
# download` and unpacked with dpkg-deb (not installed) into
# ${XDG_CACHE_HOME:-~/.cache}/iiousb/arm64-KABI: boot/vmlinuz-KABI-arm64 (an uncompressed
# arm64 Image), lib/modules/KABI-arm64 (with the modules.dep depmod -b makes, as the
# package's postinst would) and bin/busybox. Needs the arm64 architecture in dpkg
# (tests/cross/install-deps.sh arm64 adds it).
set -euo pipefail
kabi=${1:?usage: arm64-kernel.sh KABI}
kver=$kabi-arm64
fail() { echo "arm64-kernel: $*" >&2; exit 1; }
cache=${XDG_CACHE_HOME:-$HOME/.cache}/iiousb/arm64-$kabi
mkdir -p "$(dirname "$cache")"
# One fetcher at a time (CTest may start several VM runs at once).
exec 9> "$cache.lock"
flock 9
if [ ! -f "$cache/complete" ]; then
	echo "arm64-kernel: fetching linux-image-$kver:arm64 and busybox-static:arm64 into $cache" >&2
	rm -rf "$cache"
	"$(dirname "$0")/../fetch-debs.sh" "$cache" "linux-image-$kver:arm64" busybox-static:arm64 ||
		fail "fetching them failed (dpkg --add-architecture arm64 and apt-get update: tests/cross/install-deps.sh arm64)"
	rm -rf "$cache/usr/share" "$cache/usr/lib/linux-image-$kver"
	[ -f "$cache/boot/vmlinuz-$kver" ] || fail "no boot/vmlinuz-$kver in linux-image-$kver:arm64"
	[ -x "$cache/bin/busybox" ] || fail "no bin/busybox in busybox-static:arm64"
	depmod -b "$cache" "$kver"
	touch "$cache/complete"
fi
echo "$cache"
