# Start/stop cycles, killed host programs and a stalled host (issue 11), against iiousbd on
# the default config (rx0 at sampling_frequency 1000000, so the ADC overruns whenever the
# host does not read):
#  a. CYCLES times: a 1 MiB verified capture (START..STOP), and raw START/STOP of rx0 and
#     tx0 (daemon_probe); then a 16 MiB verified capture, both streams stopped, fds and
#     DMABUFs back to the baseline.
#  b. KILLS times: `iiousb capture` killed with SIGKILL mid-stream (no STOP: rx0 keeps
#     running and overrunning), then a 16 MiB capture verified from its first byte (sample
#     0 first: a stale block from the killed session would be a sample index jump); and
#     `iiosim_gen | iiousb play` killed mid-stream, then a fresh N-byte play the DAC counts
#     exactly (sim_bytes == N, sim_errors 0).
#  c. A capture whose process is stopped (SIGSTOP) for STALL_S seconds and then continues:
#     the device counts overruns (capture summary and `iiousb stats`), a following capture
#     verifies, the daemon lives on, fds and DMABUFs back to the baseline.
# Arguments: CYCLES (20) STALL_S (5) KILLS (2) TX_BYTES (8388608).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

CYCLES=${1:-20}
STALL_S=${2:-5}
KILLS=${3:-2}
TX_BYTES=${4:-8388608}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
daemon_start
daemon_wait_host
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
t_start=$(now)

alive() { kill -0 "$DAEMON_PID" 2>/dev/null || { daemon_show_log; die "iiousbd died: $1"; }; }

# back_to_baseline WHAT: both streams stopped, fds and DMABUFs as at the baseline.
back_to_baseline() {
	for s in 0 1; do
		st=$(daemon_probe stats $s) || die "$1: GET_STATS $s failed"
		case "$st" in *state=stopped*) ;; *) die "$1: stream $s not stopped: $st" ;; esac
	done
	daemon_back_to_baseline "$1"
	log "$1: both streams stopped, $DAEMON_FDS fds and $DAEMON_DMABUFS DMABUFs as at the baseline"
}

# verified_capture WHAT SIZE: a capture that starts rx0 and must verify from sample 0.
verified_capture() {
	iiousb capture rx0 -n "$2" -o /dev/null --verify 2> /tmp/err.txt
	rc=$?
	[ $rc = 0 ] || { cat /tmp/err.txt; daemon_show_log | tail -30; die "$1: $2 verified capture exited $rc"; }
	grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "$1: no 'pattern OK'"; }
	grep -q -E "verify: first sample 0($|[^0-9])" /tmp/err.txt || { cat /tmp/err.txt; die "$1: the capture did not start at sample 0 (stale data?)"; }
}

# wait_started COUNT WHAT: the daemon logged another stream start than the COUNT before.
wait_started() { daemon_wait_log "started" $(($1 + 1)) "$2 (a stream start)" 60; }

daemon_baseline
log "baseline: $DAEMON_FDS_BEFORE fds, $DAEMON_DMABUFS_BEFORE DMABUFs; CYCLES=$CYCLES STALL_S=$STALL_S KILLS=$KILLS TX_BYTES=$TX_BYTES"

# --- a. START/STOP cycles -------------------------------------------------------------
t0=$(now)
i=1
while [ $i -le "$CYCLES" ]; do
	verified_capture "cycle $i" 1MiB
	for s in 0 1; do
		daemon_expect "cycle $i: START $s" "$(daemon_probe start $s)" ok
		daemon_expect "cycle $i: STOP $s" "$(daemon_probe stop $s)" ok
	done
	# START twice (a restart), then STOP.
	daemon_expect "cycle $i: START 0" "$(daemon_probe start 0)" ok
	daemon_expect "cycle $i: START 0 again" "$(daemon_probe start 0)" ok
	daemon_expect "cycle $i: STOP 0" "$(daemon_probe stop 0)" ok
	alive "cycle $i"
	i=$((i + 1))
done
verified_capture "after $CYCLES cycles" 16MiB
iiousb stats > /tmp/stats.txt || die "iiousb stats after the cycles"
cat /tmp/stats.txt
grep -q 'stream 0 "rx0" (rx): stopped' /tmp/stats.txt || die "rx0 not stopped after the cycles"
grep -q 'stream 1 "tx0" (tx): stopped' /tmp/stats.txt || die "tx0 not stopped after the cycles"
grep -q 'failed USB transfers 0, failed IIO blocks 0' /tmp/stats.txt || die "failed transfers or blocks after the cycles"
back_to_baseline "after $CYCLES START/STOP cycles"
log "a: $CYCLES cycles (1 MiB verified capture, raw START/STOP of rx0 and tx0, double START) in $(elapsed "$t0" "$(now)")s"

