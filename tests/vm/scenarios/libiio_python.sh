# guest: python3
# Python libiio clients (Debian's python3-libiio 0.24, the bindings pyadi-iio is built on;
# tests/vm/progs/libiio_py.py) against iiousbd's libiio interface: the context's devices, an
# attribute written and read back, 4 MiB of ADC samples verified word by word, 1 MiB pushed to
# the DAC and counted by it without errors, a cyclic buffer (pyadi-iio's tx_cyclic_buffer)
# played until the script destroys it; the daemon's fds and DMABUFs back to the baseline.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "libiio_python needs iio-sim"
command -v python3 > /dev/null || die "no python3 in the guest (run.sh adds it for '# guest: python3')"
daemon_start
daemon_wait_host
daemon_baseline
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"

libiio_py.py attrs > /tmp/py.txt 2>&1 || { cat /tmp/py.txt; daemon_show_log; die "libiio_py attrs"; }
sed 's/^/  py| /' /tmp/py.txt
grep -q '^devices: .*iio-sim-adc.*iio-sim-dac' /tmp/py.txt || die "python: the context lacks iio-sim's devices"
log "python3-libiio: $(grep sampling_frequency /tmp/py.txt)"

# 16 buffers of 32768 sample sets x 8 bytes: 4 MiB.
bytes=$((16 * 32768 * 8))
libiio_py.py rx 32768 16 2> /tmp/py.err | iiosim_verify -m f -n $bytes ||
	{ cat /tmp/py.err; daemon_show_log; die "python rx: data"; }
log "python rx: $(cat /tmp/py.err), verified"

echo 1 > "$dac/sim_reset"
iiosim_gen f 1048576 > /tmp/tx.bin
libiio_py.py tx /tmp/tx.bin 16384 2> /tmp/py.err || { cat /tmp/py.err; daemon_show_log; die "python tx"; }
dac_bytes=$(cat "$dac/sim_bytes")
daemon_expect "python tx: DAC errors" "$(cat "$dac/sim_errors")" 0
# (The blocks still queued when the buffer is destroyed are dropped by the disable.)
[ "$dac_bytes" -ge 524288 ] || die "python tx: the DAC consumed only $dac_bytes of 1048576 bytes"
log "python tx: $(cat /tmp/py.err); the DAC consumed $dac_bytes bytes, 0 errors"

echo 1 > "$dac/sim_reset"
iiosim_gen f 65536 > /tmp/wave.bin
libiio_py.py cyclic /tmp/wave.bin 3 2> /tmp/py.err || { cat /tmp/py.err; daemon_show_log; die "python cyclic"; }
passes=$(cat "$dac/sim_blocks")
cyc_bytes=$(cat "$dac/sim_bytes")
daemon_expect "python cyclic: DAC errors" "$(cat "$dac/sim_errors")" 0
[ "$cyc_bytes" -ge $((4 * 65536)) ] || die "python cyclic: the DAC played only $cyc_bytes bytes"
daemon_expect "python cyclic: whole passes" "$cyc_bytes" "$((passes * 65536))"
sleep 1
daemon_expect "python cyclic: DAC bytes once the buffer is gone" "$(cat "$dac/sim_bytes")" "$cyc_bytes"
log "python cyclic: the 64 KiB waveform played $passes times in 3 s, 0 errors, stopped with the buffer"

daemon_back_to_baseline "after the python clients"
kill -0 "$DAEMON_PID" || die "iiousbd died"
daemon_stop_and_check_clean
log "libiio_python: passed"
