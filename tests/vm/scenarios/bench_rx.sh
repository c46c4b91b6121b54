# The RX benchmark (bench/run.sh; not a test, not registered with CTest): iio-sim's ADC
# (header pattern, sampling_frequency 0, so the simulated DMA costs almost nothing) streamed
# to the USB host side of this VM by five servers, one after the other:
#   (a) iiousbd, zero-copy: auto        (b) iiousbd, zero-copy: off
#   (r) iiousbd-ref, another build of iiousbd (bench/run.sh --ref-daemon), as (a); only
#       when WHAT has r
#   (c) tool_ffs_source --dmabuf: the raw IIO -> FunctionFS DMABUF loop with bare ioctls
#   (d) Debian's iiod 0.24 (-F, FunctionFS) read by Debian's iio_readdev -u usb:...
#   (e) iiousbd's libiio interface (READBUF zero-copy) read by the same iio_readdev
# (a), (b) and (c) are read by `iiousb capture --no-meta` with the same fixed transfers
# (HOST_T x HOST_S; no per-block metadata, which only iiousbd offers, so that the three
# move the same data); (d) and (e) speak libiio's protocol, so their reader is
# iio_readdev. For each grid point (block size, buffers) it runs (c), (a), (b) back to
# back (in alternating order), then (d) and then (e) at their own points (DBLOCKS; (e)
# with 4 DMABUF blocks).
# Extra rows (x): iiousb capture against the plain libusb reader usb_bulk_baseline, on the
# write() source (w, tool_stream's comparison) and on the raw loop of (c) (z). ROUNDS
# repeats everything (the grid round by round, so that the rounds spread over the run).
# The DMABUFs of (a) and (c) come from /dev/dma_heap/system, or from /dev/udmabuf on a
# kernel without dma-heaps (Debian's arm64 kernel: the arm64 rig, bench/run.sh --arch
# arm64), as iiousbd and tool_ffs_source pick; BENCH-CONF names the allocator.
#
# Every result is one console line, parsed by bench/run.sh:
#   BENCH speed=S round=R srv=a|b|c|d|e|w|z block=BYTES bufs=N reader=iiousb|libusb|iio_readdev
#         bytes=B secs=S cpu=C vmcpu=V ok=1|0 note=TEXT...
# cpu: the server process's user+system seconds (/proc/PID/stat) around the run; vmcpu:
# the whole guest's busy CPU seconds. A server that fails or moves nothing gives ok=0 and
# a note; only a broken rig (UDC, iio-sim, gadget bind) fails the scenario.
#
# Arguments: SECONDS BLOCKS BUFS DBLOCKS WHAT ROUNDS (lists colon-separated; WHAT:
# letters of the contenders to run, x for the extra rows), defaults 3 64K:256K:1M:4M
# 1:2:4:8 64K:256K:1M:4M abcdex 1 (sizes in bytes).
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

T=${1:-3}
BLOCKS=$(echo "${2:-65536:262144:1048576:4194304}" | tr : ' ')
BUFS=$(echo "${3:-1:2:4:8}" | tr : ' ')
DBLOCKS=$(echo "${4:-65536:262144:1048576:4194304}" | tr : ' ')
WHAT=${5:-abcdex}
ROUNDS=${6:-1}
ROUND=1
SPEED=${IIOUSB_SPEED:-hs}
# The host reader for (a), (b), (c): fixed, so that every server sees the same host.
HOST_T=16
HOST_S=262144
TEST_ID=1d6b:0104
IIOD_ID=0456:b673

wants() { case $WHAT in *"$1"*) return 0 ;; esac; return 1; }

# result SRV BLOCK BUFS READER BYTES SECS CPU VMCPU OK NOTE...
result() {
	srv=$1 blk=$2 nb=$3 reader=$4 bytes=$5 secs=$6 cpu=$7 vmcpu=$8 ok=$9
	shift 9
	echo "BENCH speed=$SPEED round=$ROUND srv=$srv block=$blk bufs=$nb reader=$reader bytes=$bytes" \
		"secs=$secs cpu=$cpu vmcpu=$vmcpu ok=$ok note=$*"
}

sub() { awk "BEGIN { printf \"%.3f\", $1 - $2 }"; }

# ---- host side ---------------------------------------------------------------------------

