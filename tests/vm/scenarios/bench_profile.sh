# Where the zero-copy servers' CPU goes (bench/profile.sh; not a test): (c) the raw loop
# tool_ffs_source --dmabuf and (a) iiousbd, one after the other on bench_rx's stream, each
# sampled with `perf record -e cpu-clock -g` over one capture of SECONDS, then `perf
# report` by symbol (self time) with the server's CPU per block from schedstat. On the
# irqtime kernel (bench/profile.sh's default) schedstat leaves interrupt time out; the
# samples of interrupt work still land where interrupts are let back in.
#   PROFILE srv=c|a block=BYTES bufs=N blocks=K cpu=SECONDS samples=N
#   PROFILE-SYM srv=c|a pct=P dso=DSO sym=SYMBOL
# Arguments: SECONDS BLOCK BUFS TOP (defaults 6 1048576 1 40).
set -- "${1:-6}" "${2:-1048576}" "${3:-1}" "${4:-40}"
TOP=$4
BENCH_RX_LIB=1
. /scenarios/bench_rx.sh
command -v perf > /dev/null || die "no perf in the guest (bench/profile.sh copies it in)"

rig_up
ffs_gadget_create
echo 0 > /proc/sys/kernel/kptr_restrict 2> /dev/null || true
echo -1 > /proc/sys/kernel/perf_event_paranoid 2> /dev/null || true

# profiled SRV BLOCK BUFS PID
profiled() {
	perf record -q -e cpu-clock -F 2000 -g -p "$4" -o /tmp/perf.data 2> /tmp/perf.err &
	ppid=$!
	sleep 1
	capture "$1" "$2" "$3" "$4" > /tmp/capture.line
	kill -INT "$ppid"
	wait "$ppid"
	cpu=$(sed -n 's/.* cpu=\([^ ]*\) .*/\1/p' /tmp/capture.line)
	# (Without --no-children, perf's callchain mode puts Children and Self first.)
	samples=$(perf report -i /tmp/perf.data --stdio -n --no-children --sort dso -g none 2> /dev/null |
		awk '/^ *[0-9.]+%/ { s += $2 } END { print s + 0 }')
	echo "PROFILE srv=$1 block=$2 bufs=$3 blocks=$((LAST_BYTES / $2)) cpu=$cpu samples=${samples:-0}"
	perf report -i /tmp/perf.data --stdio --no-children --sort dso,sym -g none 2> /dev/null |
		awk -v srv="$1" -v top="$TOP" '/^ *[0-9.]+%/ && n < top {
			n++; pct = $1; sub(/%/, "", pct); dso = $2; $1 = $2 = $3 = ""; sub(/^ +/, "")
			printf "PROFILE-SYM srv=%s pct=%s dso=%s sym=%s\n", srv, pct, dso, $0 }'
}

if source_start --dmabuf "$BUFS" --block "$BLOCKS" --mask f; then
	profiled c "$BLOCKS" "$BUFS" "$SRC_PID"
else
	log "tool_ffs_source did not come up"
fi
source_stop
daemon_conf "$BLOCKS" "$BUFS" auto
if daemon_up iiousbd; then
	profiled a "$BLOCKS" "$BUFS" "$DAEMON_PID"
else
	log "iiousbd did not come up: $DAEMON_WHY"
fi
daemon_down
echo "PROFILE-END"
