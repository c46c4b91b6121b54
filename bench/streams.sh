#!/usr/bin/env bash
# The multi-stream benchmark: 1, 2, 4 rx streams at once from iio-sim's ADCs through
# iiousbd to one `iiousb capture rx0,rx1,...` in the VM: aggregate MiB/s, per-stream
# fairness, the daemon's CPU per GiB and its resident memory without DMABUF mappings, idle
# and streaming (bench/README.md, "Streams").
#
#   bench/streams.sh [options]
#
#   --speed hs|ss|both   dummy_hcd speed(s), one VM boot each (default both)
#   --seconds N          seconds of capture per point (default 5)
#   --streams LIST       stream counts, colon-separated, at most 8 (default 1:2:4)
#   --points LIST        BLOCKxCOUNT per stream, colon-separated (default 1048576x4:65536x8)
#   --rounds N           repeat everything N times; cells are medians, RSS the most seen
#                        (default 1)
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not build the VM's modules and programs first
#   --out DIR            keep the console logs and tables there (default: a new temp dir)
#
# Prints a markdown table. Exits 1 if a VM run fails. Emulator figures: compare within a run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speeds="hs ss"
seconds=5
streams=1:2:4
points=1048576x4:65536x8
rounds=1

# shellcheck source=bench/common.sh
. "$root/bench/common.sh"

while [ $# -gt 0 ]; do
	if common_option "$@"; then shift "$taken"; continue; fi
	case $1 in
	--speed)
		case ${2:-} in
		hs | ss) speeds=$2 ;;
		both) speeds="hs ss" ;;
		*) fail "--speed must be hs, ss or both" ;;
		esac
		shift 2
		;;
	--streams) streams=$2; shift 2 ;;
	--points) points=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	*) unknown_option "$1" ;;
	esac
done
[[ $streams =~ ^[1-8](:[1-8])*$ ]] || fail "--streams: counts 1 to 8 separated by ':' ('$streams')"
[[ $points =~ ^[0-9]+x[0-9]+(:[0-9]+x[0-9]+)*$ ]] ||
	fail "--points: BLOCKxCOUNT separated by ':' ('$points')"
check_count --seconds "$seconds"
check_count --rounds "$rounds"
bench_dirs streams

npoints=$((rounds * $(tr ':' '\n' <<< "$points" | wc -l) * $(tr ':' '\n' <<< "$streams" | wc -l)))
timeout=$((120 + npoints * (seconds + 20)))
for speed in $speeds; do
	log=$out/console-$speed.log
	echo "bench: streams at $speed, $npoints runs of ${seconds}s (console: $log)" >&2
	if ! "$root/tests/vm/run.sh" --build-dir "$build" $nobuild --speed "$speed" --timeout "$timeout" \
		--log "$log" bench_streams "$seconds" "$streams" "$points" "$rounds" > "$out/run-$speed.txt" 2>&1; then
		tail -40 "$log" >&2 || true
		fail "the VM run failed (console: $log)"
	fi
	nobuild=--no-build
done

# One row per speed, point and stream count: medians over the rounds of the aggregate
# rate, the slowest and fastest stream, fairness (slowest / fastest) and the daemon's CPU
# per GiB; the aggregate against the one-stream row's; the most RSS seen.
for speed in $speeds; do
	tr -d '\r' < "$out/console-$speed.log" | grep -a '^STREAMS '
done | awk -v order="$speeds" '
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	if (n == 0) return ""
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function num(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
{
	delete f
	for (i = 2; i <= NF; i++) { kk = $i; sub(/=.*/, "", kk); v = $i; sub(/^[^=]*=/, "", v); f[kk] = v }
	key = f["speed"] SUBSEP f["block"] SUBSEP f["bufs"] SUBSEP f["n"]
	if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
	runs[key]++
	if (f["ok"] != 1) { failed[key]++; next }
	agg = f["bytes"] / f["secs"] / 1048576
	m = split(f["mibs"], s, ",")
	lo = s[1]; hi = s[1]
	for (i = 2; i <= m; i++) { if (s[i] + 0 < lo + 0) lo = s[i]; if (s[i] + 0 > hi + 0) hi = s[i] }
	A[key] = A[key] " " agg; LO[key] = LO[key] " " lo; HI[key] = HI[key] " " hi
	FAIR[key] = FAIR[key] " " (hi > 0 ? lo / hi : 0)
	CPU[key] = CPU[key] " " (f["bytes"] > 0 ? f["cpu"] / (f["bytes"] / 1073741824) : 0)
	R1[f["speed"] SUBSEP f["block"] SUBSEP f["bufs"] SUBSEP f["round"] SUBSEP f["n"]] = agg
	RND[key] = RND[key] " " f["round"]
	if (f["rss_idle"] > IDLE[key]) IDLE[key] = f["rss_idle"]
	if (f["rss_stream"] > STRM[key]) STRM[key] = f["rss_stream"]
	if (f["rss_after"] > STRM[key]) STRM[key] = f["rss_after"]
	if (f["dmabuf"] > DMABUF) DMABUF = f["dmabuf"]
}
END {
	print "| speed | block x bufs | streams | aggregate MiB/s | vs 1 stream | per stream MiB/s, min - max | fairness (min/max) | daemon CPU s/GiB | daemon RSS idle / streaming, MiB |"
	print "|---|---|---|---|---|---|---|---|---|"
	for (i = 1; i <= nk; i++) {
		split(keys[i], k, SUBSEP)
		blk = k[2] >= 1048576 ? (k[2] / 1048576) "M" : (k[2] / 1024) "K"
		note = failed[keys[i]] ? sprintf(" (%d of %d runs failed)", failed[keys[i]], runs[keys[i]]) : ""
		if (A[keys[i]] == "") {
			printf "| %s | %s x %s | %s | n/a%s | | | | | |\n", toupper(k[1]), blk, k[3], k[4], note
			continue
		}
		# The aggregate against the one-stream run of the same round.
		vs = ""
		nr = split(RND[keys[i]], r, " ")
		for (j = 1; j <= nr; j++) {
			one = R1[k[1] SUBSEP k[2] SUBSEP k[3] SUBSEP r[j] SUBSEP 1]
			cur = R1[k[1] SUBSEP k[2] SUBSEP k[3] SUBSEP r[j] SUBSEP k[4]]
			if (one > 0) vs = vs " " cur / one
		}
		printf "| %s | %s x %s | %s | %s%s | %s | %s - %s | %.2f | %s | %.2f / %.2f |\n",
			toupper(k[1]), blk, k[3], k[4], num(median(A[keys[i]])), note,
			vs == "" ? "-" : sprintf("%.2f", median(vs)),
			num(median(LO[keys[i]])), num(median(HI[keys[i]])), median(FAIR[keys[i]]),
			num(median(CPU[keys[i]])), IDLE[keys[i]] / 1024, STRM[keys[i]] / 1024
	}
	printf "\nRSS: VmRSS minus the Rss of DMABUF mappings (the most seen: %d KiB; zero-copy maps none), the most over the rounds; streaming = sampled every 0.5 s and once after the capture.\n", DMABUF
}' | tee "$out/streams.md"
