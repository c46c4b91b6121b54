#!/usr/bin/env bash
# Where the zero-copy servers' CPU goes, per block: (c) the raw DMABUF loop and (a) iiousbd,
# each sampled with `perf record -e cpu-clock -g` in the VM over one capture, on bench/run.sh's
# RX stream (bench/README.md, "CPU per block"). The CPU per block comes from schedstat, and
# each symbol's share of the samples is turned into microseconds per block, so that the two
# servers compare by what each does per block rather than by percentages.
#
#   bench/profile.sh [options]
#
#   --seconds N          seconds per capture (default 6)
#   --block BYTES        block size (default 65536)
#   --bufs N             buffers (default 1)
#   --top N              symbols listed (default 25)
#   --kernel stock|irqtime  the guest's kernel (default irqtime: schedstat then leaves out
#                        the interrupt work that Debian's kernel charges to whatever task it
#                        interrupts; bench/run.sh --kernel says more). Built (cached) first
#                        unless --no-build
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not build the VM's kernel, modules and programs first
#   --out DIR            keep the console log and tables there (default: a new temp dir)
#
# Needs perf on this machine (apt-get install linux-perf): it is copied into the guest for
# the run. Samples of interrupt work land where interrupts are let back in
# (finish_task_switch, _raw_spin_unlock_irq*), in both servers. Prints markdown tables.
# Exits 1 if the VM run fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=6
block=65536
nbufs=1
top=25
kernel=irqtime

# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

while [ $# -gt 0 ]; do
	if common_option "$@"; then shift "$taken"; continue; fi
	case $1 in
	--block) block=${2:-}; shift 2 ;;
	--bufs) nbufs=${2:-}; shift 2 ;;
	--top) top=${2:-}; shift 2 ;;
	--kernel) kernel_option "${2:-}"; shift 2 ;;
	*) unknown_option "$1" ;;
	esac
done
check_count --seconds "$seconds"
check_count --block "$block"
check_count --bufs "$nbufs"
check_count --top "$top"
perf_bin=$(command -v perf) || fail "perf missing (apt-get install linux-perf)"
bench_dirs profile
build_kernel

# The guest takes every program in BUILD/vm-guest/bin: perf goes there for this run only.
guest_bin=$build/vm-guest/bin
mkdir -p "$guest_bin"
trap 'rm -f "$guest_bin/perf"' EXIT
cp "$perf_bin" "$guest_bin/perf"

log=$out/console.log
echo "bench: profile of (c) and (a), block $block x $nbufs, ${seconds}s each, $kernel kernel (console: $log)" >&2
if ! "$root/tests/vm/run.sh" --build-dir "$build" $nobuild --kernel "$kernel" --timeout 600 \
	--log "$log" bench_profile "$seconds" "$block" "$nbufs" 400 > "$out/run.txt" 2>&1 ||
	! grep -q '^PROFILE-END' "$log"; then
	tail -40 "$log" >&2 || true
	fail "the VM run failed (console: $log)"
fi

tr -d '\r' < "$log" | grep -a '^PROFILE' | awk -v top="$top" -v kernel="$kernel" '
	function kv(line,   i, n, f, k, s) {
		delete R
		s = index(line, " sym=")
		if (s) { R["sym"] = substr(line, s + 5); line = substr(line, 1, s - 1) }
		n = split(line, f, " ")
		for (i = 2; i <= n; i++) { k = index(f[i], "="); if (k) R[substr(f[i], 1, k - 1)] = substr(f[i], k + 1) }
	}
	# Where a DSO belongs: the kernel, a module, or user space (the program and its libraries).
	function group(dso) {
		if (dso == "[kernel.kallsyms]") return "kernel"
		if (dso ~ /^\[/) return "module " substr(dso, 2, length(dso) - 2)
		return "user " dso
	}
	/^PROFILE / {
		kv($0)
		US[R["srv"]] = R["blocks"] > 0 ? R["cpu"] / R["blocks"] * 1e6 : 0
		BLOCKS[R["srv"]] = R["blocks"]; CPU[R["srv"]] = R["cpu"]
		next
	}
	/^PROFILE-SYM / {
		kv($0)
		v = R["pct"] / 100 * US[R["srv"]]
		k = R["dso"] " " R["sym"]
		SYM[R["srv"], k] += v; KEYS[k] = 1
		G[R["srv"], group(R["dso"])] += v; GROUPS[group(R["dso"])] = 1
	}
	function f1(x) { return sprintf("%.1f", x) }
	END {
		if (!("a" in US) || !("c" in US)) { print "bench: a server did not run (see the console log)"; exit 1 }
		printf "CPU per block (schedstat, %s kernel): (c) %s us (%d blocks, %.3f s), (a) %s us (%d blocks, %.3f s), (a)/(c) %.2f\n\n", \
		    kernel, f1(US["c"]), BLOCKS["c"], CPU["c"], f1(US["a"]), BLOCKS["a"], CPU["a"], (US["c"] > 0 ? US["a"] / US["c"] : 0)
		print "| where | (a) us/block | (c) us/block | (a) - (c) |"
		print "|---|---|---|---|"
		n = 0
		for (g in GROUPS) L[++n] = g
		for (i = 2; i <= n; i++) for (j = i; j > 1 && L[j - 1] > L[j]; j--) { t = L[j]; L[j] = L[j - 1]; L[j - 1] = t }
		for (i = 1; i <= n; i++) printf "| %s | %s | %s | %s |\n", L[i], f1(G["a", L[i]]), f1(G["c", L[i]]), f1(G["a", L[i]] - G["c", L[i]])
		printf "\nThe %d symbols with the largest difference, (a) - (c):\n\n", top
		print "| symbol | (a) us/block | (c) us/block | (a) - (c) |"
		print "|---|---|---|---|"
		m = 0
		for (k in KEYS) { K[++m] = k; D[m] = SYM["a", k] - SYM["c", k]; A[m] = D[m] < 0 ? -D[m] : D[m] }
		for (i = 2; i <= m; i++) for (j = i; j > 1 && A[j - 1] < A[j]; j--) {
			t = A[j]; A[j] = A[j - 1]; A[j - 1] = t; t = K[j]; K[j] = K[j - 1]; K[j - 1] = t; t = D[j]; D[j] = D[j - 1]; D[j - 1] = t }
		for (i = 1; i <= m && i <= top; i++) printf "| `%s` | %s | %s | %+.1f |\n", K[i], f1(SYM["a", K[i]]), f1(SYM["c", K[i]]), D[i]
	}' | tee "$out/profile.md"
echo "bench: tables in $out/profile.md" >&2
