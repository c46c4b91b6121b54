# libiio.devices restricts what libiio clients see: with [iio-sim-adc] in the configuration,
# Debian's iio_info lists the ADC only, iio_attr and iio_writedev naming the DAC (by name or
# by id) fail as for a device that does not exist (-ENODEV), iio_readdev of the ADC still
# gets the pattern; the native interface still plays to the DAC.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "libiio_devices needs iio-sim"
adc=$(iio_dev_by_name iio-sim-adc) || die "no iio-sim-adc"
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
dac_id=$(basename "$dac")
# The shipped configuration with `devices: [iio-sim-adc]` in its libiio section.
awk '{ print } /^libiio:/ { print "  devices: [iio-sim-adc]" }' "$DAEMON_CONF" > /tmp/iiousbd.yaml
grep -q '^  devices: \[iio-sim-adc\]' /tmp/iiousbd.yaml || die "no libiio section in $DAEMON_CONF"
run iiousbd --check-config /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host

iio_info -u usb: > /tmp/iio_info.txt 2>&1 || { cat /tmp/iio_info.txt; daemon_show_log; die "iio_info -u usb: failed"; }
sed 's/^/  iio_info| /' /tmp/iio_info.txt | head -30
grep -q 'iio-sim-adc' /tmp/iio_info.txt || die "iio_info: the ADC is missing"
! grep -q 'iio-sim-dac' /tmp/iio_info.txt || die "iio_info lists the hidden DAC"
! grep -q "$dac_id" /tmp/iio_info.txt || die "iio_info lists the hidden DAC's id $dac_id"
grep -q 'IIO context has 1 devices' /tmp/iio_info.txt || die "iio_info: not exactly one device"
log "iio_info: 1 device (iio-sim-adc); iio-sim-dac ($dac_id) hidden"

# A hidden device cannot be reached by name or by id: iio_attr's -u path finds it in the
# context first, so it answers that there is no such device.
for name in iio-sim-dac "$dac_id"; do
	if iio_attr -u usb: -d "$name" sampling_frequency > /tmp/attr.txt 2>&1; then
		cat /tmp/attr.txt
		die "iio_attr of the hidden $name succeeded"
	fi
	sed 's/^/  iio_attr| /' /tmp/attr.txt
done
if iiosim_gen f 65536 | iio_writedev -u usb: -b 1024 -s 8192 iio-sim-dac > /tmp/writedev.txt 2>&1; then
	cat /tmp/writedev.txt
	die "iio_writedev to the hidden DAC succeeded"
fi
sed 's/^/  iio_writedev| /' /tmp/writedev.txt
grep -qi 'not found\|no such device\|Device not found' /tmp/writedev.txt ||
	die "iio_writedev of a hidden device: $(cat /tmp/writedev.txt)"
log "iio_attr and iio_writedev: the hidden DAC is not found"

# The exposed ADC works as ever.
iio_readdev -u usb: -b 16384 -s 65536 iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err ||
	{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev of the exposed ADC failed"; }
run iiosim_verify -m f -n $((65536 * 8)) /tmp/rx.bin
log "iio_readdev of the exposed ADC: $((65536 * 8)) bytes verified"

# The native interface is not restricted: tx0 plays to the DAC.
echo 1 > "$dac/sim_reset"
iiosim_gen f 1048576 | iiousb play tx0 -i - 2> /tmp/play.err ||
	{ cat /tmp/play.err; daemon_show_log; die "iiousb play tx0"; }
daemon_expect "DAC bytes (native tx0)" "$(cat "$dac/sim_bytes")" 1048576
daemon_expect "DAC errors (native tx0)" "$(cat "$dac/sim_errors")" 0
log "native tx0 still plays to the DAC (1048576 bytes counted, 0 errors)"

kill -0 "$DAEMON_PID" || die "iiousbd died"
daemon_stop_and_check_clean
log "libiio_devices: passed"