# host_dev VID:PID: the host's sysfs directory of that device, if it is there.
host_dev() {
	for d in /sys/bus/usb/devices/*; do
		[ -f "$d/idVendor" ] || continue
		[ "$(cat "$d/idVendor" 2>/dev/null):$(cat "$d/idProduct" 2>/dev/null)" = "$1" ] &&
			{ echo "$d"; return 0; }
	done
	return 1
}

# wait_host VID:PID: until the host has configured the device (its first interface shows).
wait_host() {
	n=0
	until d=$(host_dev "$1") && [ -d "$d/$(basename "$d"):1.0" ]; do
		n=$((n + 1))
		[ $n -le 300 ] || return 1
		sleep 0.1
	done
	HOST_DEV=$d
}

# wait_host_gone VID:PID: until the host has dropped the device (so that the next server's
# device is not confused with the last one's).
wait_host_gone() {
	n=0
	while host_dev "$1" > /dev/null; do
		n=$((n + 1))
		[ $n -le 100 ] || { log "WARNING: $1 still on the host side 10 s after its server stopped"; return 1; }
		sleep 0.1
	done
}

# capture SRV BLOCK BUFS PID [ZERO_NOTE]: `iiousb capture` for T seconds from a server
# with the iiousb protocol, the server's CPU read around it; ZERO_NOTE is added to the note
# when nothing arrived.
capture() {
	c0=$(bench_util cpu "$4") || c0=
	v0=$(bench_util vmcpu)
	timeout $((T + 60)) iiousb capture rx0 -o /dev/null -t "$T" -T $HOST_T -S $HOST_S -q \
		--no-meta 2> /tmp/capture.err
	rc=$?
	c1=$(bench_util cpu "$4") || c1=
	v1=$(bench_util vmcpu)
	sed 's/^/  capture| /' /tmp/capture.err
	summary=$(grep ': captured ' /tmp/capture.err | tail -n 1)
	bytes=$(echo "$summary" | sed -n 's/.*captured .* (\([0-9]*\) bytes) in .*/\1/p')
	secs=$(echo "$summary" | sed -n 's/.* bytes) in \([0-9.]*\) s: .*/\1/p')
	[ -n "$bytes" ] || bytes=0
	[ -n "$secs" ] || secs=0
	cpu=-1
	[ -n "$c0" ] && [ -n "$c1" ] && cpu=$(sub "$c1" "$c0")
	vm=$(sub "$v1" "$v0")
	if [ $rc != 0 ]; then
		result "$1" "$2" "$3" iiousb "$bytes" "$secs" "$cpu" "$vm" 0 \
			"capture exit $rc: $(grep -m1 -v ': captured ' /tmp/capture.err | cut -c1-120)"
	elif [ "$bytes" = 0 ]; then
		result "$1" "$2" "$3" iiousb 0 "$secs" "$cpu" "$vm" 0 \
			"capture moved 0 bytes in $secs s${5:+ ($5)}"
	else
		result "$1" "$2" "$3" iiousb "$bytes" "$secs" "$cpu" "$vm" 1 ok
	fi
	LAST_BYTES=$bytes
}

# baseline SRV BLOCK BUFS PID: the plain libusb reader with the same transfers.
baseline() {
	c0=$(bench_util cpu "$4") || c0=
	v0=$(bench_util vmcpu)
	timeout $((T + 60)) usb_bulk_baseline -n $HOST_T -s $HOST_S -t "$T" -c 0 -z \
		> /tmp/base.out 2> /tmp/base.err
	rc=$?
	c1=$(bench_util cpu "$4") || c1=
	v1=$(bench_util vmcpu)
	sed 's/^/  baseline| /' /tmp/base.out /tmp/base.err
	bytes=$(sed -n 's/.*: \([0-9]*\) bytes in \([0-9.]*\) s: .*/\1/p' /tmp/base.out)
	secs=$(sed -n 's/.*: \([0-9]*\) bytes in \([0-9.]*\) s: .*/\2/p' /tmp/base.out)
	[ -n "$bytes" ] || bytes=0
	[ -n "$secs" ] || secs=0
	cpu=-1
	[ -n "$c0" ] && [ -n "$c1" ] && cpu=$(sub "$c1" "$c0")
	ok=1 note=ok
	if [ $rc != 0 ] || [ "$bytes" = 0 ]; then
		ok=0
		note="usb_bulk_baseline exit $rc, $bytes bytes"
	fi
	result "$1" "$2" "$3" libusb "$bytes" "$secs" "$cpu" "$(sub "$v1" "$v0")" $ok "$note"
}

# ---- (c) and the write() source: tool_ffs_source on the test gadget --------------------------

