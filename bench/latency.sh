#!/usr/bin/env bash
# The latency benchmark: per block size and buffer count, how long a block takes from the
# simulated ADC completing it to `iiousb capture` having it (its per-block metadata's IIO
# completion time against the host's receive time; one clock in the VM), at a paced ADC and
# at an unpaced one (bench/README.md, "Latency").
#
#   bench/latency.sh [options]
#
#   --speed hs|ss        dummy_hcd speed (default hs)
#   --seconds N          seconds per point (default 4)
#   --blocks LIST        block sizes in bytes, colon-separated (default 16K:64K:256K:1M)
#   --bufs LIST          buffer counts, colon-separated (default 2:4:8)
#   --rate N             the paced ADC's sample sets per second (default 500000, 4 MB/s)
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not build the VM's modules and programs first
#   --out DIR            keep the console log and table there (default: a new temp dir)
#
# Prints a markdown table. Exits 1 if the VM run fails. Emulator figures: compare within a
# run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speed=hs
seconds=4
blocks=16384:65536:262144:1048576
bufs=2:4:8
rate=500000

# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

while [ $# -gt 0 ]; do
	if common_option "$@"; then shift "$taken"; continue; fi
	case $1 in
	--speed) speed=$2; shift 2 ;;
	--blocks) blocks=$2; shift 2 ;;
	--bufs) bufs=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	*) unknown_option "$1" ;;
	esac
done
case $speed in hs | ss) ;; *) fail "--speed must be hs or ss" ;; esac
check_lists "$blocks" "$bufs"
check_count --seconds "$seconds"
check_count --rate "$rate"
bench_dirs latency

npoints=$((2 * $(tr ':' '\n' <<< "$blocks" | wc -l) * $(tr ':' '\n' <<< "$bufs" | wc -l)))
timeout=$((120 + npoints * (seconds + 20)))
log=$out/console-$speed.log
echo "bench: latency at $speed, $npoints points of ${seconds}s (console: $log)" >&2
if ! "$root/tests/vm/run.sh" --build-dir "$build" $nobuild --speed "$speed" --timeout "$timeout" \
	--log "$log" bench_latency "$seconds" "$blocks" "$bufs" "$rate" > "$out/run-$speed.txt" 2>&1; then
	tail -40 "$log" >&2 || true
	fail "the VM run failed (console: $log)"
fi

ms() { awk -v n="$1" 'BEGIN { printf "%.2f", n / 1e6 }'; }
{
	echo "Latency at $speed: IIO completion -> host has the block (p50 / p99 / max, ms);"
	echo "fill = block / (rate x 8 bytes), the time the ADC takes to fill one block."
	echo
	echo "| ADC pace | block | buffers | fill ms | p50 | p99 | max | MB/s | gaps |"
	echo "|---|---|---|---|---|---|---|---|---|"
	grep -a '^LAT ' "$log" | tr -d '\r' | while read -r _ kv; do
		declare -A f=()
		for x in $kv; do f[${x%%=*}]=${x#*=}; done
		if [ "${f[rate]}" = 0 ]; then
			pace="unpaced"
			fill="-"
		else
			pace="${f[rate]}/s"
			fill=$(awk -v b="${f[block]}" -v r="${f[rate]}" 'BEGIN { printf "%.2f", b / 8 / r * 1000 }')
		fi
		if [ "${f[ok]}" = 1 ]; then
			echo "| $pace | $((f[block] / 1024)) KiB | ${f[bufs]} | $fill | $(ms "${f[p50]}") |" \
				"$(ms "${f[p99]}") | $(ms "${f[max]}") | ${f[mbps]} | ${f[gaps]} |"
		else
			echo "| $pace | $((f[block] / 1024)) KiB | ${f[bufs]} | $fill | n/a | n/a | n/a | - | - |"
		fi
	done
} | tee "$out/latency-$speed.md"
