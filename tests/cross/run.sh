#!/usr/bin/env bash
# Cross build for a board architecture and test what can be tested off the board:
#   1. the daemon, host tool and unit tests with cmake/toolchains/<triplet>.cmake
#      (warnings are errors), the unit tests run under qemu-user (CTest summary);
#   2. the carried kernel modules (kernel-patches/build.sh) against Debian's 6.12
#      headers for that architecture, each module's vermagic checked.
# Needs tests/cross/install-deps.sh ARCH first (as root). Usage:
#   tests/cross/run.sh [--build-dir DIR] [--kabi 6.12.N+deb12] ARCH      (ARCH: arm64, armhf)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=
kabi=
while [ $# -gt 1 ]; do
	case "$1" in
	--build-dir) build=$2; shift 2 ;;
	--kabi) kabi=$2; shift 2 ;;
	*) break ;;
	esac
done
arch=${1:?usage: tests/cross/run.sh [--build-dir DIR] [--kabi ABI] arm64|armhf}
case "$arch" in
arm64) triplet=aarch64-linux-gnu; flavour=arm64; karch=arm64; guest=ON ;;
armhf) triplet=arm-linux-gnueabihf; flavour=armmp; karch=arm; guest=OFF ;;
*) echo "cross: unknown architecture '$arch' (arm64, armhf)" >&2; exit 2 ;;
esac
build=${build:-$src/build/cross-$arch}
say() { echo "cross[$arch]: $*"; }

if ! command -v "$triplet-g++" > /dev/null; then
	echo "cross[$arch]: $triplet-g++ not found: run tests/cross/install-deps.sh $arch (as root)" >&2
	exit 1
fi

# 1. User space; for arm64 also the VM guest's programs (user/vm-guest/bin, with iiousbd and
# iiousb), which the arm64 VM rig boots with (tests/vm/run.sh --arch arm64 --build-dir DIR).
mkdir -p "$build"
# Absolute: the headers' Makefile gets the path written into it (step 2), and make runs
# in another directory.
build=$(cd "$build" && pwd)
# RelWithDebInfo's optimisation (the warnings -O2 enables) without its -g: a quarter less
# compiler time (armhf: 320 -> 237 s of CPU), and neither the unit tests nor the arm64 VM,
# whose initramfs strips the programs, reads debug information.
cmake -B "$build/user" -S "$src" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchains/$triplet.cmake" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
	-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" -DIIOUSB_VM_TESTS=OFF -DIIOUSB_VM_GUEST=$guest \
	-DIIOUSB_WERROR=ON > "$build/cmake.log" ||
	{ cat "$build/cmake.log"; exit 1; }
cmake --build "$build/user" -j"$(nproc)"
for bin in daemon/iiousbd tools/iiousb; do
	say "$bin: $(readelf -h "$build/user/$bin" | awk -F': *' '/Class|Machine/ { printf "%s ", $2 }')"
done
(cd "$build/user" && ctest -L unit -j"$(nproc)" --timeout 120 --output-on-failure)

# 2. Kernel modules against Debian's headers for the architecture. The headers package
# is unpacked, not installed (it would pull the architecture's kernel image and kbuild):
# its host programs come from the build machine's linux-kbuild of the same ABI, as for
# any cross build of Debian's kernel modules.
if [ -z "$kabi" ]; then
	kabi=$(ls -d /usr/lib/linux-kbuild-6.12* 2> /dev/null | sort -V | tail -1)
	kabi=${kabi##*/linux-kbuild-}
fi
[ -n "$kabi" ] && [ -d "/usr/lib/linux-kbuild-$kabi" ] || {
	echo "cross[$arch]: no /usr/lib/linux-kbuild-<abi> (linux-headers-<abi>-amd64 brings it): tests/install-deps.sh" >&2
	exit 1
}
hdr=$build/headers-$kabi
kdir=$hdr/usr/src/linux-headers-$kabi-$flavour
common=$hdr/usr/src/linux-headers-$kabi-common
if [ ! -f "$kdir/.config" ]; then
	rm -rf "$hdr"
	"$src/tests/fetch-debs.sh" "$hdr" "linux-headers-$kabi-$flavour:$arch" "linux-headers-$kabi-common" || true
	[ -f "$kdir/.config" ] || { echo "cross[$arch]: linux-headers-$kabi-$flavour:$arch not found in the apt sources" >&2; exit 1; }
	sed -i "s#/usr/src/linux-headers-$kabi-common#$common#" "$kdir/Makefile"
	for d in "$kdir" "$common"; do
		ln -sfn "/usr/lib/linux-kbuild-$kabi/scripts" "$d/scripts"
		ln -sfn "/usr/lib/linux-kbuild-$kabi/tools" "$d/tools"
	done
fi
rm -rf "$build/kmod"
ARCH=$karch CROSS_COMPILE=$triplet- "$src/kernel-patches/build.sh" --kdir "$kdir" --out "$build/kmod" > "$build/kmod.log" 2>&1 ||
	{ tail -40 "$build/kmod.log"; echo "cross[$arch]: kernel-patches/build.sh failed (log: $build/kmod.log)" >&2; exit 1; }
n=0
for ko in "$build"/kmod/modules/*.ko; do
	vermagic=$(/sbin/modinfo -F vermagic "$ko")
	case "$vermagic" in
	"$kabi-$flavour "*) ;;
	*) echo "cross[$arch]: $ko: vermagic '$vermagic', expected $kabi-$flavour" >&2; exit 1 ;;
	esac
	say "module $(basename "$ko"): $vermagic"
	n=$((n + 1))
done
[ "$n" -ge 4 ] || { echo "cross[$arch]: only $n modules built" >&2; exit 1; }
say "PASS: user space built and unit-tested under qemu-user, $n kernel modules for $kabi-$flavour"
