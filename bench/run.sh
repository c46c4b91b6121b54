#!/usr/bin/env bash
# The RX benchmark: iio-sim -> USB host in the QEMU VM, four servers compared (bench/README.md).
#
#   bench/run.sh [options]
#
#   --speed hs|ss|both   dummy_hcd speed(s), one VM boot each (default both)
#   --quick              a small grid (blocks 64K,1M x buffers 1,4; (d) at 64K,1M; 3 s
#                        per point): under 3 minutes per speed
#   --seconds N          seconds per point and contender (default 3)
#   --blocks LIST        block sizes in bytes, colon-separated (default 64K:256K:1M:4M)
#   --bufs LIST          buffer counts, colon-separated (default 1:2:4:8)
#   --dblocks LIST       buffer sizes for (d) iiod (default 64K:256K:1M:4M)
#   --only LETTERS       run only these contenders: a b c d, x = extra rows (default abcdx)
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not build the VM's modules and programs first
#   --out DIR            keep the console logs and tables there (default: a new temp dir)
#
# Prints one table per speed (markdown) and the extra rows. Exits 1 if a VM run fails
# (the console log is kept and its path printed). Numbers come from an emulator: compare
# ratios within one run, not absolute figures between machines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speeds="hs ss"
quick=0
seconds=
blocks=
bufs=
dblocks=
only=abcdx
build=${IIOUSB_BUILD_DIR:-$PWD/build}
nobuild=
out=

usage() {
	sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}
fail() {
	echo "bench: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--speed)
		case ${2:-} in
		hs | ss) speeds=$2 ;;
		both) speeds="hs ss" ;;
		*) fail "--speed must be hs, ss or both" ;;
		esac
		shift 2
		;;
	--quick) quick=1; shift ;;
	--seconds) seconds=$2; shift 2 ;;
	--blocks) blocks=$2; shift 2 ;;
	--bufs) bufs=$2; shift 2 ;;
	--dblocks) dblocks=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--no-build) nobuild=--no-build; shift ;;
	--out) out=$2; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "bench: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
done

if [ "$quick" = 1 ]; then
	: "${seconds:=3}" "${blocks:=65536:1048576}" "${bufs:=1:4}" "${dblocks:=65536:1048576}"
else
	: "${seconds:=3}" "${blocks:=65536:262144:1048576:4194304}" "${bufs:=1:2:4:8}"
	: "${dblocks:=65536:262144:1048576:4194304}"
fi
for l in "$blocks" "$bufs" "$dblocks"; do
	[[ $l =~ ^[0-9]+(:[0-9]+)*$ ]] || fail "lists are numbers separated by ':' ('$l')"
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
	fail "--seconds must be a whole number >= 1"
fi
[[ $only =~ ^[abcdx]+$ ]] || fail "--only takes letters from abcdx"
[ -d "$build" ] || fail "$build: no build directory (cmake -B build && cmake --build build)"
build=$(cd "$build" && pwd)
if [ -n "$out" ]; then
	mkdir -p "$out"
else
	out=$(mktemp -d /tmp/iiousb-bench.XXXXXX)
fi
out=$(cd "$out" && pwd)

# (d) needs Debian's iiod and iio_readdev in the guest: the initramfs takes every program
# in BUILD/vm-guest/bin (with its libraries).
if [[ $only == *d* ]]; then
	mkdir -p "$build/vm-guest/bin"
	for p in /usr/sbin/iiod /usr/bin/iio_readdev; do
		if [ -x "$p" ]; then
			cmp -s "$p" "$build/vm-guest/bin/$(basename "$p")" || cp "$p" "$build/vm-guest/bin/"
		else
			echo "bench: $p missing (apt-get install iiod libiio-utils): (d) will be n/a" >&2
		fi
	done
fi

# Rough VM time: per point (c)+(a)+(b) about 3 x (seconds + 3 s of start/stop), (d) and
# the extras a few more; the limit is generous (a hung VM still ends).
npoints=$(($(tr ':' '\n' <<< "$blocks" | wc -l) * $(tr ':' '\n' <<< "$bufs" | wc -l)))
ndpoints=$(tr ':' '\n' <<< "$dblocks" | wc -l)
vm_timeout=$((120 + npoints * 3 * (seconds + 10) + ndpoints * (seconds * 4 + 40) + 4 * (seconds + 15)))

# ---- tables ---------------------------------------------------------------------------------

