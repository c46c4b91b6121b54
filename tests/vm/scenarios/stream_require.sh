# zero-copy: require on a UDC without scatter-gather (run with --udc stock): START is
# refused with the reason in the log and GET_STATS, nothing is left half set up, and the
# same stream with zero-copy: auto then streams through the copy fallback.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
sed -e 's/zero-copy: auto/zero-copy: require/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
fds_before=$(ls /proc/$DAEMON_PID/fd | wc -l)
iiousb capture rx0 -n 1MiB -o /dev/null 2> /tmp/err.txt && { cat /tmp/err.txt; die "capture started with zero-copy: require on a UDC without SG"; }
cat /tmp/err.txt
grep -q "START.*stalled\|refused\|cannot start" /tmp/err.txt || die "the tool does not say START was refused"
grep -q "cannot import DMABUFs (.*EPERM.*scatter-gather) and zero-copy is 'require'" "$DAEMON_LOG" ||
	{ daemon_show_log; die "the daemon does not say why it refused"; }
iiousb stats rx0 > /tmp/stats.txt
grep -q 'stream 0 "rx0" (rx): failed' /tmp/stats.txt || die "rx0 is not failed: $(cat /tmp/stats.txt)"
daemon_expect "fds after the refused START" "$(ls /proc/$DAEMON_PID/fd | wc -l)" "$fds_before"
[ "$(cat "$(iio_dev_by_name iio-sim-adc)/buffer0/enable")" = 0 ] || die "the IIO buffer was left enabled"
log "require: START refused with the reason, no fd and no enabled buffer left"
daemon_stop_and_check_clean

sed -e 's/sampling_frequency: .*/sampling_frequency: 0/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
run iiousb capture rx0 -n 8MiB -o /dev/null --verify
grep -q "falling back to copying on the USB side" "$DAEMON_LOG" || die "no fallback message"
grep "falling back" "$DAEMON_LOG"
daemon_stop_and_check_clean
log "stream_require: PASS"
