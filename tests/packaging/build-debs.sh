#!/usr/bin/env bash
# Build iiousb's Debian packages (debian/: iiousbd, iiousb, iiousb-dkms) and check them
# with lintian:
#
#   tests/packaging/build-debs.sh [--dkms[=KERNELVER]] OUTDIR
#
# The build runs in a scratch copy of the tree (OUTDIR/work: the files git tracks plus
# untracked, not ignored ones), so the source tree stays clean. Missing build
# dependencies (and lintian) are installed with apt-get when run as root; otherwise
# the script names them and exits 77 (skipped, for CTest). dpkg-buildpackage -us -uc -b
# runs the unit tests (unless DEB_BUILD_OPTIONS has nocheck); lintian's errors and
# warnings that are not overridden (debian/*.lintian-overrides, each override explained
# there) fail the run.
# The .debs, the .changes, the build log and lintian's output end up in OUTDIR.
#
# --dkms also builds iiousb-dkms's modules with dkms (add + build, no install) for
# KERNELVER (default: the VM rig's Debian 6.12 kernel, tests/vm/kver.sh), from the
# extracted package, in scratch dkms trees under OUTDIR; as root, in a private mount
# namespace with a tmpfs on /var/lib/dkms, so that dkms's module signing key stays there.
set -euo pipefail

usage() {
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
dkms_kernel=
while [ $# -gt 1 ]; do
	case $1 in
	--dkms) dkms_kernel=rig; shift ;;
	--dkms=*) dkms_kernel=${1#--dkms=}; shift ;;
	*) usage ;;
	esac
done
if [ $# -ne 1 ] || [ "${1:0:1}" = - ]; then
	usage
fi
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
fail() {
	echo "build-debs: $*" >&2
	exit 1
}
start=$SECONDS

# The Debian version is the project's (CMakeLists.txt project(VERSION)).
cmake_version=$(sed -n 's/^project(iiousb VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -SVersion 2>/dev/null ||
	sed -n '1s/^iiousb (\([^)]*\)).*/\1/p' "$src/debian/changelog")
[ "$cmake_version" = "${deb_version%%-*}" ] ||
	fail "debian/changelog has $deb_version, CMakeLists.txt project(VERSION) $cmake_version"

# A scratch copy of the tree, named as dpkg-source likes.
work=$out/work
rm -rf "$work"
tree=$work/iiousb-$cmake_version
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir > /dev/null 2>&1; then
	# (Tracked files deleted in the work tree are left out.)
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
		done | tar --null -T - -cf -) | tar -xf - -C "$tree"
else
	tar -C "$src" --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$tree"
fi

# Build dependencies (debian/control), dpkg-dev, debhelper and lintian.
m=
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
	command -v "${tool%%:*}" > /dev/null || m="$m ${tool#*:}"
done
if [ -z "$m" ] && ! (cd "$tree" && dpkg-checkbuilddeps > /dev/null 2>&1); then
	m="$m (Build-Depends of debian/control)"
fi
if [ -n "$m" ]; then
	if [ "$(id -u)" != 0 ]; then	# (exit 77: CTest reports the test as skipped)
		echo "build-debs: missing:$m; as root: apt-get install dpkg-dev debhelper lintian" \
			"&& apt-get build-dep $src" >&2
		exit 77
	fi
	echo "build-debs: installing$m"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q > "$out/apt.log" 2>&1 || fail "apt-get update failed ($out/apt.log)"
	apt-get install -y -q --no-install-recommends dpkg-dev debhelper lintian >> "$out/apt.log" 2>&1 ||
		fail "apt-get install failed ($out/apt.log)"
	apt-get build-dep -y -q --no-install-recommends "$tree" >> "$out/apt.log" 2>&1 ||
		fail "apt-get build-dep failed ($out/apt.log)"
fi
(cd "$tree" && dpkg-checkbuilddeps) || fail "build dependencies missing (above)"

# Build.
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)"
echo "build-debs: dpkg-buildpackage -us -uc -b in $tree (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
if ! (cd "$tree" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	fail "dpkg-buildpackage failed (whole log: $out/build.log)"
fi
grep -E '^(100% tests passed|[0-9]+% tests passed|Total Test time)' "$out/build.log" || true
changes=$(ls "$work"/iiousb_*.changes)
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
changes=$out/$(basename "$changes")
build_seconds=$((SECONDS - start))

# Lintian: errors and warnings fail, overridden tags are not reported.
rc=0
lintian --fail-on error,warning --display-info "$changes" > "$out/lintian.log" 2>&1 || rc=$?
cat "$out/lintian.log"
[ "$rc" = 0 ] || fail "lintian found errors or warnings (above; $out/lintian.log)"

# The DKMS build of iiousb-dkms, as its postinst would run it (without the install).
if [ -n "$dkms_kernel" ]; then
	[ "$(id -u)" = 0 ] || fail "--dkms needs root (dkms, mount namespace)"
	[ "$dkms_kernel" = rig ] && dkms_kernel=$("$src/tests/vm/kver.sh")
	command -v dkms > /dev/null || {
		echo "build-debs: installing dkms"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dkms \
			>> "$out/apt.log" 2>&1 || fail "apt-get install dkms failed ($out/apt.log)"
	}
	version=$(dpkg-deb -f "$out"/iiousb-dkms_*_all.deb Version)
	d=$out/dkms
	rm -rf "$d"
	mkdir -p "$d/root" "$d/tree"
	dpkg-deb -x "$out"/iiousb-dkms_*_all.deb "$d/root"
	args=(-m iiousb -v "$version" --sourcetree "$d/root/usr/src" --dkmstree "$d/tree")
	echo "build-debs: dkms build ${args[*]} -k $dkms_kernel"
	t=$SECONDS
	if ! unshare -m bash -c 'set -e; mount -t tmpfs iiousb-dkms /var/lib/dkms; dkms add "$@";
		dkms build "$@"' - "${args[@]}" -k "$dkms_kernel" > "$out/dkms.log" 2>&1; then
		cat "$out/dkms.log" "$d/tree/iiousb/$version/build/make.log" >&2 2> /dev/null || true
		fail "dkms build failed ($out/dkms.log)"
	fi
	ls "$d/tree/iiousb/$version/$dkms_kernel"/*/module/
	echo "build-debs: dkms build for $dkms_kernel: ok ($((SECONDS - t)) s)"
	rm -rf "$d"
fi

rm -rf "$work"
echo "build-debs: packages in $out (build ${build_seconds} s, all $((SECONDS - start)) s):"
ls -1 "$out"/*.deb