SRC_PID=
# source_start [tool_ffs_source options]: 0 when the host has the device.
source_start() {
	rm -f /tmp/ready
	tool_ffs_source --ready /tmp/ready "$@" "$FFS_DIR" > /tmp/source.log 2>&1 &
	SRC_PID=$!
	ffs_gadget_bind /tmp/ready
	wait_host $TEST_ID || { log "the host did not enumerate tool_ffs_source $*"; return 1; }
}

source_stop() {
	[ -n "$SRC_PID" ] || return 0
	kill -TERM "$SRC_PID" 2> /dev/null
	wait "$SRC_PID"
	sed 's/^/  source| /' /tmp/source.log | grep -v ' ep0 \| stream [01] \(started\|stopped\)'
	SRC_PID=
	n=0
	while [ -n "$(cat "$FFS_GADGET/UDC" 2>/dev/null)" ] && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	wait_host_gone $TEST_ID
}

run_c() {
	blk=$1 nb=$2
	if source_start --dmabuf "$nb" --block "$blk" --mask f; then
		capture c "$blk" "$nb" "$SRC_PID"
	else
		result c "$blk" "$nb" iiousb 0 0 -1 -1 0 "tool_ffs_source did not come up"
	fi
	source_stop
}

# ---- (a), (b): iiousbd ---------------------------------------------------------------------

DAEMON_PID=
DAEMON_GADGET=/sys/kernel/config/usb_gadget/iiousb
# daemon_conf BLOCK BUFS ZEROCOPY: the simulated ADC alone, at full speed.
daemon_conf() {
	cat > /tmp/bench.yaml << EOF
gadget:
  name: iiousb
  vid: 0x1d6b
  pid: 0x0104
  product: iiousb benchmark
  serial: "0001"
functionfs:
  instance: iiousb
  mount: /run/iiousbd/ffs
streams:
  - name: rx0
    direction: rx
    device: iio-sim-adc
    channels: all
    attributes:
      sampling_frequency: 0
    block-size: $1
    block-count: $2
    zero-copy: $3
EOF
}

# daemon_up [PROGRAM]: iiousbd, or the reference build iiousbd-ref (r).
daemon_up() {
	"${1:-iiousbd}" --config /tmp/bench.yaml > /tmp/iiousbd.log 2>&1 &
	DAEMON_PID=$!
	n=0
	while [ -z "$(cat "$DAEMON_GADGET/UDC" 2>/dev/null)" ]; do
		kill -0 "$DAEMON_PID" 2> /dev/null || { DAEMON_WHY="iiousbd exited before binding the UDC"; return 1; }
		n=$((n + 1))
		[ $n -le 300 ] || { DAEMON_WHY="iiousbd did not bind the UDC in 30 s"; return 1; }
		sleep 0.1
	done
	wait_host $TEST_ID || { DAEMON_WHY="the host did not enumerate iiousbd's gadget"; return 1; }
}

daemon_down() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2> /dev/null
	n=0
	while kill -0 "$DAEMON_PID" 2> /dev/null && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$DAEMON_PID" 2> /dev/null; then
		log "WARNING: iiousbd did not exit 10 s after SIGTERM: killing it"
		kill -KILL "$DAEMON_PID"
	fi
	wait "$DAEMON_PID"
	DAEMON_PID=
	wait_host_gone $TEST_ID
}

# A mode whose first two points moved nothing is a daemon without its data pipeline: its
# other points are not run. Once a mode has moved data in this boot, a point that moves
# nothing (a window too short for its first block) is just reported.
ZERO_A=0
ZERO_B=0
ZERO_R=0
EVER_A=0
EVER_B=0
EVER_R=0
run_daemon() {
	srv=$1 blk=$2 nb=$3
	case $srv in
	a) mode=auto zeros=$ZERO_A ever=$EVER_A ;;
	r) mode=auto zeros=$ZERO_R ever=$EVER_R ;;
	*) mode=off zeros=$ZERO_B ever=$EVER_B ;;
	esac
	if [ "$ever" = 0 ] && [ "$zeros" -ge 2 ]; then
		result "$srv" "$blk" "$nb" iiousb 0 0 -1 -1 0 "not run: no data from this daemon in the first points"
		return
	fi
	daemon_conf "$blk" "$nb" $mode
	if daemon_up "$([ "$srv" = r ] && echo iiousbd-ref || echo iiousbd)"; then
		capture "$srv" "$blk" "$nb" "$DAEMON_PID" \
			"$([ "$ever" = 0 ] && echo "no data from this daemon so far")"
		grep -i 'zero-copy\|copy\|dmabuf\|error\|warning' /tmp/iiousbd.log | head -n 8 |
			sed 's/^/  iiousbd| /'
	else
		sed 's/^/  iiousbd| /' /tmp/iiousbd.log | tail -n 5
		result "$srv" "$blk" "$nb" iiousb 0 0 -1 -1 0 "$DAEMON_WHY"
		LAST_BYTES=0
	fi
	daemon_down
	if [ "$LAST_BYTES" = 0 ]; then
		zeros=$((zeros + 1))
	else
		zeros=0 ever=1
	fi
	case $srv in
	a) ZERO_A=$zeros EVER_A=$ever ;;
	r) ZERO_R=$zeros EVER_R=$ever ;;
	*) ZERO_B=$zeros EVER_B=$ever ;;
	esac
}

