#!/usr/bin/env bash
# Build iiousbd against elogind's libelogind instead of libsystemd
# (-DIIOUSB_SD_EVENT_PKG=libelogind, packaging/README.md) and run the unit tests that turn
# a real sd-event loop with it:
#
#   tests/packaging/build-elogind.sh OUTDIR
#
# libelogind0 conflicts with libsystemd0 (Debian installs one or the other), so nothing is
# installed: libelogind-dev and libelogind0 are downloaded (tests/fetch-debs.sh) and
# unpacked into OUTDIR/sysroot, a copy of libelogind.pc is pointed at it, and the tests
# run with LD_LIBRARY_PATH on its library. The build must link libelogind.so.0 and not
# libsystemd.so.0. Exit status 77 (skipped, for CTest) when the packages cannot be
# downloaded.
set -euo pipefail

if [ $# -ne 1 ] || [ "${1:0:1}" = - ]; then
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
fail() {
	echo "build-elogind: $*" >&2
	exit 1
}
start=$SECONDS

sysroot=$out/sysroot
multiarch=$(gcc -print-multiarch)
pc_in=$sysroot/usr/lib/$multiarch/pkgconfig/libelogind.pc
if [ ! -f "$pc_in" ]; then
	rm -rf "$sysroot"
	if ! "$src/tests/fetch-debs.sh" "$sysroot" libelogind-dev libelogind0; then
		echo "build-elogind: SKIP: could not download libelogind-dev/libelogind0" >&2
		exit 77
	fi
fi
[ -f "$pc_in" ] || fail "libelogind-dev has no $pc_in"
libdir=$(sed -n 's/^libdir=//p' "$pc_in")
[ -e "$sysroot$libdir/libelogind.so.0" ] || fail "no libelogind.so.0 in $sysroot$libdir"
# The -dev package's libelogind.so is an absolute link (to /lib/...): the linker's name for
# the library next to it, inside the sysroot.
ln -sfn libelogind.so.0 "$sysroot$libdir/libelogind.so"

# libelogind.pc with its paths inside the sysroot (it spells them out rather than
# deriving them from ${prefix}).
mkdir -p "$out/pkgconfig"
sed -e "s|^prefix=/|prefix=$sysroot/|" -e "s|^exec_prefix=/|exec_prefix=$sysroot/|" \
	-e "s|^libdir=/|libdir=$sysroot/|" -e "s|^includedir=/|includedir=$sysroot/|" \
	"$pc_in" > "$out/pkgconfig/libelogind.pc"
echo "build-elogind: libelogind $(PKG_CONFIG_PATH=$out/pkgconfig pkg-config --modversion libelogind)" \
	"from $sysroot"

build=$out/build
PKG_CONFIG_PATH=$out/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
	cmake -S "$src" -B "$build" -DIIOUSB_SD_EVENT_PKG=libelogind -DIIOUSB_VM_TESTS=OFF \
	-DIIOUSB_WERROR=ON -DBUILD_TESTING=ON > "$out/configure.log" 2>&1 ||
	fail "configure failed: $out/configure.log"
grep -q "^IIOUSB_SD_EVENT_PKG:STRING=libelogind$" "$build/CMakeCache.txt" ||
	fail "the build is not configured for libelogind"
# The daemon and the unit tests that run a real sd-event loop (logging, the job queue, the
# pipeline and stream state machines, the libiio personality's function).
tests=(unit_log unit_jobqueue unit_pipeline_stream unit_iiod_function)
cmake --build "$build" -j2 --target iiousbd "${tests[@]}" > "$out/build.log" 2>&1 ||
	fail "build failed: $out/build.log"

needed=$(readelf -d "$build/daemon/iiousbd" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "build-elogind: iiousbd NEEDED: ${needed//$'\n'/ }"
grep -qx 'libelogind.so.0' <<< "$needed" || fail "iiousbd does not link libelogind.so.0"
! grep -q '^libsystemd' <<< "$needed" || fail "iiousbd links libsystemd directly"

export LD_LIBRARY_PATH=$sysroot$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
"$build/daemon/iiousbd" --version
"$build/daemon/iiousbd" --check-config "$src/config/iiousbd.yaml" ||
	fail "iiousbd --check-config config/iiousbd.yaml failed"
# The unit tests' sd_event_* calls must come from libelogind. (Libraries that want
# libsystemd.so.0, such as libdbus under libiio's avahi client, get the sysroot's: a link
# to libelogind, as on a Debian system with libelogind0.)
ldd "$build/tests/unit/unit_jobqueue" | grep -q "libelogind.so.0 => $sysroot" ||
	fail "unit_jobqueue does not load libelogind from $sysroot"
(cd "$build" && ctest --output-on-failure -R "^($(IFS='|'; echo "${tests[*]}"))\\.") ||
	fail "unit tests failed against libelogind"
echo "build-elogind: PASS in $((SECONDS - start)) s"
