#!/usr/bin/env bash
# The RX benchmark: iio-sim -> USB host in the QEMU VM, five servers compared (bench/README.md).
#
#   bench/run.sh [options]
#
#   --speed hs|ss|both   dummy_hcd speed(s), one VM boot each (default both; hs with
#                        --quick)
#   --quick              a small grid (blocks 64K,1M x buffers 1,4; (d), (e) at 64K,1M; 3 s
#                        per point), HS unless --speed says otherwise: under 3 minutes
#   --seconds N          seconds per point and contender (default 3)
#   --blocks LIST        block sizes in bytes, colon-separated (default 64K:256K:1M:4M)
#   --bufs LIST          buffer counts, colon-separated (default 1:2:4:8)
#   --dblocks LIST       buffer sizes for (d) iiod and (e) (default 64K:256K:1M:4M)
#   --only LETTERS       run only these contenders: a b c d e, x = extra rows (default abcdex)
#   --ref-daemon FILE    also run (r): FILE, another build of iiousbd (e.g. the previous
#                        commit's build/daemon/iiousbd), with (a)'s configuration, next to
#                        (a) and (c) at every grid point; a table of its own compares them
#                        (amd64)
#   --rounds N           repeat everything N times; cells are medians (default 1; the
#                        run takes about N times as long)
#   --arch amd64|arm64   the rig's architecture (default amd64). arm64: Debian's arm64
#                        kernel in qemu-system-aarch64 (tests/vm/run.sh --arch arm64), the
#                        DMABUFs from udmabuf (that kernel has no dma-heaps); needs the
#                        arm64 cross build in BUILD/cross-arm64 (tests/cross/run.sh
#                        --build-dir BUILD/cross-arm64 arm64, or CTest's cross.arm64).
#                        (d) and (e) are not run there (no arm64 iiod/iio_readdev in the
#                        rig): the tables say so. The VM limit is doubled (slower TCG)
#   --kernel stock|irqtime  the guest's kernel (amd64): Debian's (default), or the rig's
#                        irqtime kernel (kernel-patches/debug-kernel/build.sh --flavour
#                        irqtime: Debian's lacks CONFIG_IRQ_TIME_ACCOUNTING, so there the
#                        interrupt work is charged to whatever process it interrupts; with
#                        it the CPU columns are the servers' own work). Built (cached) first
#                        unless --no-build: about 10 minutes the first time
#   --build-dir DIR      CMake build dir (default: $IIOUSB_BUILD_DIR or ./build); with
#                        --arch arm64 the cross build's dir, or a dir with it in cross-arm64/
#   --no-build           do not build the VM's modules and programs first
#   --out DIR            keep the console logs and tables there (default: a new temp dir)
#
# Prints one table per speed (markdown) and the extra rows. Exits 1 if a VM run fails
# (the console log is kept and its path printed). Numbers come from an emulator: compare
# ratios within one run, not absolute figures between machines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
speeds=
quick=0
seconds=
blocks=
bufs=
dblocks=
only=abcdex
rounds=1
refd=
arch=amd64
kernel=stock

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
	--quick) quick=1; shift ;;
	--blocks) blocks=$2; shift 2 ;;
	--bufs) bufs=$2; shift 2 ;;
	--dblocks) dblocks=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--arch)
		case ${2:-} in
		amd64 | arm64) arch=$2 ;;
		*) fail "--arch must be amd64 or arm64" ;;
		esac
		shift 2
		;;
	--ref-daemon) refd=$2; shift 2 ;;
	--kernel) kernel_option "${2:-}"; shift 2 ;;
	*) unknown_option "$1" ;;
	esac
done

if [ "$quick" = 1 ]; then
	: "${speeds:=hs}"
	: "${seconds:=3}" "${blocks:=65536:1048576}" "${bufs:=1:4}" "${dblocks:=65536:1048576}"
else
	: "${speeds:=hs ss}"
	: "${seconds:=3}" "${blocks:=65536:262144:1048576:4194304}" "${bufs:=1:2:4:8}"
	: "${dblocks:=65536:262144:1048576:4194304}"