# ---- (d): iiod over FunctionFS, iio_readdev on the host side -----------------------------------

IIOD_PID=
IIOD_G=/sys/kernel/config/usb_gadget/iiod
iiod_up() {
	mkdir $IIOD_G || return 1
	echo 0x0456 > $IIOD_G/idVendor
	echo 0xb673 > $IIOD_G/idProduct
	mkdir $IIOD_G/strings/0x409
	echo iiousb > $IIOD_G/strings/0x409/manufacturer
	echo "iiod benchmark" > $IIOD_G/strings/0x409/product
	mkdir $IIOD_G/configs/c.1 $IIOD_G/functions/ffs.iio
	ln -s $IIOD_G/functions/ffs.iio $IIOD_G/configs/c.1/
	mkdir -p /dev/iio_ffs
	mount -t functionfs iio /dev/iio_ffs || return 1
	iiod -F /dev/iio_ffs -n 3 > /tmp/iiod.log 2>&1 &
	IIOD_PID=$!
	# iiod writes its descriptors asynchronously: bind once FunctionFS takes it.
	n=0
	udc=$(ls /sys/class/udc | head -n 1)
	until echo "$udc" > $IIOD_G/UDC 2> /dev/null; do
		n=$((n + 1))
		[ $n -lt 150 ] || { cat /tmp/iiod.log; return 1; }
		sleep 0.2
	done
	wait_host $IIOD_ID || return 1
	bus=$(cat "$HOST_DEV/busnum")
	dev=$(cat "$HOST_DEV/devnum")
	intf=$(cat "$HOST_DEV/$(basename "$HOST_DEV"):1.0/bInterfaceNumber")
	IIOD_URI=usb:$bus.$dev.$((intf))
	log "iiod up (pid $IIOD_PID), host URI $IIOD_URI"
	sleep 1
}

# Bytes per sample set of iio-sim-adc with every channel (iio_readdev reads them all).
adc_set_bytes() {
	d=$(iio_dev_by_name iio-sim-adc) || { echo 8; return; }
	n=0
	for f in "$d"/buffer0/in_voltage*_en; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo $((2 * n))
}

# readdev_once BLOCK SAMPLES NBLK: one iio_readdev session of NBLK buffers into the meter,
# from READ_URI, timing the server READ_PID (contender READ_SRV).
readdev_once() {
	log "($READ_SRV) iio_readdev -b $2 -s $(($2 * $3)) ($3 buffers of $1 bytes)"
	{
		timeout $((T * 6 + 60)) iio_readdev -u "$READ_URI" -b "$2" -s $(($2 * $3)) \
			iio-sim-adc 2> /tmp/readdev.err
		echo $? > /tmp/readdev.rc
	} | bench_util sink -b "$1" -p "$READ_PID" > /tmp/sink.out
	rc=$(cat /tmp/readdev.rc)
	out=$(cat /tmp/sink.out)
	log "  sink: $out (iio_readdev exit $rc)"
	sed 's/^/  iio_readdev| /' /tmp/readdev.err | head -n 5
	bytes=$(echo "$out" | tr ' ' '\n' | sed -n 's/^bytes=//p')
	secs=$(echo "$out" | tr ' ' '\n' | sed -n 's/^secs=//p')
	[ -n "$bytes" ] || bytes=0
	[ -n "$secs" ] || secs=0
	[ "$rc" = 0 ] && [ "$bytes" != 0 ]
}