# tables LOG: the markdown tables from one run's BENCH lines.
tables() {
	tr -d '\r' < "$1" | grep -E '^BENCH(-CONF)? ' | awk '
	function kv(line,   i, n, f, k) {
		delete R
		n = split(line, f, " ")
		for (i = 2; i <= n; i++) {
			k = index(f[i], "=")
			if (f[i] ~ /^note=/) { R["note"] = substr(line, index(line, "note=") + 5); break }
			if (k) R[substr(f[i], 1, k - 1)] = substr(f[i], k + 1)
		}
	}
	function mib(b, s) { return s > 0 ? b / s / 1048576 : 0 }
	function spg(c, b) { return (c >= 0 && b > 0) ? c / (b / 1073741824) : -1 }
	function human(b) {
		if (b >= 1048576 && b % 1048576 == 0) return (b / 1048576) "M"
		if (b >= 1024 && b % 1024 == 0) return (b / 1024) "K"
		return b
	}
	function f1(x) { return sprintf(x >= 100 ? "%.0f" : (x >= 10 ? "%.1f" : "%.2f"), x) }
	function ratio(x, y) { return (x > 0 && y > 0) ? sprintf("%.2f", x / y) : "n/a" }
	function cell(srv, key,   r) {
		if (!((srv, key) in OK)) return "-"
		if (!OK[srv, key]) return NA[srv, key]
		return f1(RATE[srv, key])
	}
	function ccell(srv, key) {
		if (!((srv, key) in OK)) return "-"
		if (!OK[srv, key]) return "n/a"
		return CPU[srv, key] >= 0 ? f1(CPU[srv, key]) : "?"
	}
	function vcell(srv, key) {
		if (!((srv, key) in OK)) return "-"
		if (!OK[srv, key]) return "n/a"
		return VM[srv, key] >= 0 ? f1(VM[srv, key]) : "?"
	}
	function r2(s1, s2, key, arr) {
		if (!((s1, key) in OK) || !((s2, key) in OK)) return "-"
		if (!OK[s1, key] || !OK[s2, key]) return "n/a"
		return ratio(arr[s1, key], arr[s2, key])
	}
	function add(row,   i) { ROWS[++nrows] = row }
	function flush(   i, j, n, c, w, line, sep) {
		for (i = 1; i <= nrows; i++) {
			n = split(ROWS[i], c, "\t")
			for (j = 1; j <= n; j++) if (length(c[j]) > w[j]) w[j] = length(c[j])
		}
		for (i = 1; i <= nrows; i++) {
			n = split(ROWS[i], c, "\t")
			line = "|"
			for (j = 1; j <= n; j++) line = line sprintf(" %-" w[j] "s |", c[j])
			print line
			if (i == 1) {
				sep = "|"
				for (j = 1; j <= n; j++) { sep = sep " "; for (k = 0; k < w[j]; k++) sep = sep "-"; sep = sep " |" }
				print sep
			}
		}
		nrows = 0
		delete ROWS
		delete w
	}
	/^BENCH-CONF / { kv($0); speed = R["speed"]; conf = R["seconds"] " s per point; host reader for (a) (b) (c): `iiousb capture -T " R["host_transfers"] " -S " R["host_size"] "`; for (d): `iio_readdev`"; next }
	{
		kv($0)
		srv = R["srv"]; key = R["block"] SUBSEP R["bufs"]
		if (srv == "c" && R["reader"] == "libusb") srv = "c-libusb"
		if (srv == "w") srv = "w-" R["reader"]
		OK[srv, key] = R["ok"] + 0
		RATE[srv, key] = mib(R["bytes"] + 0, R["secs"] + 0)
		CPU[srv, key] = spg(R["cpu"] + 0, R["bytes"] + 0)
		VM[srv, key] = spg(R["vmcpu"] + 0, R["bytes"] + 0)
		if (!OK[srv, key]) {
			if ((srv == "a" || srv == "b") && R["note"] ~ /0 bytes/)
				NA[srv, key] = "n/a (daemon pipeline not available)"
			else
				NA[srv, key] = "n/a (" R["note"] ")"
		}
		if (R["srv"] ~ /^[abc]$/ && R["reader"] == "iiousb") {
			if (!(R["block"] in SEENB)) { SEENB[R["block"]] = 1; BL[++nb] = R["block"] }
			if (!(R["bufs"] in SEENN)) { SEENN[R["bufs"]] = 1; NL[++nn] = R["bufs"] }
		}
		if (R["srv"] == "d") { DB[R["block"]] = 1; if (!(R["block"] in SEENDB)) { SEENDB[R["block"]] = 1; DL[++nd] = R["block"] } }
	}
	END {
		U = toupper(speed)
		printf "### %s: MiB/s, server CPU s/GiB and ratios\n\n%s. (d) runs with iiod'"'"'s and libiio'"'"'s own buffering (the block is iio_readdev'"'"'s buffer) and is shown in the 4-buffer rows, next to (a) with 4 buffers.\n\n", U, conf
		add("block\tbufs\t(a) MiB/s\t(b) MiB/s\t(c) MiB/s\t(d) MiB/s\t(a)/(c)\t(a)/(b)\t(a)/(d)\tCPU (a) s/GiB\tCPU (b) s/GiB\tCPU (c) s/GiB\tCPU (d) s/GiB\tCPU (a)/(b)\tCPU (a)/(d)")
		# Blocks (d) has but the grid does not get rows of their own.
		for (i = 1; i <= nd; i++) if (!(DL[i] in SEENB)) { BL[++nb] = DL[i]; SEENB[DL[i]] = 1 }
		if (!nn) NL[++nn] = 4
		for (i = 1; i <= nb; i++) for (j = 1; j <= nn; j++) {
			b = BL[i]; n = NL[j]; key = b SUBSEP n
			if (!(("a", key) in OK) && !(("b", key) in OK) && !(("c", key) in OK) && !(("d", key) in OK)) continue
			add(human(b) "\t" n "\t" cell("a", key) "\t" cell("b", key) "\t" cell("c", key) "\t" cell("d", key) "\t" \
			    r2("a", "c", key, RATE) "\t" r2("a", "b", key, RATE) "\t" r2("a", "d", key, RATE) "\t" \
			    ccell("a", key) "\t" ccell("b", key) "\t" ccell("c", key) "\t" ccell("d", key) "\t" \
			    r2("a", "b", key, CPU) "\t" r2("a", "d", key, CPU))
		}
		flush()
		printf "\nWhole-guest busy CPU s/GiB (all processes and kernel threads: the emulated UDC, iio-sim, the host reader):\n\n"
		add("block\tbufs\t(a)\t(b)\t(c)\t(d)")
		for (i = 1; i <= nb; i++) for (j = 1; j <= nn; j++) {
			b = BL[i]; n = NL[j]; key = b SUBSEP n
			if (!(("a", key) in OK) && !(("b", key) in OK) && !(("c", key) in OK) && !(("d", key) in OK)) continue
			add(human(b) "\t" n "\t" vcell("a", key) "\t" vcell("b", key) "\t" vcell("c", key) "\t" vcell("d", key))
		}
		flush()
		k1 = 1048576 SUBSEP 1; k4 = 1048576 SUBSEP 4
		if ((("w-iiousb", k1) in OK) || (("c-libusb", k4) in OK)) {
			printf "\nHost readers compared (%s, 16 x 256 KiB transfers, 1 MiB blocks): `iiousb capture` vs the plain libusb reader `usb_bulk_baseline`:\n\n", U
			add("server\tiiousb capture MiB/s\tusb_bulk_baseline MiB/s\tiiousb/baseline")
			if (("w-iiousb", k1) in OK)
				add("write() source (tool_ffs_source, as tool_stream)\t" cell("w-iiousb", k1) "\t" cell("w-libusb", k1) "\t" r2("w-iiousb", "w-libusb", k1, RATE))
			if (("c-libusb", k4) in OK)
				add("(c) raw DMABUF loop, 4 buffers\t" cell("c", k4) "\t" cell("c-libusb", k4) "\t" r2("c", "c-libusb", k4, RATE))
			flush()
		}
		print ""
	}'
}

