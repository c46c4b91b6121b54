# iiousbd under a real systemd (run.sh --rootfs systemd), with the unit as installed
# (systemd/iiousbd.service.in): Type=notify start reaches "active" only once the gadget is
# bound; `systemctl status` shows the live STATUS= line; the journal carries our fields;
# a SIGSTOPped daemon is killed by the watchdog and restarted with the gadget back;
# `systemctl reload` with a broken config keeps the running one and logs file:line:col;
# `systemctl stop` leaves no gadget and no functionfs mount.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

[ -d /run/systemd/system ] || die "not booted with systemd (run.sh --rootfs systemd)"
UNIT=iiousbd.service
show() { systemctl show -p "$1" --value "$UNIT"; }
status_print() { systemctl --no-pager status "$UNIT" 2>&1 | sed 's/^/  status| /'; }
journal() { journalctl --no-pager -u "$UNIT" "$@"; }
fail_with_journal() {
	status_print
	journal -n 60 | sed 's/^/  journal| /'
	die "$*"
}
# wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_for() {
	limit=$(($1 * 5))
	what=$2
	shift 2
	n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -le $limit ] || fail_with_journal "timed out after $((limit / 5)) s waiting for $what"
		sleep 0.2
	done
}

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim.ko not built"
systemd-analyze verify "/lib/systemd/system/$UNIT" 2>&1 | sed 's/^/  verify| /'
log "hardening: $(systemd-analyze security --no-pager "$UNIT" 2>&1 | tail -n 1)"

# --- start: active only once the gadget is bound ----------------------------------------
t0=$(now)
systemctl start "$UNIT" &
start_pid=$!
samples=0
seen_activating=0
while kill -0 "$start_pid" 2>/dev/null; do
	state=$(show ActiveState)
	udc=$(cat "$DAEMON_GADGET/UDC" 2>/dev/null)
	[ "$state" = activating ] && seen_activating=1
	if [ "$state" = active ] && [ -z "$udc" ]; then
		fail_with_journal "the unit is active while the gadget is not bound"
	fi
	samples=$((samples + 1))
	sleep 0.05
done
wait "$start_pid" || fail_with_journal "systemctl start $UNIT failed"
start_s=$(elapsed "$t0" "$(now)")
daemon_expect "ActiveState after start" "$(show ActiveState)" active
udc=$(cat "$DAEMON_GADGET/UDC")
[ -n "$udc" ] || fail_with_journal "active but $DAEMON_GADGET/UDC is empty"
pid1=$(show MainPID)
log "start: systemctl start returned after ${start_s}s; active with the gadget bound to $udc" \
	"(pid $pid1; $samples samples while starting, activating seen: $seen_activating)"

# --- live STATUS --------------------------------------------------------------------------
daemon_wait_host
# The host streams rx0 for a while (the default config: 1 MS/s x 8 bytes).
iiousb capture rx0 -t 20 -q -o /dev/null 2> /tmp/capture.txt &
cap_pid=$!
status_has() { show StatusText | grep -q "$1"; }
# The status timer runs every 5 s; the rate is measured between two of its ticks.
wait_for 15 "STATUS with the host connected and rx0 running at a non-zero rate" \
	status_has "^Gadget iiousb bound to $udc, host connected; rx0 running \([1-9][0-9]*\.[0-9]\|0\.[1-9]\) MB/s, tx0 stopped$"
status_print
systemctl --no-pager status "$UNIT" | grep -q "Status: \"Gadget iiousb bound to $udc, host connected; rx0 running" ||
	fail_with_journal "systemctl status does not show the STATUS line"
log "status: $(show StatusText)"

# --- journal fields -----------------------------------------------------------------------
journal_has() { journal "$@" -o verbose 2>/dev/null | grep -q .; }
wait_for 10 "the start event in the journal" journal_has IIOUSB_EVENT=start IIOUSB_STREAM=rx0
journal IIOUSB_EVENT=start -o verbose > /tmp/start.txt
sed 's/^/  verbose| /' /tmp/start.txt
for f in "PRIORITY=6" "IIOUSB_STREAM=rx0" "IIOUSB_DEVICE=iio-sim-adc" "IIOUSB_EVENT=start" \
	"CODE_FILE=daemon/control/ControlProtocol.cpp" "CODE_FUNC=handle" "IIOUSB_CATEGORY=control" \
	"SYSLOG_IDENTIFIER=iiousbd" "MESSAGE=control: Stream rx0 started by the host"; do
	grep -q "^    $f\$" /tmp/start.txt || fail_with_journal "the start entry lacks $f"
