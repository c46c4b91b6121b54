# Shared by the bench scripts (sourced): the usage text from the calling script's header
# comment, errors, and the build and output directories.

# usage [STATUS]: the calling script's header comment (from line 2 to `set -e`), then exit.
usage() {
	sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

fail() {
	echo "bench: $*" >&2
	exit 1
}

# bench_dirs NAME: checks $build and makes it absolute; $out (made if given, else a new
# /tmp/iiousb-NAME.XXXXXX) absolute too.
bench_dirs() {
	[ -d "$build" ] || fail "$build: no build directory (cmake -B build && cmake --build build)"
	build=$(cd "$build" && pwd)
	if [ -n "$out" ]; then
		mkdir -p "$out"
	else
		out=$(mktemp -d "/tmp/iiousb-$1.XXXXXX")
	fi
	out=$(cd "$out" && pwd)
}
