# Cyclic output: `iiousb play tx0 --cyclic` uploads a waveform once (START_CYCLIC, one bulk
# transfer) and iiousbd hands it to the DAC with IIO_BUFFER_DMABUF_CYCLIC; iio-sim checks
# every pass. Then a waveform larger than a block is repeated from the host instead.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
daemon_start
daemon_wait_host
fds_before=$(ls /proc/$DAEMON_PID/fd | wc -l)
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
rate=$(cat "$dac/sampling_frequency" 2>/dev/null || echo "?")

iiosim_gen f 65536 > /tmp/wave.bin
echo 1 > "$dac/sim_reset"
iiousb play tx0 -i /tmp/wave.bin --cyclic -t 3 2> /tmp/err.txt
rc=$?
cat /tmp/err.txt
[ $rc = 0 ] || { daemon_show_log; die "play --cyclic exited $rc"; }
grep -q "cyclic waveform of 65536 bytes uploaded once" /tmp/err.txt || die "the waveform was not played by the device"
passes=$(cat "$dac/sim_blocks")
bytes=$(cat "$dac/sim_bytes")
errors=$(cat "$dac/sim_errors")
log "cyclic: the DAC ($rate Hz) played the 64 KiB waveform $passes times ($bytes bytes), $errors errors"
[ "$passes" -ge 10 ] || die "only $passes passes over the cyclic waveform in 3 s"
daemon_expect "cyclic: bytes" "$bytes" "$((passes * 65536))"
daemon_expect "cyclic: DAC errors" "$errors" 0
grep -q "Stream tx0 started (cyclic): IIO side zero-copy" "$DAEMON_LOG" || { daemon_show_log; die "no cyclic start in the log"; }
iiousb stats tx0 | grep -q '(tx): stopped' || die "tx0 not stopped after play --cyclic"

# A waveform of more than one block: repeated from the host, said so.
iiosim_gen f 1572864 > /tmp/big.bin
iiousb play tx0 -i /tmp/big.bin --cyclic -t 2 2> /tmp/err.txt || { cat /tmp/err.txt; die "host-side cyclic play failed"; }
cat /tmp/err.txt
grep -q "repeating it from the host" /tmp/err.txt || die "no note about host-side repetition"

daemon_expect "fds after the cyclic runs" "$(ls /proc/$DAEMON_PID/fd | wc -l)" "$fds_before"
daemon_stop_and_check_clean
log "stream_cyclic: PASS"
