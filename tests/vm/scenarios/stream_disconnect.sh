# The host vanishes mid-stream: the gadget is soft-disconnected from the bus while
# `iiousb capture` (rx0) and then `iiousb play` (tx0) run. The daemon must stop the stream
# cleanly (every block recovered, fd count unchanged), come back when the bus does, and
# stream again, verified. Arguments: ROUNDS (2) METHOD: unbind (the gadget's UDC is
# unbound and bound again) or soft (the UDC's soft_connect).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

ROUNDS=${1:-2}
METHOD=${2:-unbind}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
sed -e 's/sampling_frequency: .*/sampling_frequency: 0/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
udc=$(cat "$DAEMON_GADGET/UDC")
fds_before=$(ls /proc/$DAEMON_PID/fd | wc -l)
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"

# disconnect_during CMD...: run CMD in the background, pull the plug 2 s in, expect CMD to
# report the disconnect, plug back in.
disconnect_during() {
	started=$(grep -c "started" "$DAEMON_LOG")
	"$@" 2> /tmp/err.txt &
	pid=$!
	# Pull the plug once the stream runs (the daemon logs its start), plus a second.
	n=0
	while [ "$(grep -c "started" "$DAEMON_LOG")" = "$started" ]; do
		n=$((n + 1))
		[ $n -le 600 ] || { cat /tmp/err.txt; die "'$*' did not start a stream in 60 s"; }
		sleep 0.1
	done
	sleep 1
	kill -0 $pid 2>/dev/null || { cat /tmp/err.txt; die "'$*' ended before the disconnect"; }
	if [ "$METHOD" = soft ]; then
		echo disconnect > "/sys/class/udc/$udc/soft_connect"
	else
		echo "" > "$DAEMON_GADGET/UDC"
	fi
	wait $pid
	rc=$?
	cat /tmp/err.txt
	[ $rc != 0 ] || die "'$*' exited 0 although the device went away"
	grep -q 'disconnected mid-stream' /tmp/err.txt || die "no 'disconnected mid-stream' from '$*'"
	daemon_wait_host_gone "the disconnect"
	kill -0 "$DAEMON_PID" || die "iiousbd died on the disconnect"
	if [ "$METHOD" = soft ]; then
		echo connect > "/sys/class/udc/$udc/soft_connect"
	else
		echo "$udc" > "$DAEMON_GADGET/UDC"
	fi
	daemon_wait_host
}

round=1
while [ $round -le "$ROUNDS" ]; do
	disconnect_during iiousb capture rx0 -o /dev/null
	disconnect_during sh -c "iiosim_gen f 1073741824 | iiousb play tx0 -i -"
	# Both streams stopped, and they stream again, verified.
	iiousb stats > /tmp/stats.txt || die "stats after reconnect"
	cat /tmp/stats.txt
	grep -q 'stream 0 "rx0" (rx): stopped' /tmp/stats.txt || die "rx0 not stopped after the disconnect"
	grep -q 'stream 1 "tx0" (tx): stopped' /tmp/stats.txt || die "tx0 not stopped after the disconnect"
	iiousb capture rx0 -n 16MiB -o /dev/null --verify 2> /tmp/err.txt || { cat /tmp/err.txt; die "capture after reconnect"; }
	grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "capture after reconnect: pattern"; }
	echo 1 > "$dac/sim_reset"
	iiosim_gen f 8388608 | iiousb play tx0 -i - 2> /tmp/err.txt || { cat /tmp/err.txt; die "play after reconnect"; }
	daemon_expect "DAC bytes after reconnect" "$(cat "$dac/sim_bytes")" 8388608
	daemon_expect "DAC errors after reconnect" "$(cat "$dac/sim_errors")" 0
	fds=$(ls /proc/$DAEMON_PID/fd | wc -l)
	daemon_expect "daemon fd count after round $round" "$fds" "$fds_before"
	log "round $round: rx0 and tx0 survived a disconnect mid-stream; 16 MiB RX verified, 8 MiB TX checked by the DAC, $fds fds"
	round=$((round + 1))
done
daemon_show_log | grep -E 'stream|Stream|DISABLE|ENABLE|UNBIND|SUSPEND' | grep -v -E "(Answered|Acknowledged) "
daemon_stop_and_check_clean
log "stream_disconnect: PASS"