# run_readdev SRV BLOCK: one (d) or (e) point; READ_URI and READ_PID name the server.
D_RATE=2097152 # bytes/s guess for the first point; then the last measured rate (per server)
E_RATE=2097152
run_readdev() {
	READ_SRV=$1 blk=$2
	if [ "$READ_SRV" = d ]; then rate=$D_RATE; else rate=$E_RATE; fi
	samples=$((blk / $(adc_set_bytes)))
	# Enough buffers for about T seconds after the first one (at least 8); a window
	# much shorter than T (the guess was low) is measured again with the rate it showed.
	nblk=$(awk "BEGIN { n = int($T * $rate / $blk) + 2; if (n < 8) n = 8; if (n > 4000) n = 4000; print n }")
	retried=
	if ! readdev_once "$blk" "$samples" "$nblk"; then
		# Seen at SS: a session right after another one failing with "Unable to create
		# IIO context usb:...: Invalid argument" (the next one works). Said, then retried.
		retried=" (after a failed session: $(head -n 1 /tmp/readdev.err | cut -c1-80))"
		log "WARNING: ($READ_SRV) iio_readdev session failed (exit $rc): retrying once"
		sed 's/^/  server| /' "$READ_LOG" | tail -n 5
		sleep 1
		readdev_once "$blk" "$samples" "$nblk"
	fi
	if [ "$rc" = 0 ] && [ "$bytes" != 0 ] && awk "BEGIN { exit !($secs < 0.6 * $T) }"; then
		nblk=$(awk "BEGIN { n = int($T * $bytes / $secs / $blk) + 2; if (n > 4000) n = 4000; print n }")
		readdev_once "$blk" "$samples" "$nblk"
	fi
	if [ "$rc" = 0 ] && [ "$bytes" != 0 ]; then
		result "$READ_SRV" "$blk" 4 iio_readdev "$bytes" "$secs" \
			"$(echo "$out" | tr ' ' '\n' | sed -n 's/^cpu=//p')" \
			"$(echo "$out" | tr ' ' '\n' | sed -n 's/^vmcpu=//p')" 1 \
			"$nblk buffers of $samples samples, rate over the last $((nblk - 1))$retried"
		rate=$(awk "BEGIN { print int($bytes / $secs) }")
		if [ "$READ_SRV" = d ]; then D_RATE=$rate; else E_RATE=$rate; fi
	else
		result "$READ_SRV" "$blk" 4 iio_readdev "$bytes" "$secs" -1 -1 0 \
			"iio_readdev exit $rc: $(head -n 1 /tmp/readdev.err | cut -c1-100)"
	fi
}

# rig_up: the UDC and iio-sim's ADC for the benchmark's stream; ALLOC names the DMABUF
# allocator the servers will pick.
rig_up() {
	check_dmabuf_allocators
	ALLOC=udmabuf
	[ ! -c /dev/dma_heap/system ] || ALLOC=dma-heap
	load_udc
	# The ADC as fast as it goes, writing only each block's 16-byte header.
	load_iio_sim pattern=header sampling_frequency=0
	iio_dev_by_name iio-sim-adc > /dev/null || die "no IIO device iio-sim-adc"
}

# Sourced by another bench scenario (BENCH_RX_LIB=1: bench_syscalls, bench_profile): the
# functions only.
[ -z "${BENCH_RX_LIB:-}" ] || return 0

# ---- the run ------------------------------------------------------------------------------

rig_up
log "bench_rx: ${IIOUSB_ARCH:-amd64}, speed $SPEED, $T s per point, $ROUNDS round(s), blocks {$BLOCKS} x buffers {$BUFS}, (d) at {$DBLOCKS}, running '$WHAT'; DMABUFs from $ALLOC; host reader iiousb capture -T $HOST_T -S $HOST_S --no-meta"
echo "BENCH-CONF speed=$SPEED arch=${IIOUSB_ARCH:-amd64} kernel=$(uname -r) alloc=$ALLOC seconds=$T rounds=$ROUNDS host_transfers=$HOST_T host_size=$HOST_S what=$WHAT"

if wants a || wants b || wants c || wants r; then
	ffs_gadget_create
	# The order alternates from point to point (c a b, b a c, ...) so that a drift in the
	# machine's load does not favour one contender; rounds go over the whole grid.
	point=0
	for ROUND in $(seq 1 "$ROUNDS"); do
		for blk in $BLOCKS; do
			for nb in $BUFS; do
				log "---- round $ROUND: block $blk, $nb buffers"
				order="c a r b"
				[ $((point % 2)) = 1 ] && order="b r a c"
				for srv in $order; do
					wants "$srv" || continue
					case $srv in
					c) run_c "$blk" "$nb" ;;
					*) run_daemon "$srv" "$blk" "$nb" ;;
					esac
				done
				point=$((point + 1))
			done
		done
	done
