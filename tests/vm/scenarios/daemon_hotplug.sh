# UDC hotplug: iiousbd starts before any UDC exists (READY, waiting for one), binds the UDC
# when its module is loaded, and survives, ROUNDS times (2), the UDC going away mid-stream
# (its platform device unbound from the driver, as a UDC driver reload or an OTG role switch
# does) and coming back, then the UDC module unloaded and loaded again between streams.
# Each time the gadget comes back, the host enumerates it and a capture is verified from
# its first byte; the daemon's fd and DMABUF counts come back to their baseline. Then FRESH
# times (3) the daemon starts again before any UDC and binds the UDC when it is loaded: the
# kernel announces a UDC before its gadget device can take a gadget (usb_add_gadget()), and a
# bind in between fails with EBUSY, which the daemon tries again (CI met that window once).
# (dummy_hcd is the host controller too: unloading it while the host tool has usbfs memory
# mapped oopses in usbcore's hcd_buffer_free_pages() at munmap, a host-side bug unrelated
# to the gadget; the module is therefore unloaded only while no host program runs.)
# Arguments: ROUNDS FRESH.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

ROUNDS=${1:-2}
FRESH=${2:-3}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
ss=0
[ "${IIOUSB_SPEED:-hs}" = ss ] && ss=1
# load_udc_module: the UDC alone (everything else stays loaded).
load_udc_module() {
	if [ "${IIOUSB_UDC:-patched}" = stock ]; then
		modprobe dummy_hcd is_super_speed=$ss || die "modprobe dummy_hcd"
	else
		load_own dummy_hcd is_super_speed=$ss
	fi
}
rmmod dummy_hcd || die "rmmod dummy_hcd"
[ -z "$(ls /sys/class/udc)" ] || die "a UDC is left: $(ls /sys/class/udc)"

sed -e 's/sampling_frequency: .*/sampling_frequency: 0/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
# start_waiting: iiousbd started while there is no UDC; returns once it is READY and waiting.
start_waiting() {
	readies=$(cat "$DAEMON_LOG" 2> /dev/null | grep -c 'Ready: gadget waiting for a UDC')
	iiousbd --config /tmp/iiousbd.yaml --log-level debug >> "$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	n=0
	until [ "$(grep -c 'Ready: gadget waiting for a UDC' "$DAEMON_LOG")" -gt "$readies" ]; do
		n=$((n + 1))
		[ $n -le 300 ] && kill -0 $DAEMON_PID 2> /dev/null || { daemon_show_log; die "no 'Ready: gadget waiting for a UDC'"; }
		sleep 0.1
	done
}
t0=$(now)
start_waiting
grep -q 'waiting for any free UDC to appear' "$DAEMON_LOG" || { daemon_show_log; die "no 'waiting for' line"; }
daemon_expect "UDC while there is none" "$(cat "$DAEMON_GADGET/UDC")" ""
log "no UDC at start: READY in $(elapsed "$t0" "$(now)")s, gadget set up and waiting"
daemon_baseline

# capture_verified WHAT: 16 MiB from rx0, every sample checked.
capture_verified() {
	iiousb capture rx0 -n 16MiB -o /dev/null --verify 2> /tmp/err.txt || { cat /tmp/err.txt; daemon_show_log; die "capture $1"; }
	grep -q "pattern OK" /tmp/err.txt || { cat /tmp/err.txt; die "capture $1: pattern"; }
	log "capture $1: 16 MiB verified ($(grep -o '[0-9.]* MB/s' /tmp/err.txt | tail -n 1))"
}

t0=$(now)
load_udc_module
daemon_wait_host
udc=$(cat "$DAEMON_GADGET/UDC")
log "UDC $udc loaded after the daemon: bound and enumerated in $(elapsed "$t0" "$(now)")s"
grep -q "Gadget 'iiousb' bound to $udc" "$DAEMON_LOG" || { daemon_show_log; die "the late bind is not logged"; }
capture_verified "after the late UDC"

round=1
while [ $round -le "$ROUNDS" ]; do
	started=$(grep -c "started" "$DAEMON_LOG")
	iiousb capture rx0 -o /dev/null 2> /tmp/err.txt &
	cap=$!
	daemon_wait_log "started" $((started + 1)) "round $round: the capture" 30
	sleep 1
	unbinds=$(grep -c 'its UDC went away' "$DAEMON_LOG")
	echo "$udc" > /sys/bus/platform/drivers/dummy_udc/unbind || die "round $round: unbinding $udc mid-stream"
	wait $cap && die "round $round: the capture exited 0 although the UDC went away"
	kill -0 $DAEMON_PID || { daemon_show_log; die "round $round: iiousbd died with its UDC"; }
	wait_unbind() {
		daemon_wait_log 'its UDC went away' $((unbinds + 1)) "round $round: UNBIND after $1"
		unbinds=$(grep -c 'its UDC went away' "$DAEMON_LOG")
	}
	wait_unbind "the UDC's driver unbind"
	iiousb stats > /dev/null 2>&1 && die "round $round: a device answers without a UDC"
	t0=$(now)
	echo "$udc" > /sys/bus/platform/drivers/dummy_udc/bind || die "round $round: binding $udc again"
	daemon_wait_host
	log "round $round: UDC driver unbound mid-stream and bound again: gadget back in $(elapsed "$t0" "$(now)")s"
	capture_verified "after the UDC came back (round $round)"
	rmmod dummy_hcd || die "round $round: rmmod dummy_hcd"
	wait_unbind "rmmod dummy_hcd"
	t0=$(now)
	load_udc_module
	daemon_wait_host
	log "round $round: UDC module unloaded and loaded again: gadget back in $(elapsed "$t0" "$(now)")s"
	capture_verified "after round $round"
	iiousb stats > /tmp/stats.txt || die "stats after round $round"
	grep -q 'stream 0 "rx0" (rx): stopped' /tmp/stats.txt || { cat /tmp/stats.txt; die "rx0 not stopped after round $round"; }
	daemon_back_to_baseline "after round $round"
	round=$((round + 1))
done
daemon_show_log | grep -E 'UDC|BIND|Ready|udc' | grep -v -E "(Answered|Acknowledged) "
daemon_stop_and_check_clean

fresh=1
while [ $fresh -le "$FRESH" ]; do
	rmmod dummy_hcd || die "fresh bind $fresh: rmmod dummy_hcd"
	start_waiting
	bound=$(grep -c "Gadget 'iiousb' bound to" "$DAEMON_LOG")
	t0=$(now)
	load_udc_module
	daemon_wait_host
	daemon_wait_log "Gadget 'iiousb' bound to" $((bound + 1)) "fresh bind $fresh"
	log "fresh bind $fresh: UDC loaded after the daemon started, bound and enumerated in $(elapsed "$t0" "$(now)")s"
	daemon_stop_and_check_clean
	fresh=$((fresh + 1))
done
! grep -q 'error session: Failed to bind' "$DAEMON_LOG" || { daemon_show_log; die "a bind failed"; }
log "fresh binds: $((FRESH + 1)), $(grep -c 'not ready for a gadget yet' "$DAEMON_LOG") of them tried again after EBUSY"
log "daemon_hotplug: PASS ($ROUNDS rounds, fds $DAEMON_FDS_BEFORE, DMABUFs $DAEMON_DMABUFS_BEFORE)"
