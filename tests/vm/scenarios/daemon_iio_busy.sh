# One owner per IIO buffer: another program (iio_hold, standing in for iiod or iio_readdev)
# has the ADC's chardev open and its buffer enabled and running. START of rx0 must fail
# with the reason (EBUSY, naming the holder's PID) without writing anything to the ADC's
# sysfs: the other program's buffer stays enabled and its reads keep getting data; tx0 is
# untouched and streams. Once the other program is gone, rx0 streams, verified. Then a
# reload while the other program holds the ADC again: the new session does not write rx0's
# attributes (sampling_frequency) under it, but at rx0's next START once it is gone.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
cp "$DAEMON_CONF" /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
adc=$(iio_dev_by_name iio-sim-adc) || die "no iio-sim-adc"
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
node=/dev/$(basename "$adc")

# hold_count: the bytes iio_hold has read so far.
hold_count() { grep '^read ' /tmp/hold.txt | tail -1 | cut -d' ' -f2; }

iio_hold "$adc" > /tmp/hold.txt 2>&1 &
HOLD=$!
n=0
until grep -q '^read ' /tmp/hold.txt; do
	kill -0 $HOLD 2> /dev/null || { cat /tmp/hold.txt; die "iio_hold exited"; }
	n=$((n + 1))
	[ $n -le 300 ] || { cat /tmp/hold.txt; die "iio_hold read nothing in 30 s"; }
	sleep 0.1
done
length=$(cat "$adc/buffer0/length")
log "iio_hold (PID $HOLD) holds $node: buffer0 enabled, length $length, $(hold_count) bytes read"

# START of rx0 fails with the reason; nothing written to the ADC's sysfs.
before=$(hold_count)
if iiousb capture rx0 -n 1MiB -o /dev/null 2> /tmp/err.txt; then
	cat /tmp/err.txt
	die "capture of rx0 succeeded while $node was held"
fi
sed 's/^/  capture| /' /tmp/err.txt
grep -q "STALL" /tmp/err.txt || die "the tool does not say START was refused"
want="Stream rx0 failed to start: $node is open by another program (EBUSY): PID $HOLD (iio_hold)"
grep -qF "$want" "$DAEMON_LOG" || { daemon_show_log; die "no '$want' in the log"; }
iiousb stats > /tmp/stats.txt || die "iiousb stats failed"
sed 's/^/  stats| /' /tmp/stats.txt
grep -q '^stream 0 "rx0" (rx): failed' /tmp/stats.txt || die "rx0 is not failed"
daemon_expect "the holder's buffer0/enable" "$(cat "$adc/buffer0/enable")" 1
daemon_expect "the holder's buffer0/length" "$(cat "$adc/buffer0/length")" "$length"
sleep 1
after=$(hold_count)
[ "$after" -gt "$before" ] || die "iio_hold's reads stalled: $before bytes before the START, $after a second after"
kill -0 $HOLD || die "iio_hold died"
log "START of rx0 refused: '$(grep -oF "$node is open by another program (EBUSY): PID $HOLD (iio_hold)" "$DAEMON_LOG" | head -1)'; rx0 failed; iio_hold's buffer still enabled, $before -> $after bytes read"

# tx0, on another device, is untouched.
echo 1 > "$dac/sim_reset"
iiosim_gen f 8388608 | iiousb play tx0 -i - 2> /tmp/err.txt || { cat /tmp/err.txt; daemon_show_log; die "play tx0 while rx0 is failed"; }
daemon_expect "DAC bytes" "$(cat "$dac/sim_bytes")" 8388608
daemon_expect "DAC errors" "$(cat "$dac/sim_errors")" 0
log "tx0 streamed 8 MiB, checked by the DAC, while rx0 was failed"

# The other program goes; rx0 starts again and streams, verified.
kill -TERM $HOLD
wait $HOLD
rc=$?
cat /tmp/hold.txt | tail -2 | sed 's/^/  iio_hold| /'
daemon_expect "iio_hold exit status" "$rc" 0
daemon_expect "buffer0/enable after iio_hold" "$(cat "$adc/buffer0/enable")" 0
t0=$(now)
iiousb capture rx0 -n 16MiB -o /dev/null --verify 2> /tmp/err.txt || { cat /tmp/err.txt; daemon_show_log; die "capture after iio_hold exited"; }
grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "capture after iio_hold exited: pattern"; }
log "after iio_hold exited: rx0 captured 16 MiB, pattern OK, in $(elapsed "$t0" "$(now)")s"
iiousb stats rx0 | sed 's/^/  stats| /'

# A reload (rx0 at 500 kHz) while iio_hold holds the ADC again.
: > /tmp/hold.txt
iio_hold "$adc" > /tmp/hold.txt 2>&1 &
HOLD=$!
n=0
until grep -q '^read ' /tmp/hold.txt; do
	n=$((n + 1))
	[ $n -le 300 ] || { cat /tmp/hold.txt; die "iio_hold read nothing in 30 s"; }
	sleep 0.1
done
rate=$(cat "$adc/sampling_frequency")
bound=$(grep -c 'bound to .* with 2 streams' "$DAEMON_LOG")
sed 's/sampling_frequency: .*/sampling_frequency: 500000/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
kill -HUP "$DAEMON_PID"
daemon_wait_log 'bound to .* with 2 streams' $((bound + 1)) "the reloaded gadget" 30
want="Stream rx0: $node is open by another program (EBUSY): PID $HOLD (iio_hold); its attributes are written at START, not now"
grep -qF "$want" "$DAEMON_LOG" || { daemon_show_log; die "no '$want' in the log"; }
daemon_expect "sampling_frequency under iio_hold after the reload" "$(cat "$adc/sampling_frequency")" "$rate"
daemon_expect "the holder's buffer0/enable after the reload" "$(cat "$adc/buffer0/enable")" 1
before=$(hold_count)
sleep 1
[ "$(hold_count)" -gt "$before" ] || die "iio_hold's reads stalled after the reload"
log "reload while iio_hold holds the ADC: attributes left to START, sampling_frequency still $rate, iio_hold still reading"
kill -TERM $HOLD
wait $HOLD || die "iio_hold failed"
# A buffer left enabled by a program that is gone (killed before it could disable it):
# nobody holds the chardev, so it is stale and the daemon takes it over.
echo 1 > "$adc/buffer0/enable" || die "enabling buffer0 by hand"
daemon_wait_host
iiousb capture rx0 -n 4MiB -o /dev/null --verify 2> /tmp/err.txt || { cat /tmp/err.txt; daemon_show_log; die "capture after the reload"; }
grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "capture after the reload: pattern"; }
daemon_expect "sampling_frequency after rx0's START" "$(cat "$adc/sampling_frequency")" 500000
grep -q "The buffer of iio:device[0-9]* was left enabled by a program that is gone; disabling it" "$DAEMON_LOG" ||
	{ daemon_show_log; die "the stale enabled buffer is not logged"; }
log "after iio_hold exited, buffer0 left enabled by hand: rx0's START took it over and wrote sampling_frequency 500000; 4 MiB captured, pattern OK"

daemon_show_log | grep -E 'Stream|stream|EBUSY|iio' | grep -v Answering
daemon_stop_and_check_clean
log "daemon_iio_busy: PASS"