fi

if wants x; then
	[ -d "$FFS_GADGET" ] || ffs_gadget_create
	for ROUND in $(seq 1 "$ROUNDS"); do
		log "---- round $ROUND: extra: iiousb capture vs usb_bulk_baseline"
		# tool_stream's comparison (w): the write() source, 1 MiB blocks, header pattern;
		# then (z) the same readers on the raw DMABUF loop of (c), 4 x 1 MiB.
		for srv in w z; do
			if [ $srv = w ]; then
				source_start --block 1048576 --mask f --pattern header
			else
				source_start --dmabuf 4 --block 1048576 --mask f
			fi || { source_stop; continue; }
			if [ $((ROUND % 2)) = 1 ]; then
				baseline "$srv" 1048576 4 "$SRC_PID"
				capture "$srv" 1048576 4 "$SRC_PID"
			else
				capture "$srv" 1048576 4 "$SRC_PID"
				baseline "$srv" 1048576 4 "$SRC_PID"
			fi
			source_stop
		done
	done
fi

if wants d; then
	log "---- (d) iiod"
	if ! command -v iiod > /dev/null || ! command -v iio_readdev > /dev/null; then
		for blk in $DBLOCKS; do
			result d "$blk" 4 iio_readdev 0 0 -1 -1 0 "iiod or iio_readdev not in the guest"
		done
	elif ! iiod_up; then
		for blk in $DBLOCKS; do
			result d "$blk" 4 iio_readdev 0 0 -1 -1 0 "iiod did not come up"
		done
	else
		READ_URI=$IIOD_URI READ_PID=$IIOD_PID READ_LOG=/tmp/iiod.log
		for ROUND in $(seq 1 "$ROUNDS"); do
			for blk in $DBLOCKS; do
				run_readdev d "$blk"
			done
		done
		echo "" > $IIOD_G/UDC
		# iiod takes ~40 s to leave after SIGTERM once its gadget is unbound (seen at
		# HS): nothing is measured any more, so give it 3 s.
		kill -TERM "$IIOD_PID"
		n=0
		while kill -0 "$IIOD_PID" 2> /dev/null && [ $n -lt 30 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$IIOD_PID" 2> /dev/null
		wait "$IIOD_PID"
	fi
fi
if wants e; then
	log "---- (e) iiousbd's libiio interface"
	# The native stream rx0 is configured but never started: the ADC is the libiio
	# client's. READBUF zero-copy with 4 DMABUF blocks of the client's buffer size.
	daemon_conf 65536 4 auto
	# Its own usb_f_fs instance: (d)'s gadget still holds the instance "iio".
	printf 'libiio:\n  enabled: true\n  instance: iioe\n  mount: /run/iiousbd/iioe\n  zero-copy: auto\n  buffers: 4\n' >> /tmp/bench.yaml
	if ! command -v iio_readdev > /dev/null; then
		for blk in $DBLOCKS; do
			result e "$blk" 4 iio_readdev 0 0 -1 -1 0 "iio_readdev not in the guest"
		done
	elif ! daemon_up; then
		sed 's/^/  iiousbd| /' /tmp/iiousbd.log | tail -n 5
		for blk in $DBLOCKS; do
			result e "$blk" 4 iio_readdev 0 0 -1 -1 0 "$DAEMON_WHY"
		done
	else
		bus=$(cat "$HOST_DEV/busnum")
		dev=$(cat "$HOST_DEV/devnum")
		intf=
		for i in "$HOST_DEV"/"$(basename "$HOST_DEV")":1.*; do
			[ "$(cat "$i/interface" 2> /dev/null)" = IIO ] && intf=$(cat "$i/bInterfaceNumber")
		done
		READ_URI=usb:$bus.$dev.$((10#${intf:-1})) READ_PID=$DAEMON_PID READ_LOG=/tmp/iiousbd.log
		log "iiousbd up (pid $DAEMON_PID), libiio URI $READ_URI"
		sleep 1
		for ROUND in $(seq 1 "$ROUNDS"); do
			for blk in $DBLOCKS; do
				run_readdev e "$blk"
				grep 'libiio buffer of' /tmp/iiousbd.log | tail -n 1 | sed 's/^/  iiousbd| /'
			done
		done
		daemon_down
	fi
fi

echo "BENCH-END speed=$SPEED"
log "bench_rx: done"
