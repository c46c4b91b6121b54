# Sourced by the daemon_* scenarios (not a scenario itself): start, check and stop
# iiousbd with /etc/iiousbd/iiousbd.yaml (config/iiousbd.yaml: 1d6b:0104, streams rx0 on
# iio-sim-adc and tx0 on iio-sim-dac). Needs /lib/iiousb/functions.sh first.

DAEMON_CONF=/etc/iiousbd/iiousbd.yaml
DAEMON_GADGET=/sys/kernel/config/usb_gadget/iiousb
DAEMON_MOUNT=/run/iiousbd/ffs
DAEMON_LOG=/tmp/iiousbd.log
DAEMON_ID=1d6b:0104

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }

# Load the UDC and, when it is built, iio-sim (DAEMON_SIM=1); without it the streams'
# IIO devices are missing and the daemon must still come up with failed streams.
daemon_setup() {
	load_udc
	if [ -f "$IIOUSB_MODDIR/iio-sim.ko" ]; then
		load_iio_sim
		DAEMON_SIM=1
		log "iio-sim loaded: $(for d in /sys/bus/iio/devices/iio:device*; do cat "$d/name"; done | tr '\n' ' ')"
	else
		DAEMON_SIM=0
		log "iio-sim.ko not built: the streams will be failed"
	fi
}

# The daemon's log without the one-line-per-GET_INFO-slice debug lines.
daemon_show_log() {
	grep -v -E 'debug session: (Answered|Acknowledged) ' "$DAEMON_LOG" | sed 's/^/  iiousbd| /'
}

# daemon_start [CONFIG]: start iiousbd in the background (DAEMON_PID) and wait until its
# gadget is bound to the UDC; prints the bring-up time.
daemon_start() {
	conf=${1:-$DAEMON_CONF}
	t0=$(now)
	iiousbd --config "$conf" --log-level debug >> "$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	n=0
	# (configfs attributes always have a size: read the UDC name.)
	while [ -z "$(cat "$DAEMON_GADGET/UDC" 2>/dev/null)" ]; do
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			daemon_show_log
			die "iiousbd exited before binding the UDC"
		fi
		n=$((n + 1))
		[ $n -le 600 ] || { daemon_show_log; die "gadget not bound after 60 s"; }
		sleep 0.1
	done
	DAEMON_BOUND_S=$(elapsed "$t0" "$(now)")
	log "bring-up: iiousbd start -> gadget bound to $(cat "$DAEMON_GADGET/UDC") in ${DAEMON_BOUND_S}s"
}

# The host side's sysfs directory of the device, or nothing.
# daemon_wait_host_gone WHAT: the host side stops seeing the gadget within 10 s of WHAT.
daemon_wait_host_gone() {
	n=0
	while daemon_host_dev > /dev/null; do
		n=$((n + 1))
		[ $n -le 100 ] || die "the host still sees $DAEMON_ID 10 s after $1"
		sleep 0.1
	done
}

daemon_host_dev() {
	for d in /sys/bus/usb/devices/*; do
		[ -f "$d/idVendor" ] || continue
		# (The device may go away between the two reads.)
		[ "$(cat "$d/idVendor" 2>/dev/null):$(cat "$d/idProduct" 2>/dev/null)" = "$DAEMON_ID" ] &&
			{ echo "$d"; return 0; }
	done
	return 1
}

# Wait until the host has enumerated and configured the device (DAEMON_HOST_DEV).
daemon_wait_host() {
	t0=$(now)
	n=0
	while :; do
		DAEMON_HOST_DEV=$(daemon_host_dev) && [ -d "$DAEMON_HOST_DEV/$(basename "$DAEMON_HOST_DEV"):1.0" ] && break
		n=$((n + 1))
		[ $n -le 300 ] || { daemon_show_log; die "host did not enumerate $DAEMON_ID in 30 s"; }
		sleep 0.1
	done
	log "host enumerated $DAEMON_ID at $DAEMON_HOST_DEV ($(cat "$DAEMON_HOST_DEV/speed") Mb/s) in $(elapsed "$t0" "$(now)")s"
}

# daemon_expect WHAT ACTUAL EXPECTED
daemon_expect() {
	[ "$2" = "$3" ] || { daemon_show_log; die "$1: got '$2', expected '$3'"; }
}

# Stop with SIGTERM; the daemon must exit 0 and leave nothing behind.
daemon_stop_and_check_clean() {
	t0=$(now)
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	rc=$?
	[ $rc = 0 ] || { daemon_show_log; die "iiousbd exited $rc after SIGTERM"; }
	[ ! -e "$DAEMON_GADGET" ] || die "SIGTERM left $DAEMON_GADGET behind"
	! grep -q ' functionfs ' /proc/mounts || die "SIGTERM left a functionfs mount: $(grep functionfs /proc/mounts)"
	[ -z "$(ls /sys/kernel/config/usb_gadget)" ] || die "gadgets left: $(ls /sys/kernel/config/usb_gadget)"
	daemon_wait_host_gone "SIGTERM"
	log "teardown: SIGTERM -> exit 0 in $(elapsed "$t0" "$(now)")s; no gadget in configfs, no functionfs mount, host device gone"
}
