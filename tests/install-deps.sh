#!/usr/bin/env bash
# Install, from Debian's archive, everything the build and the VM tests need:
# the compiler tool chain, the daemon's and host tool's libraries, QEMU, and one
# consistent set of linux-image/headers/source 6.12 packages for the test rig.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root (apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q

# The kernel rig needs image, headers and source of the same upload. Take the
# newest linux-source-6.12 the archive has and the matching image/headers ABI.
src_ver=${IIOUSB_KERNEL_DEB_VERSION:-$(apt-cache policy linux-source-6.12 |
	awk '/Candidate:/ { print $2 }')}
if [ -z "$src_ver" ] || [ "$src_ver" = "(none)" ]; then
	echo "install-deps: linux-source-6.12 not found in the apt sources" >&2
	exit 1
fi
kabi="${src_ver%%-*}+deb12"

pkgs=(
	build-essential cmake pkg-config git
	bc bison flex libelf-dev libssl-dev kmod cpio xz-utils dwarves
	"linux-source-6.12=$src_ver"
	"linux-image-$kabi-amd64"
	"linux-headers-$kabi-amd64"
	qemu-system-x86 busybox-static
	libusb-1.0-0-dev libiio-dev libusbgx-dev libconfig-dev libsystemd-dev
	libyaml-cpp-dev libgtest-dev nlohmann-json3-dev
	iiod libiio-utils usbutils python3 python3-libiio
	clang-format clang-tidy shellcheck
)
# (The systemd VM scenarios need no package installed here: tests/vm/mkrootfs-systemd.sh
# fetches systemd and its libraries with `apt-get download` against these apt sources and
# unpacks them with dpkg-deb; readelf comes with build-essential's binutils.)
# Installing a kernel image runs initramfs-tools hooks we do not need.
INITRD=No apt-get install -y -q --no-install-recommends "${pkgs[@]}"
echo "install-deps: kernel $kabi-amd64 (linux-source-6.12 $src_ver)"
