# No host can wedge iiousbd through ep0 (issue 11). f_fs blocks the gadget process in ep0's
# data and status stages until the host completes the control transfer, whatever O_NONBLOCK
# says; a host that abandons a control transfer after its SETUP went out (a libusb timeout
# of a few ms) must not block the daemon's event loop: the streams keep moving.
#
#   1. RANDOM/4 random SETUPs (ep0_fault random) with no stream running and the interface
#      free, so that standard and class requests to the interface reach the daemon too.
#   2. RX: `iiousb capture rx0 --verify` runs while ep0_fault abandons ABANDON GET_STATS and
#      GET_INFO transfers (ending on an abandoned one), then nothing sends a control request
#      for HOLD seconds (a daemon blocked on that transfer stays blocked all that time:
#      nothing else completes it), then RANDOM random SETUPs, with `ep0_fault probe`
#      timing a well-behaved host's GET_STATS meanwhile. The capture is stopped (SIGTERM,
#      a clean stop) once all that is done and at least SECONDS have passed.
#   3. TX: `iiosim_gen | iiousb play tx0` of TX_MIB while ep0_fault abandons ABANDON/2
#      transfers, HOLD seconds of silence again, then RANDOM/4 random SETUPs. (RX and TX
#      cannot run at the same time from two iiousb processes: each claims the interface.)
#   /proc/PID/wchan of the daemon's main thread (and of its other threads) is logged once a
#   second throughout.
#
# PASS: neither the capture's nor the playback's per-second MB/s line is 0.0 for more than
# 1 second in a row once its stream moved data, the capture verified the pattern, the DAC
# consumed every TX byte with 0 errors, the probe's GET_STATS all succeeded (a stalled one at
# once when sent again: see ep0_fault.c on why another process's rejected request can stall
# it; that it happened is logged), the daemon is alive, its fd and DMABUF counts are back to
# the baseline once the streams stopped, and it stops cleanly.
#
#   Arguments: ABANDON (200) RANDOM (2000) SECONDS (10) SEED (from the clock) HOLD (3)
#   TX_MIB (96: ~12 s at the DAC's 1 MS/s; must outlast the TX phase's abandon and hold)
#   RATE (the ADC's sampling_frequency: 1000000 as in the default config; 0, as fast as it
#   goes, keeps TCG's CPUs so busy that 2000 random SETUPs take ~45 s instead of ~10)
#   (run.sh joins the arguments with commas: give every one up to the last one you set.)
#   The issue's long run, 10 000 random SETUPs while rx0 streams (2500 + 2500 more before
#   and during TX; TX_MIB 256 to outlast 500 abandon attempts; ~2.5 minutes in the VM):
#     tests/vm/run.sh --timeout 900 daemon_ep0_fault 1000 10000 10 1 3 256
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

