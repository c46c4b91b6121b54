#!/usr/bin/env bash
# Install, from Debian's archive, what cross builds for the boards need: the cross tool
# chain, the daemon's and host tool's libraries for each ARCH (multiarch), qemu-user
# for running the unit tests, and for arm64 qemu-system-arm (the arm64 VM rig). ARCH:
# arm64 (ZCU102, Kuiper arm64), armhf (Pluto, Kuiper armhf).
# Usage: tests/cross/install-deps.sh arm64 [armhf]
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "cross/install-deps: must run as root (dpkg, apt-get)" >&2
	exit 1
fi
[ $# -gt 0 ] || set -- arm64

export DEBIAN_FRONTEND=noninteractive
triplet() {
	case "$1" in
	arm64) echo aarch64-linux-gnu ;;
	armhf) echo arm-linux-gnueabihf ;;
	*) echo "cross/install-deps: unknown architecture '$1' (arm64, armhf)" >&2; return 1 ;;
	esac
}

for arch in "$@"; do
	triplet "$arch" > /dev/null
	dpkg --add-architecture "$arch"
done
apt-get update -q

for arch in "$@"; do
	t=$(triplet "$arch")
	# nlohmann-json3-dev (header only, for the host tool's SigMF metadata) is Architecture:
	# all, Multi-Arch: foreign: the build machine's package serves every target as it is.
	apt-get install -y -q --no-install-recommends \
		"crossbuild-essential-$arch" qemu-user-static \
		"libusb-1.0-0-dev:$arch" "libusbgx-dev:$arch" "libconfig-dev:$arch" \
		"libsystemd-dev:$arch" "libiio-dev:$arch" "zlib1g-dev:$arch" \
		"libgtest-dev:$arch" "libyaml-cpp0.7:$arch" nlohmann-json3-dev
	# The arm64 VM rig (tests/vm/run.sh --arch arm64) boots in qemu-system-aarch64.
	[ "$arch" != arm64 ] || apt-get install -y -q --no-install-recommends qemu-system-arm

	# libyaml-cpp-dev is Multi-Arch: no, so libyaml-cpp-dev:$arch would replace the
	# build machine's. Headers are the same for every architecture (/usr/include); take
	# only the pkg-config file and the link from the target's package, into
	# /usr/local/lib/$t (which cmake/toolchains/debian-cross.cmake searches).
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$(dirname "$0")/../fetch-debs.sh" "$tmp/x" "libyaml-cpp-dev:$arch"
	pc="$tmp/x/usr/lib/$t/pkgconfig/yaml-cpp.pc"
	[ -f "$pc" ] || { echo "cross/install-deps: no yaml-cpp.pc in libyaml-cpp-dev:$arch" >&2; exit 1; }
	install -d "/usr/local/lib/$t/pkgconfig"
	sed "s#^libdir=.*#libdir=/usr/local/lib/$t#" "$pc" > "/usr/local/lib/$t/pkgconfig/yaml-cpp.pc"
	ln -sfn "/usr/lib/$t/$(readlink "$tmp/x/usr/lib/$t/libyaml-cpp.so")" "/usr/local/lib/$t/libyaml-cpp.so"
	rm -rf "$tmp"
	trap - EXIT
	echo "cross/install-deps: $arch ($t) ready"
done