# --- b. SIGKILL mid-stream ----------------------------------------------------------------
t0=$(now)
k=1
while [ $k -le "$KILLS" ]; do
	started=$(grep -c "started" "$DAEMON_LOG")
	iiousb capture rx0 -o /dev/null 2> /tmp/err.txt &
	pid=$!
	wait_started "$started" "capture (kill $k)"
	sleep 1
	kill -0 $pid 2>/dev/null || { cat /tmp/err.txt; die "kill $k: the capture ended before SIGKILL"; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	alive "capture killed ($k)"
	st=$(daemon_probe stats 0)
	log "kill $k: rx0 after the SIGKILL: $st"
	# No STOP came: the stream runs on, and the next START must restart it.
	case "$st" in *state=running*) ;; *) die "kill $k: rx0 not running after the SIGKILL: $st" ;; esac
	sleep 1
	verified_capture "capture after SIGKILL ($k)" 16MiB
	grep 'verify' /tmp/err.txt

	started=$(grep -c "started" "$DAEMON_LOG")
	iiosim_gen f 1073741824 | iiousb play tx0 -i - 2> /tmp/err.txt &
	pid=$!
	wait_started "$started" "play (kill $k)"
	sleep 1
	kill -0 $pid 2>/dev/null || { cat /tmp/err.txt; die "kill $k: the play ended before SIGKILL"; }
	kill -KILL $pid
	wait $pid 2>/dev/null
	alive "play killed ($k)"
	st=$(daemon_probe stats 1)
	log "kill $k: tx0 after the SIGKILL: $st"
	case "$st" in *state=running*) ;; *) die "kill $k: tx0 not running after the SIGKILL: $st" ;; esac
	sleep 1
	echo 1 > "$dac/sim_reset"
	iiosim_gen f "$TX_BYTES" | iiousb play tx0 -i - 2> /tmp/err.txt || { cat /tmp/err.txt; die "play after SIGKILL ($k)"; }
	daemon_expect "DAC bytes after a play killed ($k)" "$(cat "$dac/sim_bytes")" "$TX_BYTES"
	daemon_expect "DAC errors after a play killed ($k)" "$(cat "$dac/sim_errors")" 0
	log "kill $k: capture and play killed mid-stream; 16 MiB RX verified from sample 0, $TX_BYTES bytes TX counted exactly by the DAC"
	k=$((k + 1))
done
back_to_baseline "after $KILLS SIGKILLs"
log "b: $KILLS rounds in $(elapsed "$t0" "$(now)")s"

# --- c. stalled host ----------------------------------------------------------------------
t0=$(now)
started=$(grep -c "started" "$DAEMON_LOG")
iiousb capture rx0 -o /dev/null -t $((STALL_S + 4)) 2> /tmp/stall.txt &
pid=$!
wait_started "$started" "stalled capture"
sleep 1
kill -STOP $pid
sleep "$STALL_S"
alive "during the stall"
kill -CONT $pid
wait $pid
rc=$?
cat /tmp/stall.txt
[ $rc = 0 ] || die "the stalled capture exited $rc"
ov=$(sed -n 's/.*device: .*, overruns \([0-9]*\),.*/\1/p' /tmp/stall.txt | tail -1)
[ -n "$ov" ] || die "no device counters in the stalled capture's summary"
[ "$ov" -gt 0 ] || { daemon_show_log | tail -30; die "a ${STALL_S}s host stall at 1 MHz counted no overrun"; }
iiousb stats rx0 > /tmp/stats.txt || die "iiousb stats after the stall"
cat /tmp/stats.txt
ov2=$(sed -n 's/.*overruns \([0-9]*\),.*/\1/p' /tmp/stats.txt)
[ -n "$ov2" ] && [ "$ov2" -gt 0 ] || die "iiousb stats after the stall shows no overrun: '$ov2'"
verified_capture "capture after the stall" 16MiB
back_to_baseline "after the stall"
log "c: ${STALL_S}s stall: $ov overruns (iiousb stats: $ov2), then 16 MiB verified, in $(elapsed "$t0" "$(now)")s"

daemon_stop_and_check_clean
log "daemon_cycles: $CYCLES cycles, $KILLS kills, ${STALL_S}s stall in $(elapsed "$t_start" "$(now)")s"
log "daemon_cycles: PASS"