# ---- runs ---------------------------------------------------------------------------------------

status=0
for s in $speeds; do
	log=$out/console-$s.log
	echo "bench: $s: blocks $blocks x buffers $bufs, (d) at $dblocks, ${seconds}s per point, running '$only' (VM limit ${vm_timeout}s; console in $log)" >&2
	set +e
	# Progress: the result lines as they come.
	"$root/tests/vm/run.sh" --speed "$s" --timeout "$vm_timeout" --build-dir "$build" $nobuild \
		--log "$log" bench_rx "$seconds" "$blocks" "$bufs" "$dblocks" "$only" 2>&1 |
		tee "$out/run-$s.txt" | tr -d '\r' |
		grep --line-buffered -E '^(BENCH |run.sh: )' | sed -u 's/^/  /' >&2
	rc=${PIPESTATUS[0]}
	set -e
	if [ "$rc" != 0 ] || ! tr -d '\r' < "$log" | grep -q "^BENCH-END speed=$s"; then
		echo "bench: FAIL: the $s VM run failed (run.sh exit $rc); last lines of $log:" >&2
		tr -d '\r' < "$log" | grep -v '^BENCH' | tail -n 25 | sed 's/^/bench:   /' >&2
		grep -E '^run.sh' "$out/run-$s.txt" | sed 's/^/bench:   /' >&2
		status=1
		continue
	fi
	tables "$log" | tee "$out/table-$s.md"
done
echo "bench: logs and tables in $out" >&2
[ $status = 0 ] || fail "at least one VM run failed (see above)"
