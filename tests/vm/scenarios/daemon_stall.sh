# The progress watchdog (issue 11), against iiousbd on the default config with rx0's
# stall-timeout set to T seconds (rx0 at sampling_frequency 1000000):
#  a. iio-sim-adc's DMA stalls (sim_stall=1) under a running capture: iio-stalled in the
#     log (stream, device, seconds, blocks queued) and the stream restarted; sim_stall=0:
#     rx0 moves again, and a new capture verifies from sample 0.
#  b. The ADC stays stalled: 3 restarts in a row without progress, then rx0 is failed with
#     the reason; sim_stall=0 and a new capture (START) verifies from sample 0.
#  c. The host stops reading (capture SIGSTOPped for HOST_STALL_S > T seconds): usb-idle,
#     no iio-stalled and no restart; SIGCONT: usb-resumed, the capture ends well, and a new
#     one verifies.
# Arguments: T (2) HOST_STALL_S (5).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

T=${1:-2}
HOST_STALL_S=${2:-5}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
adc=$(iio_dev_by_name iio-sim-adc) || die "no iio-sim-adc"
[ -f "$adc/sim_stall" ] || die "iio-sim has no sim_stall"
conf=/tmp/stall.yaml
awk -v t="$T" '{ print } /^    zero-copy:/ && !done { print "    stall-timeout: " t; done = 1 }' \
	"$DAEMON_CONF" > "$conf"
grep -q "stall-timeout: $T" "$conf" || die "could not add stall-timeout to $conf"
iiousbd --check-config "$conf" > /dev/null || die "--check-config refused stall-timeout"
daemon_start "$conf"
daemon_wait_host
t_start=$(now)

alive() { kill -0 "$DAEMON_PID" 2>/dev/null || { daemon_show_log; die "iiousbd died: $1"; }; }
count() { grep -c -e "$1" "$DAEMON_LOG"; }
# wait_count PATTERN COUNT SECONDS WHAT: the log has more than COUNT lines with PATTERN.
wait_count() {
	n=0
	while [ "$(count "$1")" -le "$2" ]; do
		n=$((n + 1))
		[ $n -le $(($3 * 10)) ] || { daemon_show_log | tail -30; die "$4: no '$1' in $3 s"; }
		sleep 0.1
	done
}
# Blocks the ADC filled (iio-sim's counter). With 4 blocks in flight it only goes past 4
# when USB hands them back: it growing means rx0 moves end to end. (GET_STATS through
# daemon_probe needs the interface, which a running capture holds.)
adc_blocks() { cat "$adc/sim_blocks"; }
verified_capture() {
	iiousb capture rx0 -n "$2" -o /dev/null --verify 2> /tmp/err.txt
	rc=$?
	[ $rc = 0 ] || { cat /tmp/err.txt; daemon_show_log | tail -30; die "$1: $2 verified capture exited $rc"; }
	grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "$1: no 'pattern OK'"; }
	grep -q -E "verify: first sample 0($|[^0-9])" /tmp/err.txt || { cat /tmp/err.txt; die "$1: the capture did not start at sample 0"; }
}
# background_capture SECONDS: a capture of rx0 in the background (CAP), once it started.
background_capture() {
	started=$(count "started")
	iiousb capture rx0 -o /dev/null -t "$1" 2> /tmp/cap.txt &
	CAP=$!
	wait_count "started" "$started" 10 "capture"
	sleep 1
}
stop_capture() {
	kill -INT "$CAP" 2>/dev/null
	wait "$CAP" 2>/dev/null
}

# --- a. the ADC stalls, then works again -------------------------------------------------
t0=$(now)
background_capture 60
stalls=$(count "IIOUSB_EVENT=iio-stalled")
started=$(count "started")
echo 1 > "$adc/sim_stall"
t_stall=$(now)
wait_count "IIOUSB_EVENT=iio-stalled" "$stalls" $((T + 5)) "a. stalled ADC"
t_event=$(now)
line=$(grep "IIOUSB_EVENT=iio-stalled" "$DAEMON_LOG" | tail -1)
log "a. event after $(elapsed "$t_stall" "$t_event")s: $line"
case "$line" in *"Stream rx0: IIO device iio-sim-adc (iio:device"*") completed no block in "*" s with "*" queued; restarting the stream (restart 1 of 3)"*"IIOUSB_STREAM=rx0"*"IIOUSB_DEVICE=iio-sim-adc"*) ;;
*) die "a. unexpected iio-stalled line: $line" ;; esac
# The ADC works again as soon as the daemon has decided to restart it. The restarted stream
# has a new stall-timeout, and this shell can see the event late: in a CI run on the debug
# kernel it saw it 3 s after the daemon logged it, the ADC was still stalled when the
# restarted stream's T seconds were up, and a second iio-stalled (restart 2 of 3) was right.
# What must not come is an iio-stalled once the ADC works again.
echo 0 > "$adc/sim_stall"
lifted=$(count "IIOUSB_EVENT=iio-stalled")
wait_count "started" "$started" 5 "a. the restart"
b1=$(adc_blocks)
sleep 2
b2=$(adc_blocks)
[ "$b2" -gt $((b1 + 8)) ] || { daemon_show_log | tail -30; die "a. rx0 does not move after sim_stall=0 (ADC blocks $b1 -> $b2)"; }
kill -0 "$CAP" 2>/dev/null || { cat /tmp/cap.txt; die "a. the capture ended during the stall"; }
[ "$(count "IIOUSB_EVENT=iio-stalled")" = "$lifted" ] ||
	{ grep "IIOUSB_EVENT=iio-stalled" "$DAEMON_LOG" | sed 's/^/  /'; die "a. iio-stalled after the ADC worked again (sim_stall=0)"; }
