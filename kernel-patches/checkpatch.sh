#!/usr/bin/env bash
# Runs the kernel's checkpatch.pl --strict over the kernel code iiousb carries: every
# patch in linux-6.12/ and iio-sim/iio-sim.c. checkpatch.pl and its data files are
# taken from Debian's linux-source-6.12 tarball (the version the patches are made
# against) into WORKDIR, once.
#
#   kernel-patches/checkpatch.sh [--source TARBALL] WORKDIR
#
# It runs from WORKDIR, outside any git work tree: inside one, checkpatch treats a
# tracked *.patch given by a relative path as a source file and misreports it.
# UNKNOWN_COMMIT_ID is ignored: checkpatch prints it for every Fixes: id when it
# has no kernel git history to look the id up in. Exit status 1 if any file has
# an error, warning or check.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tarball=/usr/src/linux-source-6.12.tar.xz
if [ "${1:-}" = --source ]; then
	tarball=$2
	shift 2
fi
[ $# -eq 1 ] || { echo "usage: $0 [--source TARBALL] WORKDIR" >&2; exit 2; }
[ -f "$tarball" ] || { echo "checkpatch.sh: no $tarball (apt-get install linux-source-6.12)" >&2; exit 1; }
mkdir -p "$1"
work=$(cd "$1" && pwd)

files=(scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)
stamp="$(stat -c '%s %Y' "$tarball")"
if [ ! -f "$work/.stamp" ] || [ "$(cat "$work/.stamp")" != "$stamp" ]; then
	top=$(basename "$tarball" .tar.xz)
	echo "checkpatch.sh: extracting checkpatch.pl from $tarball"
	tar xJf "$tarball" -C "$work" --strip-components=1 "${files[@]/#/$top/}"
	echo "$stamp" > "$work/.stamp"
fi

cd "$work"
failed=0
check() {
	local out
	if out=$(perl scripts/checkpatch.pl --strict --no-tree --ignore UNKNOWN_COMMIT_ID \
		--color=never "$@" 2>&1); then
		echo "clean: ${*: -1} ($(grep -m1 '^total:' <<<"$out"))"
	else
		echo "NOT CLEAN: ${*: -1}"
		echo "$out"
		failed=1
	fi
}
for p in "$here"/linux-6.12/*.patch; do
	check "$p"
done
check -f "$here/iio-sim/iio-sim.c"
exit $failed