done
grep -q '^    CODE_LINE=[0-9][0-9]*$' /tmp/start.txt || fail_with_journal "the start entry lacks CODE_LINE"
for f in CODE_FILE CODE_LINE CODE_FUNC MESSAGE PRIORITY; do
	daemon_expect "$f fields in the start entry" "$(grep -c "^    $f=" /tmp/start.txt)" 1
done
wait "$cap_pid" || { cat /tmp/capture.txt; fail_with_journal "iiousb capture rx0 failed"; }
sed 's/^/  capture| /' /tmp/capture.txt
wait_for 10 "the stop event in the journal" journal_has IIOUSB_EVENT=stop IIOUSB_STREAM=rx0
journal IIOUSB_STREAM=rx0 -o short-monotonic | sed 's/^/  journal| /'
log "journal: start/stop entries with IIOUSB_STREAM, IIOUSB_DEVICE, IIOUSB_EVENT, CODE_*, PRIORITY"

# --- reload with a broken config ----------------------------------------------------------
cp "$DAEMON_CONF" /tmp/iiousbd.yaml.good
printf 'gadget:\n  vid: 0x1d6b\n  pid: 0x0104\n  max-power: lots\nstreams: []\n' > "$DAEMON_CONF"
systemctl reload "$UNIT" || fail_with_journal "systemctl reload failed"
journal_grep() { journal -o cat | grep -q "$1"; }
wait_for 10 "the reload's verdict" journal_grep 'Keeping the running configuration'
journal -o cat | grep -q "$DAEMON_CONF:4:14: gadget.max-power: expected an integer 0..900, got .lots." ||
	fail_with_journal "the reload error does not name file:line:column"
journal -o verbose -p err --grep 'max-power' | grep -q '^    PRIORITY=3$' ||
	fail_with_journal "the reload error is not logged at priority err"
daemon_expect "ActiveState after a bad reload" "$(show ActiveState)" active
daemon_expect "MainPID after a bad reload" "$(show MainPID)" "$pid1"
[ -n "$(cat "$DAEMON_GADGET/UDC")" ] || fail_with_journal "the gadget is unbound after a bad reload"
cp /tmp/iiousbd.yaml.good "$DAEMON_CONF"
log "reload: $(journal -o cat | grep "$DAEMON_CONF:4:14" | tail -n 1); still active, same pid, gadget bound"

# --- watchdog -----------------------------------------------------------------------------
wd=$(show WatchdogUSec)
log "watchdog: WatchdogUSec=$wd; SIGSTOP to pid $pid1"
t0=$(now)
kill -STOP "$pid1"
restarted() {
	p=$(show MainPID)
	[ "$p" != 0 ] && [ "$p" != "$pid1" ] && [ "$(show ActiveState)" = active ]
}
wait_for 60 "the watchdog to restart the daemon" restarted
pid2=$(show MainPID)
restart_s=$(elapsed "$t0" "$(now)")
[ -n "$(cat "$DAEMON_GADGET/UDC")" ] || fail_with_journal "restarted but the gadget is not bound"
daemon_expect NRestarts "$(show NRestarts)" 1
journal -o cat | grep -q 'Watchdog timeout' || fail_with_journal "no watchdog timeout in the journal"
daemon_wait_host
daemon_probe info > /dev/null || fail_with_journal "GET_INFO after the watchdog restart failed"
journal -o short-monotonic | grep -iE 'watchdog|Main process exited|Scheduled restart|stale|Ready' |
	sed 's/^/  journal| /'
log "watchdog: killed and restarted in ${restart_s}s (pid $pid1 -> $pid2), gadget bound again, host enumerated it"

# --- stop ---------------------------------------------------------------------------------
t0=$(now)
systemctl stop "$UNIT" || fail_with_journal "systemctl stop failed"
stop_s=$(elapsed "$t0" "$(now)")
daemon_expect "ActiveState after stop" "$(show ActiveState)" inactive
[ ! -e "$DAEMON_GADGET" ] || fail_with_journal "stop left $DAEMON_GADGET behind"
[ -z "$(ls /sys/kernel/config/usb_gadget)" ] ||
	fail_with_journal "gadgets left: $(ls /sys/kernel/config/usb_gadget)"
# The daemon mounts FunctionFS in the service's own mount namespace; none may be left in
# any namespace.
for m in /proc/[0-9]*/mounts; do
	! grep -q ' functionfs ' "$m" 2>/dev/null || fail_with_journal "$m still has a functionfs mount"
done
journal -o cat | grep -q 'Tearing the gadget down' || fail_with_journal "no ordered teardown logged"
daemon_wait_host_gone "stop"
status_print
log "stop: inactive after ${stop_s}s; no gadget in configfs, no functionfs mount, host device gone"
log "systemd_service: PASS (start ${start_s}s, watchdog restart ${restart_s}s, stop ${stop_s}s)"