ABANDON=${1:-200}
NRANDOM=${2:-2000}
MIN_S=${3:-10}
SEED=${4:-$(date +%s)}
HOLD=${5:-3}
TX_MIB=${6:-96}
RATE=${7:-1000000}

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
sed -e "s/sampling_frequency: .*/sampling_frequency: $RATE/" "$DAEMON_CONF" > /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
# The daemon's main thread's wchan, and those of its other threads.
wchan_sample() {
	line="$(now) main=$(cat "/proc/$DAEMON_PID/wchan" 2>/dev/null)"
	for t in /proc/$DAEMON_PID/task/*; do
		[ "${t##*/}" = "$DAEMON_PID" ] && continue
		line="$line ${t##*/}=$(cat "$t/wchan" 2>/dev/null)"
	done
	echo "$line"
}
# zero_runs FILE STREAM VERB: "LONGEST FROM TO" for the 0.0 MB/s lines in a row in an
# iiousb status output ('rx0 rx  7.8 MB/s  total 45.1 MB  3.0 s  errors 0  verify ok')
# once the stream moved data; FROM and TO are the stream times of the longest run's first
# and last line.
zero_runs() {
	awk -v s="$2" -v v="$3" '$1 == s && $2 == v && $4 == "MB/s" && $9 == "s" {
		if ($3 + 0 > 0) { started = 1; run = 0; next }
		if (!started) next
		if (run == 0) from = $8
		run++
		if (run > longest) { longest = run; lfrom = from; lto = $8 }
	}
	END { printf "%d %s %s\n", longest, lfrom == "" ? "-" : lfrom, lto == "" ? "-" : lto }' "$1"
}
# wait_moving FILE STREAM VERB PID: until the status output shows data moving.
wait_moving() {
	n=0
	until awk -v s="$2" -v v="$3" '$1 == s && $2 == v && $3 + 0 > 0 { f = 1 } END { exit !f }' "$1"; do
		n=$((n + 1))
		kill -0 "$4" 2>/dev/null || { cat "$1"; daemon_show_log | tail -n 40; die "$2 ended before its stream moved data"; }
		[ $n -le 300 ] || { cat "$1"; die "$2 moved no data in 30 s"; }
		sleep 0.1
	done
}
# check_moving FILE STREAM VERB: never 0.0 MB/s for more than 1 s in a row.
check_moving() {
	set -- "$@" $(zero_runs "$1" "$2" "$3")
	stuck=$(grep -c 'main=__ffs_ep0_queue_wait' /tmp/wchan.log)
	log "$2: longest run of 0.0 MB/s seconds once moving: $4 (stream time $5 s .. $6 s); main thread sampled in __ffs_ep0_queue_wait $stuck times so far"
	[ "$4" -le 1 ] ||
		die "$2 moved nothing for $4 s in a row (stream time $5 s .. $6 s): the daemon's event loop was blocked; its main thread was in __ffs_ep0_queue_wait in $stuck of $(wc -l < /tmp/wchan.log) one-second samples"
}
# in_ep0_wait: some thread of the daemon waits in f_fs for the host to complete a control
# transfer (the daemon saw the SETUP of a transfer the host abandoned).
in_ep0_wait() {
	grep -qs '^__ffs_ep0_queue_wait$' /proc/$DAEMON_PID/task/*/wchan
}
# fault_abandon N: abandon transfers, then silence on ep0 for HOLD s. A timed-out transfer's
# SETUP may not have reached the gadget before the host gave up (the UDC's 1 ms frame timer
# under TCG): abandon a few more, up to 30 times, until a thread of the daemon is seen
# waiting for one.
fault_abandon() {
	log "+ ep0_fault abandon $1"
	ep0_fault abandon "$1" || die "ep0_fault abandon $1 failed"
	r=0
	sleep 0.3
	while ! in_ep0_wait; do
		r=$((r + 1))
		if [ $r -gt 30 ]; then
			log "note: no thread of the daemon seen in __ffs_ep0_queue_wait after 30 more rounds of ep0_fault abandon 3"
			break
		fi
		ep0_fault -q abandon 3 > /dev/null || die "ep0_fault abandon 3 failed"
		sleep 0.3
	done
	[ $r = 0 ] || log "$r more rounds of ep0_fault abandon 3"
	log "ep0 silent for ${HOLD}s after an abandoned transfer: $(wchan_sample)"
	sleep "$HOLD"
	log "after ${HOLD}s: $(wchan_sample)"
}
dump_wchan() {
	echo "--- /proc/$DAEMON_PID/wchan once a second (uptime, main thread, other threads by id)"
	cat /tmp/wchan.log
	echo "---"
}

daemon_baseline
log "baseline: $DAEMON_FDS_BEFORE fds, $DAEMON_DMABUFS_BEFORE DMABUFs ($([ -r "$DAEMON_BUFINFO" ] && echo "$DAEMON_BUFINFO" || echo "the daemon's dmabuf fds")); seed $SEED"
(while kill -0 "$DAEMON_PID" 2>/dev/null; do
	wchan_sample
	sleep 1
done) > /tmp/wchan.log 2>&1 &
wchan_pid=$!

# --- 1. Random SETUPs with the interface free -----------------------------------------------
log "+ ep0_fault random $((NRANDOM / 4)) $SEED (no stream, interface free)"
ep0_fault random $((NRANDOM / 4)) "$SEED" ||
	{ daemon_show_log | tail -n 40; die "ep0_fault random $((NRANDOM / 4)) $SEED (interface free) failed"; }
kill -0 "$DAEMON_PID" || die "iiousbd died under random SETUPs"

# --- 2. RX ----------------------------------------------------------------------------------
t0=$(now)
iiousb capture rx0 -t 3600 -o /dev/null --verify 2> /tmp/capture.err &
cap_pid=$!
wait_moving /tmp/capture.err rx0 rx "$cap_pid"
log "rx0 streaming: $(daemon_fd_count) fds, $(daemon_dmabuf_count) DMABUFs"
fault_abandon "$ABANDON"
ep0_fault probe 100000 100 > /tmp/probe.out 2>&1 &
probe_pid=$!
log "+ ep0_fault random $NRANDOM $((SEED + 1)) (capture running; ep0_fault probe meanwhile)"
ep0_fault random "$NRANDOM" $((SEED + 1)) || die "ep0_fault random $NRANDOM $((SEED + 1)) failed"
kill -TERM "$probe_pid" 2>/dev/null
wait "$probe_pid"
probe_rc=$?
cat /tmp/probe.out
kill -0 "$cap_pid" 2>/dev/null || { cat /tmp/capture.err; die "the capture ended during the fault load"; }
# (A 2 s tail at least, and SECONDS of capture in all.)
sleep "$(awk "BEGIN { d = $MIN_S - ($(now) - $t0); print (d > 2 ? int(d + 1) : 2) }")"
kill -TERM "$cap_pid"
wait "$cap_pid"
cap_rc=$?
echo "--- iiousb capture rx0 --verify"
cat /tmp/capture.err
dump_wchan
check_moving /tmp/capture.err rx0 rx
[ $cap_rc = 0 ] || { daemon_show_log | tail -n 40; die "iiousb capture rx0 --verify exited $cap_rc"; }
grep -q "pattern OK" /tmp/capture.err || die "capture --verify: no 'pattern OK'"
[ $probe_rc = 0 ] || die "ep0_fault probe: a well-behaved GET_STATS failed during the random SETUPs"
probe_restalled=$(sed -n 's/^probe: \([0-9]*\) stalled, then answered.*/\1/p' /tmp/probe.out)
[ -n "$probe_restalled" ] || die "ep0_fault probe: no 'stalled, then answered' count in its output"
[ "$probe_restalled" = 0 ] ||
	log "note: $probe_restalled probe(s) stalled by another request's halt of ep0, answered when sent again"
log "RX: rx0 kept moving through the fault load, pattern OK, every probe answered"

# --- 3. TX ----------------------------------------------------------------------------------
echo 1 > "$dac/sim_reset"
tx_bytes=$((TX_MIB * 1048576))
(iiosim_gen f "$tx_bytes" | iiousb play tx0 -i -) 2> /tmp/play.err &
play_pid=$!
wait_moving /tmp/play.err tx0 tx "$play_pid"
log "tx0 streaming: $(daemon_fd_count) fds, $(daemon_dmabuf_count) DMABUFs"
fault_abandon $((ABANDON / 2))
kill -0 "$play_pid" 2>/dev/null ||
	{ cat /tmp/play.err; die "the playback ended before the abandon and hold were over: raise TX_MIB (argument 6)"; }
log "+ ep0_fault random $((NRANDOM / 4)) $((SEED + 2)) (playback running)"
ep0_fault random $((NRANDOM / 4)) $((SEED + 2)) || die "ep0_fault random $((NRANDOM / 4)) $((SEED + 2)) failed"
n=0
while kill -0 "$play_pid" 2>/dev/null; do
	n=$((n + 1))
	[ $n -le 1200 ] || { cat /tmp/play.err; die "iiousb play tx0 still running 120 s after the fault load"; }
	sleep 0.1
done
wait "$play_pid"
play_rc=$?
echo "--- iiosim_gen f $tx_bytes | iiousb play tx0"
cat /tmp/play.err
dump_wchan
check_moving /tmp/play.err tx0 tx
[ $play_rc = 0 ] || { daemon_show_log | tail -n 40; die "iiosim_gen | iiousb play tx0 exited $play_rc"; }
daemon_expect "DAC bytes" "$(cat "$dac/sim_bytes")" "$tx_bytes"
daemon_expect "DAC errors" "$(cat "$dac/sim_errors")" 0
log "TX: tx0 kept moving through the fault load; the DAC got $tx_bytes bytes, 0 errors"

# --- The daemon is fine ---------------------------------------------------------------------
kill -0 "$DAEMON_PID" || die "iiousbd died"
# Both streams stopped: fds and DMABUFs back to the baseline.
daemon_back_to_baseline "after the streams stopped"
iiousb stats || die "iiousb stats after the fault load"
kill "$wchan_pid" 2>/dev/null
wait "$wchan_pid" 2>/dev/null
log "$DAEMON_FDS fds and $DAEMON_DMABUFS DMABUFs, as before the streams"
daemon_stop_and_check_clean
log "daemon_ep0_fault: PASS ($ABANDON + $((ABANDON / 2)) abandon, $((NRANDOM / 4)) + $NRANDOM + $((NRANDOM / 4)) random SETUPs, seed $SEED)"
