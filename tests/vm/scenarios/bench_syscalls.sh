# System calls per block of the zero-copy servers (bench/syscalls.sh; not a test): (c) the
# raw loop tool_ffs_source --dmabuf, (a) iiousbd and, where the guest has it, (r)
# iiousbd-ref (bench/syscalls.sh --ref-daemon), each traced with `strace -c -f` over one
# capture of SECONDS per grid point, on the stream of bench_rx (iio-sim's header pattern, as
# fast as it goes, `iiousb capture --no-meta`). A count is exact; only the time strace
# adds to every call makes the runs slower. One line per server and point:
#   SYSCALLS srv=c|a|r block=BYTES bufs=N blocks=K total=CALLS NAME=CALLS...
# Arguments: SECONDS BLOCKS BUFS (lists colon-separated; defaults 4 65536:1048576 1:4).
set -- "${1:-4}" "${2:-65536:1048576}" "${3:-1:4}"
BENCH_RX_LIB=1
. /scenarios/bench_rx.sh
command -v strace > /dev/null || die "no strace in the guest (bench/syscalls.sh copies it in)"

rig_up
ffs_gadget_create

# traced SRV BLOCK BUFS PID: one capture with PID traced; the SYSCALLS line.
traced() {
	strace -c -f -p "$4" -o /tmp/strace.txt 2> /dev/null &
	spid=$!
	sleep 1
	capture "$1" "$2" "$3" "$4"
	kill -INT "$spid"
	wait "$spid"
	# Between the two dashed lines: % time, seconds, usecs/call, calls, [errors,] name.
	counts=$(awk '/^-/ { d++; next } d == 1 && NF >= 5 { printf " %s=%s", $NF, $4 }' /tmp/strace.txt)
	total=$(awk '$NF == "total" { print $4 }' /tmp/strace.txt)
	echo "SYSCALLS srv=$1 block=$2 bufs=$3 blocks=$((LAST_BYTES / $2)) total=${total:-0}$counts"
}

for blk in $BLOCKS; do
	for nb in $BUFS; do
		log "---- block $blk, $nb buffers"
		if source_start --dmabuf "$nb" --block "$blk" --mask f; then
			traced c "$blk" "$nb" "$SRC_PID"
		else
			log "tool_ffs_source did not come up"
		fi
		source_stop
		for prog in iiousbd iiousbd-ref; do
			command -v "$prog" > /dev/null || continue
			srv=a
			[ "$prog" = iiousbd ] || srv=r
			daemon_conf "$blk" "$nb" auto
			if daemon_up "$prog"; then
				traced "$srv" "$blk" "$nb" "$DAEMON_PID"
			else
				log "$prog did not come up: $DAEMON_WHY"
			fi
			daemon_down
		done
	done
done
echo "SYSCALLS-END"
