#!/usr/bin/env bash
# System calls per block: (c) the raw DMABUF loop, (a) iiousbd zero-copy and optionally (r)
# another iiousbd build, each traced with `strace -c` in the VM over one capture per point,
# on bench/run.sh's RX stream (bench/README.md, "System calls per block"). The counts are
# exact, unlike the CPU figures, which the rig's interrupt accounting blurs.
#
#   bench/syscalls.sh [options]
#
#   --seconds N          seconds per capture (default 4)
#   --blocks LIST        block sizes in bytes, colon-separated (default 65536:1048576)
#   --bufs LIST          buffer counts, colon-separated (default 1:4)
#   --ref-daemon FILE    also trace FILE, another build of iiousbd, as (r)
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not build the VM's modules and programs first
#   --out DIR            keep the console log and table there (default: a new temp dir)
#
# Needs strace on this machine (apt-get install strace): it is copied into the guest for
# the run. Prints a markdown table. Exits 1 if the VM run fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=4
blocks=65536:1048576
bufs=1:4
refd=

# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

while [ $# -gt 0 ]; do
	if common_option "$@"; then shift "$taken"; continue; fi
	case $1 in
	--blocks) blocks=$2; shift 2 ;;
	--bufs) bufs=$2; shift 2 ;;
	--ref-daemon) refd=$2; shift 2 ;;
	*) unknown_option "$1" ;;
	esac
done
check_lists "$blocks" "$bufs"
check_count --seconds "$seconds"
strace_bin=$(command -v strace) || fail "strace missing (apt-get install strace)"
[ -z "$refd" ] || [ -x "$refd" ] || fail "--ref-daemon $refd: not an executable file"
bench_dirs syscalls

# The guest takes every program in BUILD/vm-guest/bin: strace and the reference build go
# there for this run only.
guest_bin=$build/vm-guest/bin
mkdir -p "$guest_bin"
trap 'rm -f "$guest_bin/strace" "$guest_bin/iiousbd-ref"' EXIT
cp "$strace_bin" "$guest_bin/strace"
rm -f "$guest_bin/iiousbd-ref"
[ -z "$refd" ] || cp "$refd" "$guest_bin/iiousbd-ref"

npoints=$(($(tr ':' '\n' <<< "$blocks" | wc -l) * $(tr ':' '\n' <<< "$bufs" | wc -l)))
timeout=$((120 + npoints * 3 * (seconds + 20)))
log=$out/console.log
echo "bench: system calls per block, $npoints points of ${seconds}s (console: $log)" >&2
if ! "$root/tests/vm/run.sh" --build-dir "$build" $nobuild --timeout "$timeout" --log "$log" \
	bench_syscalls "$seconds" "$blocks" "$bufs" > "$out/run.txt" 2>&1 ||
	! grep -q '^SYSCALLS-END' "$log"; then
	tail -40 "$log" >&2 || true
	fail "the VM run failed (console: $log)"
fi

tr -d '\r' < "$log" | grep -a '^SYSCALLS ' | REF=$refd awk '
	function human(b) { return b >= 1048576 ? b / 1048576 "M" : b / 1024 "K" }
	function per(n) { return blocks ? sprintf("%.2f", n / blocks) : "-" }
	BEGIN {
		print "System calls per block (strace -c over one capture; (c) raw loop, (a) iiousbd" \
		    (ENVIRON["REF"] != "" ? ", (r) the reference build" : "") "):"
		print ""
		print "| block | bufs | server | blocks | ioctl | epoll_ctl | epoll_wait | poll | close | other | total |"
		print "|---|---|---|---|---|---|---|---|---|---|---|"
	}
	{
		delete F
		for (i = 2; i <= NF; i++) { split($i, kv, "="); F[kv[1]] = kv[2] }
		blocks = F["blocks"] + 0
		other = F["total"]
		for (k in F) if (k !~ /^(srv|block|bufs|blocks|total)$/) {
			if (k ~ /^(ioctl|epoll_ctl|epoll_wait|poll|close)$/) other -= F[k]
		}
		printf "| %s | %s | (%s) | %d | %s | %s | %s | %s | %s | %s | %s |\n", human(F["block"]), F["bufs"],
		    F["srv"], blocks, per(F["ioctl"]), per(F["epoll_ctl"]), per(F["epoll_wait"]), per(F["poll"]),
		    per(F["close"]), per(other), per(F["total"])
	}' | tee "$out/syscalls.md"
