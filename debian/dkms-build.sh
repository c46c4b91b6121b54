#!/bin/bash
# The build step of iiousb-dkms (dkms.conf: MAKE[0]), run by dkms in its copy of
# /usr/src/iiousb-VERSION:
#
#   bash ./dkms-build.sh KERNELVER KERNEL_BUILD_DIR
#
# Builds the fixed modules into out/modules with kernel-patches/build.sh. The fixed
# modules are whole modules rebuilt from linux-source-6.12: a tarball of another upstream
# version than the kernel's would take (or add) that version's stable changes to those
# modules, so the versions must match exactly.
set -euo pipefail

kver=$1
kdir=$2
tarball=/usr/src/linux-source-6.12.tar.xz

fail() {
	echo "iiousb-dkms: $*" >&2
	exit 1
}
[ -f "$kdir/Makefile" ] || fail "$kdir: no kernel build directory for $kver (install its linux-headers package)"
[ -f "$tarball" ] || fail "$tarball not found (apt-get install linux-source-6.12)"

kernel_version=$(make -s -C "$kdir" kernelversion)
source_version=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null) ||
	fail "linux-source-6.12 is not installed"
source_version=${source_version%%-*}
if [ "$kernel_version" != "$source_version" ]; then
	fail "kernel $kver is Linux $kernel_version, but linux-source-6.12 is $source_version:" \
		"install the linux-source-6.12 of the same version (or the kernel of linux-source's)," \
		"then: dkms install iiousb/$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf) -k $kver"
fi
echo "iiousb-dkms: building against $kdir (Linux $kernel_version) with $tarball"
exec bash kernel-patches/build.sh --kdir "$kdir" --source "$tarball" --out "$PWD/out" -j "$(nproc)"