fi
check_lists "$blocks" "$bufs" "$dblocks"
check_count --seconds "$seconds"
[[ $only =~ ^[abcdex]+$ ]] || fail "--only takes letters from abcdex"
check_count --rounds "$rounds"
bench_dirs bench
# Contenders the rig cannot run: a note under the tables instead of cells.
skipnote=
if [ "$arch" = arm64 ]; then
	# tests/vm/run.sh --arch arm64 takes the cross build's dir or a dir with it in cross-arm64/.
	[ -d "$build/user/vm-guest/bin" ] || [ -d "$build/cross-arm64/user/vm-guest/bin" ] ||
		fail "$build: no arm64 cross build (tests/cross/run.sh --build-dir $build/cross-arm64 arm64)"
	if [[ $only == *[de]* ]]; then
		skipnote="(d) Debian's iiod and (e) iiousbd's libiio interface read by iio_readdev: not run on arm64 (the rig's guest has no arm64 iiod or iio_readdev; the x86 machine's cannot run there)"
		only=${only//[de]/}
		[ -n "$only" ] || fail "--arch arm64: nothing left to run ((d) and (e) are not run on arm64)"
	fi
fi

[ "$kernel" = stock ] || [ "$arch" = amd64 ] || fail "--kernel irqtime: amd64 only"
build_kernel

# (r): the reference build goes into the guest as iiousbd-ref, for this run only.
ref_bin=$build/vm-guest/bin/iiousbd-ref
rm -f "$ref_bin"
if [ -n "$refd" ]; then
	[ "$arch" = amd64 ] || fail "--ref-daemon: amd64 only"
	[ -x "$refd" ] || fail "--ref-daemon $refd: not an executable file"
	mkdir -p "$build/vm-guest/bin"
	cp "$refd" "$ref_bin"
	trap 'rm -f "$ref_bin"' EXIT
	only=${only}r
fi

# (d) needs Debian's iiod and iio_readdev in the guest: the initramfs takes every program
# in BUILD/vm-guest/bin (with its libraries). (Not for arm64: d and e are off there.)
if [ "$arch" = amd64 ] && [[ $only == *[de]* ]]; then
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
vm_timeout=$((120 + rounds * (npoints * 4 * (seconds + 10) + ndpoints * (seconds * 4 + 40) + 4 * (seconds + 15))))
[ "$arch" = amd64 ] || vm_timeout=$((vm_timeout * 2))

# ---- tables ---------------------------------------------------------------------------------

# tables LOG: the markdown tables from one run's BENCH lines. With several rounds a cell
# is the median over the rounds that worked, and a ratio the median of the per-round
# ratios (the two runs of a round were close in time).
tables() {
	tr -d '\r' < "$1" | grep -E '^BENCH(-CONF)? ' | awk -v skipnote="$skipnote" '
	function kv(line,   i, n, f, k) {
		delete R
		n = split(line, f, " ")
		for (i = 2; i <= n; i++) {
			if (f[i] ~ /^note=/) { R["note"] = substr(line, index(line, "note=") + 5); break }
			k = index(f[i], "=")
			if (k) R[substr(f[i], 1, k - 1)] = substr(f[i], k + 1)
		}
	}
	function mib(b, s) { return s > 0 ? b / s / 1048576 : -1 }
	function spg(c, b) { return (c >= 0 && b > 0) ? c / (b / 1073741824) : -1 }
	function human(b) {
		if (b >= 1048576 && b % 1048576 == 0) return (b / 1048576) "M"
		if (b >= 1024 && b % 1024 == 0) return (b / 1024) "K"
		return b
	}
	function f1(x) { return sprintf(x >= 100 ? "%.0f" : (x >= 10 ? "%.1f" : "%.2f"), x) }
	# median of V[1..n]
	function median(n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && V[j - 1] > V[j]; j--) { t = V[j]; V[j] = V[j - 1]; V[j - 1] = t }
		return n % 2 ? V[(n + 1) / 2] : (V[n / 2] + V[n / 2 + 1]) / 2
	}
	function key(srv, b, n) { return srv SUBSEP b SUBSEP n }
	function okcount(k,   i, c) { c = 0; for (i = 1; i <= CNT[k]; i++) c += OKR[k, i]; return c }
	# A measured cell: the median of ARR over the rounds that worked; text for the rest.
	function cell(k, which, na,   i, n, c) {
		if (!(k in CNT)) return "-"
		c = okcount(k)
		if (!c) return na ? NA[k] : "n/a"
		n = 0
		delete V
		for (i = 1; i <= CNT[k]; i++) if (OKR[k, i] && VAL[which, k, i] >= 0) V[++n] = VAL[which, k, i]
		if (!n) return "?"
		return f1(median(n)) (c < CNT[k] ? " (" c " of " CNT[k] " rounds)" : "")
	}
	# The median of the per-round ratios k1/k2 of ARR (rounds where both worked).
	function ratio(k1, k2, which,   r, n, i, j) {
		if (!(k1 in CNT) || !(k2 in CNT)) return "-"
		n = 0
		delete V
		for (r in ROUNDS) {
			if (!((k1, r) in BY) || !((k2, r) in BY)) continue
			i = BY[k1, r]; j = BY[k2, r]
			if (OKR[k1, i] && OKR[k2, j] && VAL[which, k1, i] > 0 && VAL[which, k2, j] > 0)
				V[++n] = VAL[which, k1, i] / VAL[which, k2, j]
		}
		return n ? sprintf("%.2f", median(n)) : "n/a"
	}
	function add(row) { ROWS[++nrows] = row }
	function flush(   i, j, k, n, c, w, line, sep) {
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
	}
	/^BENCH-CONF / {
		kv($0); speed = R["speed"]; rounds = R["rounds"] ? R["rounds"] : 1
		arch = R["arch"] ? R["arch"] : "amd64"
		conf = R["seconds"] " s per point, " rounds " round(s)" (rounds > 1 ? " (medians)" : "") "; host reader for (a) (b) (c): `iiousb capture -T " R["host_transfers"] " -S " R["host_size"] " --no-meta`"
		alloc = R["alloc"] == "udmabuf" ? "/dev/udmabuf (no dma-heaps)" : (R["alloc"] == "dma-heap" ? "/dev/dma_heap/system" : "")
		if (alloc != "") conf = conf "; DMABUFs of (a) and (c) from " alloc
		if (R["kernel"] ~ /irqtime/) conf = conf "; kernel " R["kernel"] ": CPU without interrupt time (IRQ_TIME_ACCOUNTING)"
		else if (R["kernel"] != "") conf = conf "; kernel " R["kernel"] ": CPU includes the interrupts that hit the server"
		next
	}
	{
		kv($0)
		srv = R["srv"]
		if (srv == "w" || srv == "z") srv = srv "-" R["reader"]
		k = key(srv, R["block"], R["bufs"])
		r = R["round"] ? R["round"] : 1
		ROUNDS[r] = 1
		i = ++CNT[k]
		BY[k, r] = i
		OKR[k, i] = R["ok"] + 0
		VAL["rate", k, i] = mib(R["bytes"] + 0, R["secs"] + 0)
		VAL["cpu", k, i] = spg(R["cpu"] + 0, R["bytes"] + 0)
		VAL["vm", k, i] = spg(R["vmcpu"] + 0, R["bytes"] + 0)
		if (!OKR[k, i])
			NA[k] = ((srv == "a" || srv == "b") && R["note"] ~ /no data from this daemon/) ? "n/a (daemon pipeline not available)" : "n/a (" R["note"] ")"
		if (R["srv"] == "r") hasr = 1
		if (R["srv"] ~ /^[abcr]$/) {
			if (!(R["block"] in SEENB)) { SEENB[R["block"]] = 1; BL[++nb] = R["block"] }
			if (!(R["bufs"] in SEENN)) { SEENN[R["bufs"]] = 1; NL[++nn] = R["bufs"] }
		}
		if (R["srv"] == "d" && !(R["block"] in SEEND)) { SEEND[R["block"]] = 1; DL[++nd] = R["block"] }
		if (R["srv"] == "e" && !(R["block"] in SEENE)) { SEENE[R["block"]] = 1; EL[++ne] = R["block"] }
	}
	END {
		U = toupper(speed)
		# The (d) columns only when (d) ran (it has cells, n/a ones included).
		hasd = nd > 0
		printf "### %s%s: MiB/s, server CPU s/GiB and ratios\n\n%s.%s\n\n", (arch != "amd64" ? arch " " : ""), U, conf, \
		    hasd ? " For (d): `iio_readdev`; (d) runs with iiod'"'"'s and libiio'"'"'s own buffering (the block is iio_readdev'"'"'s buffer) and is shown in the 4-buffer rows, next to (a) with 4 buffers." : ""
		if (skipnote != "") printf "%s.\n\n", skipnote
		add("block\tbufs\t(a) MiB/s\t(b) MiB/s\t(c) MiB/s" (hasd ? "\t(d) MiB/s" : "") "\t(a)/(c)\t(a)/(b)" (hasd ? "\t(a)/(d)" : "") \
		    "\tCPU (a) s/GiB\tCPU (b) s/GiB\tCPU (c) s/GiB" (hasd ? "\tCPU (d) s/GiB" : "") "\tCPU (a)/(c)\tCPU (a)/(b)" (hasd ? "\tCPU (a)/(d)" : ""))
		# Blocks that only (d) has get rows of their own.
		for (i = 1; i <= nd; i++) if (!(DL[i] in SEENB)) { SEENB[DL[i]] = 1; BL[++nb] = DL[i] }
		if (!nn) NL[++nn] = 4
		for (i = 1; i <= nb; i++) for (j = 1; j <= nn; j++) {
			b = BL[i]; n = NL[j]
			ka = key("a", b, n); kb = key("b", b, n); kc = key("c", b, n); kd = key("d", b, n)
			if (!(ka in CNT) && !(kb in CNT) && !(kc in CNT) && !(kd in CNT)) continue
			add(human(b) "\t" n "\t" cell(ka, "rate", 1) "\t" cell(kb, "rate", 1) "\t" cell(kc, "rate", 1) \
			    (hasd ? "\t" cell(kd, "rate", 1) : "") "\t" \
			    ratio(ka, kc, "rate") "\t" ratio(ka, kb, "rate") (hasd ? "\t" ratio(ka, kd, "rate") : "") "\t" \
			    cell(ka, "cpu") "\t" cell(kb, "cpu") "\t" cell(kc, "cpu") (hasd ? "\t" cell(kd, "cpu") : "") "\t" \
			    ratio(ka, kc, "cpu") "\t" ratio(ka, kb, "cpu") (hasd ? "\t" ratio(ka, kd, "cpu") : ""))
		}
		flush()
		if (hasr) {
			printf "\nThis build (a) and the reference build (r) of iiousbd (`--ref-daemon`), same configuration, same boot, each next to the raw loop (c):\n\n"
			add("block\tbufs\t(a) MiB/s\t(r) MiB/s\tCPU (a) s/GiB\tCPU (r) s/GiB\tCPU (c) s/GiB\tCPU (a)/(r)\tCPU (a)/(c)\tCPU (r)/(c)")
			for (i = 1; i <= nb; i++) for (j = 1; j <= nn; j++) {
				b = BL[i]; n = NL[j]
				ka = key("a", b, n); kr = key("r", b, n); kc = key("c", b, n)
				if (!(kr in CNT)) continue
				add(human(b) "\t" n "\t" cell(ka, "rate", 1) "\t" cell(kr, "rate", 1) "\t" cell(ka, "cpu") "\t" cell(kr, "cpu") "\t" \
				    cell(kc, "cpu") "\t" ratio(ka, kr, "cpu") "\t" ratio(ka, kc, "cpu") "\t" ratio(kr, kc, "cpu"))
			}
			flush()
		}
		printf "\nWhole-guest busy CPU s/GiB (all processes and kernel threads: the emulated UDC, iio-sim, the host reader):\n\n"
		add("block\tbufs\t(a)\t(b)\t(c)" (hasd ? "\t(d)" : ""))
		for (i = 1; i <= nb; i++) for (j = 1; j <= nn; j++) {
			b = BL[i]; n = NL[j]
			ka = key("a", b, n); kb = key("b", b, n); kc = key("c", b, n); kd = key("d", b, n)
			if (!(ka in CNT) && !(kb in CNT) && !(kc in CNT) && !(kd in CNT)) continue
			add(human(b) "\t" n "\t" cell(ka, "vm") "\t" cell(kb, "vm") "\t" cell(kc, "vm") (hasd ? "\t" cell(kd, "vm") : ""))
		}
		flush()
		if (ne) {
			printf "\nlibiio clients (%s): Debian'"'"'s `iio_readdev` reading (d) Debian'"'"'s iiod and (e) iiousbd'"'"'s libiio interface (READBUF zero-copy, 4 DMABUF blocks of the client'"'"'s buffer), same buffer sizes; (e)/(a): what the one-request-per-buffer protocol costs against the native stream with 4 blocks of that size:\n\n", U
			add("buffer\t(d) MiB/s\t(e) MiB/s\t(e)/(d)\tCPU (d) s/GiB\tCPU (e) s/GiB\tCPU (e)/(d)\t(a) MiB/s\t(e)/(a)")
			for (i = 1; i <= ne; i++) {
				b = EL[i]; kd = key("d", b, 4); ke = key("e", b, 4); ka = key("a", b, 4)
				add(human(b) "\t" cell(kd, "rate", 1) "\t" cell(ke, "rate", 1) "\t" ratio(ke, kd, "rate") "\t" \
				    cell(kd, "cpu") "\t" cell(ke, "cpu") "\t" ratio(ke, kd, "cpu") "\t" cell(ka, "rate", 1) "\t" ratio(ke, ka, "rate"))
			}
			flush()
		}
		w1 = key("w-iiousb", 1048576, 4); w2 = key("w-libusb", 1048576, 4)
		z1 = key("z-iiousb", 1048576, 4); z2 = key("z-libusb", 1048576, 4)
		if ((w1 in CNT) || (z1 in CNT)) {
			printf "\nHost readers compared (%s, both with 16 x 256 KiB transfers in flight, 1 MiB blocks): `iiousb capture` vs the plain libusb reader `usb_bulk_baseline`:\n\n", U
			add("server\tiiousb capture MiB/s\tusb_bulk_baseline MiB/s\tiiousb/baseline")
			if (w1 in CNT) add("write() source (tool_ffs_source, as in tool_stream)\t" cell(w1, "rate", 1) "\t" cell(w2, "rate", 1) "\t" ratio(w1, w2, "rate"))
			if (z1 in CNT) add("raw DMABUF loop of (c), 4 buffers\t" cell(z1, "rate", 1) "\t" cell(z2, "rate", 1) "\t" ratio(z1, z2, "rate"))
			flush()
		}
		print ""
	}'
}

# ---- runs ---------------------------------------------------------------------------------------

status=0
for s in $speeds; do
	log=$out/console-$s.log
	dnote=
	[[ $only != *[de]* ]] || dnote=", (d) and (e) at $dblocks"
	echo "bench: $arch $s ($kernel kernel): blocks $blocks x buffers $bufs$dnote, ${seconds}s per point, $rounds round(s), running '$only' (VM limit ${vm_timeout}s; console in $log)" >&2
	set +e
	# Progress: the result lines as they come.
	"$root/tests/vm/run.sh" --arch "$arch" --kernel "$kernel" --speed "$s" --timeout "$vm_timeout" --build-dir "$build" $nobuild \
		--log "$log" bench_rx "$seconds" "$blocks" "$bufs" "$dblocks" "$only" "$rounds" 2>&1 |
		tee "$out/run-$s.txt" | tr -d '\r' |
		grep --line-buffered -E '^(BENCH |run.sh: )' | sed -u 's/^/  /' >&2
	rc=${PIPESTATUS[0]}
	set -e
	# (Not `tr | grep -q`: with pipefail, grep quitting early fails the pipeline.)
	if [ "$rc" != 0 ] || ! grep -q "^BENCH-END speed=$s" "$log"; then
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
