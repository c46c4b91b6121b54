# The demo (./demo.sh): iiousbd with the default configuration, streaming the simulated
# ADC to the host tool, which shows a live MB/s line and checks every sample.
# Argument: SECONDS of capture (20).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

SECONDS_=${1:-20}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
echo "--- iiousbd --config $DAEMON_CONF (the board side)"
daemon_start
daemon_wait_host
echo "--- iiousb list (the host side)"
run iiousb list
echo "--- iiousb info"
run iiousb info
echo "--- iiousb capture rx0 -t $SECONDS_ --verify -o /dev/null"
run iiousb capture rx0 -t "$SECONDS_" --verify -o /dev/null
echo "--- iiousb stats"
run iiousb stats
echo "--- the daemon's log"
daemon_show_log | grep -v 'debug'
daemon_stop_and_check_clean
log "demo: PASS"
