#!/usr/bin/env bash
# Build the rig's debug kernel (lockdep, KASAN, DMA-API debugging) from the
# linux-source tarball: allnoconfig + config.fragment, bzImage and modules. The
# *.patch files here (debugging aids only, not fixes) are applied to the tree first.
#
#   kernel-patches/debug-kernel/build.sh [--flavour debug|irqtime] [--source TARBALL]
#                                        [--cache DIR] [--link DIR]
#
# --flavour irqtime builds the rig's kernel for CPU measurements instead (bench/run.sh
# --kernel irqtime): config.fragment's base (everything above its "# Checking" section,
# without DMABUF_DEBUG) plus irqtime.fragment, and no patches: no checking, and interrupt
# time accounted apart from the task it interrupts (CONFIG_IRQ_TIME_ACCOUNTING, which
# Debian's kernel lacks).
#
# The result is cached in CACHE/<source version>-<hash>/ (hash of the fragment and
# the patches; default cache
# ${XDG_CACHE_HOME:-~/.cache}/iiousb/FLAVOUR-kernel) and holds: build/ (the kernel
# build dir, usable as KDIR for out-of-tree modules), bzImage, modroot/ (modules
# installed under lib/modules/RELEASE) and release (the kernel release string).
# --link DIR makes DIR a symlink to that cache entry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.12.tar.xz
cache=
link=
flavour=debug
while [ $# -gt 0 ]; do
	case $1 in
	--flavour) flavour=$2; shift 2 ;;
	--source) tarball=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	--link) link=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "debug-kernel: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
fail() { echo "debug-kernel: $*" >&2; exit 1; }
[ -f "$tarball" ] || fail "$tarball not found (apt-get install linux-source-6.12)"
: "${cache:=${XDG_CACHE_HOME:-$HOME/.cache}/iiousb/$flavour-kernel}"

# The configuration fragment merged into allnoconfig, and the patches.
patches=("$here"/*.patch)
[ -e "${patches[0]}" ] || patches=()
case $flavour in
debug) fragment=$here/config.fragment ;;
irqtime)
	fragment=$(mktemp)
	trap 'rm -f "$fragment"' EXIT
	sed -e '/^# Checking/,$d' -e '/^CONFIG_LOCALVERSION=/d' -e '/^CONFIG_DMABUF_DEBUG=/d' \
		"$here/config.fragment" > "$fragment"
	cat "$here/irqtime.fragment" >> "$fragment"
	patches=()
	;;
*) fail "--flavour must be debug or irqtime, not '$flavour'" ;;
esac

# Bump when a change to this script changes what it builds.
format=2
srcver=$(dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null || stat -c %Y "$tarball")
key="$srcver-$( (cat "$fragment" ${patches[@]+"${patches[@]}"}; echo "format $format") |
	sha256sum | cut -c1-12)"
entry=$cache/$key
# One builder at a time per cache entry (parallel CMake build dirs share the
# cache); a build of one entry does not hold up users of another.
mkdir -p "$cache"
exec 9> "$cache/.lock-$key"
flock 9
if [ ! -f "$entry/release" ]; then
	start=$(date +%s)
	rm -rf "$entry"
	mkdir -p "$entry/src"
	echo "$flavour-kernel: extracting $tarball"
	tar xJf "$tarball" -C "$entry/src" --strip-components=1
	for p in ${patches[@]+"${patches[@]}"}; do
		echo "$flavour-kernel: applying $(basename "$p")"
		patch -d "$entry/src" -p1 -s < "$p" || fail "$p does not apply"
	done
	make -C "$entry/src" O="$entry/build" ARCH=x86_64 -s \
		KCONFIG_ALLCONFIG="$fragment" allnoconfig
	# Every fragment line must have survived Kconfig's dependency resolution.
	missing=$(grep -E '^CONFIG_' "$fragment" | while read -r line; do
		grep -qxF "$line" "$entry/build/.config" || echo "$line"
	done)
	[ -z "$missing" ] || fail "options not taken by Kconfig: $missing"
	echo "$flavour-kernel: building (log: $entry/build.log)"
	if ! make -C "$entry/build" ARCH=x86_64 -j"$(nproc)" bzImage modules > "$entry/build.log" 2>&1; then
		tail -n 40 "$entry/build.log" >&2
		fail "kernel build failed"
	fi
	make -C "$entry/build" -s INSTALL_MOD_PATH="$entry/modroot" modules_install
	cp "$entry/build/arch/x86/boot/bzImage" "$entry/bzImage"
	rm -rf "$entry/src/Documentation"
	make -C "$entry/build" -s kernelrelease > "$entry/release"
	echo "$flavour-kernel: built $(cat "$entry/release") in $(( $(date +%s) - start ))s"
fi
echo "$flavour-kernel: $entry ($(cat "$entry/release"))"
if [ -n "$link" ]; then
	ln -sfn "$entry" "$link"
fi
