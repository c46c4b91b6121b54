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

# daemon_setup [IIO_SIM_PARAM=VALUE...]: load the UDC and, when it is built, iio-sim with
# those module parameters (DAEMON_SIM=1); without it the streams' IIO devices are missing
# and the daemon must still come up with failed streams.
daemon_setup() {
	load_udc
	if [ -f "$IIOUSB_MODDIR/iio-sim.ko" ]; then
		load_iio_sim "$@"
		DAEMON_SIM=1
		log "iio-sim loaded: $(for d in /sys/bus/iio/devices/iio:device*; do cat "$d/name"; done | tr '\n' ' ')"
	else
		DAEMON_SIM=0
		log "iio-sim.ko not built: the streams will be failed"
	fi
}

# The daemon's log without the one-line-per-GET_INFO-slice debug lines.
daemon_show_log() {
	grep -v -E 'debug (session|function): (Answered|Acknowledged) ' "$DAEMON_LOG" | sed 's/^/  iiousbd| /'
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

# daemon_wait_log PATTERN COUNT WHAT [SECONDS]: wait until PATTERN is in the daemon's log
# at least COUNT times (default 10 s).
daemon_wait_log() {
	n=0
	until [ "$(grep -c -- "$1" "$DAEMON_LOG")" -ge "$2" ]; do
		n=$((n + 1))
		[ $n -le $((${4:-10} * 10)) ] ||
			{ daemon_show_log; die "$3: no '$1' (x$2) in the daemon's log after ${4:-10} s"; }
		sleep 0.1
	done
}

# --- Resources: the daemon's fds and the system's DMABUFs ------------------------------------
DAEMON_BUFINFO=/sys/kernel/debug/dma_buf/bufinfo
grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
daemon_fd_count() { ls "/proc/$DAEMON_PID/fd" | wc -l; }
# The DMABUFs in the system (debugfs) or, without debugfs, the daemon's fds on DMABUFs.
daemon_dmabuf_count() {
	if [ -r "$DAEMON_BUFINFO" ]; then
		sed -n 's/^Total \([0-9]*\) objects.*/\1/p' "$DAEMON_BUFINFO"
	else
		ls -l "/proc/$DAEMON_PID/fd" | grep -c 'dmabuf'
	fi
}
# daemon_baseline: DAEMON_FDS_BEFORE and DAEMON_DMABUFS_BEFORE, for daemon_back_to_baseline.
daemon_baseline() {
	DAEMON_FDS_BEFORE=$(daemon_fd_count)
	DAEMON_DMABUFS_BEFORE=$(daemon_dmabuf_count)
}
# daemon_back_to_baseline WHAT: the daemon's fds and the DMABUFs back to the baseline within
# 10 s (a DMABUF may be released a little after its last fd is closed); sets DAEMON_FDS and
# DAEMON_DMABUFS.
daemon_back_to_baseline() {
	n=0
	while :; do
		DAEMON_FDS=$(daemon_fd_count)
		DAEMON_DMABUFS=$(daemon_dmabuf_count)
		[ "$DAEMON_FDS" = "$DAEMON_FDS_BEFORE" ] && [ "$DAEMON_DMABUFS" = "$DAEMON_DMABUFS_BEFORE" ] && return 0
		n=$((n + 1))
		[ $n -le 100 ] || {
			ls -l "/proc/$DAEMON_PID/fd"
			[ -r "$DAEMON_BUFINFO" ] && cat "$DAEMON_BUFINFO"
			die "$1: $DAEMON_FDS fds (baseline $DAEMON_FDS_BEFORE), $DAEMON_DMABUFS DMABUFs (baseline $DAEMON_DMABUFS_BEFORE) 10 s later"
		}
		sleep 0.1
	done
}

# daemon_rx_conf N BLOCK COUNT FILE: the default configuration's gadget, FunctionFS and
# libiio sections with N rx streams instead of its streams: rxI on iio-sim's ADC I
# (iio-sim-adc, iio-sim-adc1, ...; load iio-sim with adcs=N), all with BLOCK-byte blocks,
# COUNT of them, sampling_frequency 0 (as fast as the simulator goes) and zero-copy: auto.
daemon_rx_conf() {
	sed '/^streams:/,$d' "$DAEMON_CONF" > "$4"
	echo "streams:" >> "$4"
	i=0
	while [ "$i" -lt "$1" ]; do
		dev=iio-sim-adc
		[ "$i" = 0 ] || dev=iio-sim-adc$i
		printf '  - name: rx%s\n    direction: rx\n    device: %s\n    channels: all\n' "$i" "$dev"
		printf '    attributes:\n      sampling_frequency: 0\n'
		printf '    block-size: %s\n    block-count: %s\n    zero-copy: auto\n' "$2" "$3"
		i=$((i + 1))
	done >> "$4"
}

# rx_list N: "rx0,rx1,...", the streams of daemon_rx_conf N for one `iiousb capture`.
rx_list() {
	i=1
	l=rx0
	while [ "$i" -lt "$1" ]; do
		l=$l,rx$i
		i=$((i + 1))
	done
	echo "$l"
}

# --- Memory: the daemon's resident set without its DMABUF mappings ---------------------------
# daemon_rss [PID]: "RSS DMABUF ANON FILE" in KiB: VmRSS minus DMABUF, the Rss of the
# process's mappings of DMABUFs (smaps entries whose name contains dmabuf, udmabuf's
# included; in zero-copy mode the daemon maps none), and VmRSS's RssAnon and RssFile +
# RssShmem (the rig's root is an initramfs: its mapped libraries count as shmem).
daemon_rss() {
	p=${1:-$DAEMON_PID}
	d=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { m = ($0 ~ /dmabuf/) } m && /^Rss:/ { s += $2 } END { print s + 0 }' \
		"/proc/$p/smaps") || return 1
	awk -v d="$d" '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 }
		/^RssShmem:/ { h = $2 } END { print r - d, d, a, f + h }' "/proc/$p/status"
}

# daemon_rss_map [PID]: where the resident memory is: Rss per mapped file (or [heap],
# [stack], anonymous), largest first, in KiB.
daemon_rss_map() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "") ? "[anon]" : $6 }
		/^Rss:/ { r[n] += $2 } END { for (k in r) if (r[k]) print r[k], k }' \
		"/proc/${1:-$DAEMON_PID}/smaps" | sort -rn
}
