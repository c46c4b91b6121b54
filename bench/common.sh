# Shared by the bench scripts (sourced): the usage text from the calling script's header
# comment, errors, the options they all take, and the build and output directories.

# The defaults of the common options (common_option).
build=${IIOUSB_BUILD_DIR:-$PWD/build}
nobuild=
out=

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

# common_option ARGS...: an option every bench script takes (--seconds, --build-dir,
# --no-build, --out, --help) at the front of ARGS sets its variable and succeeds, with the
# words it used in $taken; fails for any other (the script's own case).
common_option() {
	taken=0
	case $1 in
	--seconds) seconds=${2:-}; taken=2 ;;
	--build-dir) build=${2:-}; taken=2 ;;
	--no-build) nobuild=--no-build; taken=1 ;;
	--out) out=${2:-}; taken=2 ;;
	-h | --help) usage 0 ;;
	*) return 1 ;;
	esac
	[ "$taken" -le $# ] || fail "$1 needs a value"
}

# kernel_option VALUE: the guest kernel of --kernel (stock or irqtime) into $kernel.
kernel_option() {
	case ${1:-} in
	stock | irqtime) kernel=$1 ;;
	*) fail "--kernel must be stock or irqtime" ;;
	esac
}

# build_kernel: with --kernel irqtime and without --no-build, builds the irqtime kernel and
# its modules (cached after the first time).
build_kernel() {
	[ "$kernel" = irqtime ] && [ -z "$nobuild" ] || return 0
	echo "bench: building the irqtime kernel and its modules (cached after the first time)" >&2
	cmake --build "$build" --target kmods-irqtime > "$build/kmods-irqtime.log" 2>&1 ||
		fail "building the irqtime kernel failed (log in $build/kmods-irqtime.log)"
}

unknown_option() {
	echo "bench: unknown argument '$1'" >&2
	usage 2 >&2
}

# check_lists LIST...: each is numbers separated by ':'.
check_lists() {
	for l in "$@"; do
		[[ $l =~ ^[0-9]+(:[0-9]+)*$ ]] || fail "lists are numbers separated by ':' ('$l')"
	done
}

# check_count NAME VALUE: VALUE is a whole number >= 1.
check_count() {
	[[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || fail "$1 must be a whole number >= 1"
}