[ "$lifted" = $((stalls + 1)) ] ||
	log "note: $((lifted - stalls)) iio-stalled before this shell lifted the stall (it saw the first one late)"
stop_capture
alive "a"
verified_capture "a. after the stall" 16MiB
log "a: stall detected in $(elapsed "$t_stall" "$t_event")s (stall-timeout ${T}s), restarted, rx0 moved (ADC blocks $b1 -> $b2 in 2 s), 16 MiB verified from sample 0; $(elapsed "$t0" "$(now)")s"

# --- b. the ADC stays stalled: failed after 3 restarts --------------------------------------
t0=$(now)
background_capture 60
stalls=$(count "IIOUSB_EVENT=iio-stalled")
echo 1 > "$adc/sim_stall"
t_stall=$(now)
wait_count "giving up" "$(count "giving up")" $((4 * (T + 2) + 5)) "b. stalled ADC"
t_failed=$(now)
grep "IIOUSB_EVENT=iio-stalled" "$DAEMON_LOG" | tail -4 | sed 's/^/  /'
[ $(($(count "IIOUSB_EVENT=iio-stalled") - stalls)) = 4 ] || die "b. expected 4 iio-stalled events (3 restarts, then failed)"
grep "IIOUSB_EVENT=iio-stalled" "$DAEMON_LOG" | tail -1 | grep -q "again after 3 restarts without progress; giving up" || die "b. no final reason"
stop_capture # (its STOP leaves a failed stream failed)
st=$(daemon_probe stats 0)
log "b. after $(elapsed "$t_stall" "$t_failed")s: $st"
case "$st" in *state=failed*) ;; *) daemon_show_log | tail -30; die "b. rx0 not failed: $st" ;; esac
echo 0 > "$adc/sim_stall"
alive "b"
verified_capture "b. START after failed" 16MiB
log "b: failed after 3 restarts in $(elapsed "$t_stall" "$t_failed")s; after sim_stall=0 a START verifies from sample 0; $(elapsed "$t0" "$(now)")s"

# --- c. the host stops reading: not a fault -------------------------------------------------
t0=$(now)
background_capture $((HOST_STALL_S + 5))
stalls=$(count "IIOUSB_EVENT=iio-stalled")
idle=$(count "IIOUSB_EVENT=usb-idle")
resumed=$(count "IIOUSB_EVENT=usb-resumed")
started=$(count "started")
kill -STOP "$CAP"
sleep "$HOST_STALL_S"
alive "c. during the host stall"
[ "$(count "IIOUSB_EVENT=usb-idle")" = $((idle + 1)) ] || { daemon_show_log | tail -20; die "c. expected one usb-idle during a ${HOST_STALL_S}s host stall"; }
grep "IIOUSB_EVENT=usb-idle" "$DAEMON_LOG" | tail -1 | sed 's/^/  /'
kill -CONT "$CAP"
wait_count "IIOUSB_EVENT=usb-resumed" "$resumed" 5 "c. SIGCONT"
grep "IIOUSB_EVENT=usb-resumed" "$DAEMON_LOG" | tail -1 | sed 's/^/  /'
wait "$CAP"
rc=$?
cat /tmp/cap.txt | tail -3
[ $rc = 0 ] || die "c. the stalled capture exited $rc"
[ "$(count "IIOUSB_EVENT=iio-stalled")" = "$stalls" ] || die "c. a host stall gave iio-stalled"
[ "$(count "started")" = "$started" ] || die "c. a host stall restarted the stream"
[ "$(count "IIOUSB_EVENT=usb-idle")" = $((idle + 1)) ] || die "c. usb-idle more than once per idle period"
verified_capture "c. after the host stall" 16MiB
log "c: ${HOST_STALL_S}s host stall: one usb-idle, usb-resumed, no restart; 16 MiB verified; $(elapsed "$t0" "$(now)")s"

daemon_stop_and_check_clean
log "daemon_stall: T=${T}s, host stall ${HOST_STALL_S}s in $(elapsed "$t_start" "$(now)")s"
log "daemon_stall: PASS"
