# The Debian packages under systemd (run.sh --rootfs systemd --debs DIR, DIR from
# tests/packaging/build-debs.sh): iiousbd's files are where the package puts them
# (/usr/sbin/iiousbd, /lib/systemd/system/iiousbd.service pointing at them, the conffile
# /etc/iiousbd/iiousbd.yaml), the unit is installed but not enabled, `systemctl enable
# --now` brings the gadget up (active only once bound) and the host enumerates it and
# reads it with the packaged host tool (/usr/bin/iiousb), and `systemctl disable --now`
# removes the gadget. (The maintainer scripts do not run in the guest: mkrootfs-systemd.sh.)
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

[ -d /run/systemd/system ] || die "not booted with systemd (run.sh --rootfs systemd)"
UNIT=iiousbd.service
UNIT_FILE=/lib/systemd/system/$UNIT
show() { systemctl show -p "$1" --value "$UNIT"; }
fail_with_journal() {
	systemctl --no-pager status "$UNIT" 2>&1 | sed 's/^/  status| /'
	journalctl --no-pager -u "$UNIT" -n 60 | sed 's/^/  journal| /'
	die "$*"
}

# --- the package's files ------------------------------------------------------------------
[ -x /usr/sbin/iiousbd ] || die "/usr/sbin/iiousbd missing: not booted with --debs?"
grep -qx 'ExecStart=/usr/sbin/iiousbd --config /etc/iiousbd/iiousbd.yaml' "$UNIT_FILE" ||
	die "$UNIT_FILE is not the package's: $(grep '^ExecStart=' "$UNIT_FILE")"
grep -qx 'Documentation=file:///usr/share/doc/iiousbd/operations.md' "$UNIT_FILE" ||
	die "$UNIT_FILE: Documentation= is not the package's doc"
[ -f /usr/share/doc/iiousbd/operations.md ] || die "the unit's Documentation= file is missing"
log "package: $(/usr/sbin/iiousbd --version), $(/usr/bin/iiousb --version)"
/usr/sbin/iiousbd --check-config /etc/iiousbd/iiousbd.yaml || die "the packaged config does not check"
systemd-analyze verify "$UNIT_FILE" 2>&1 | sed 's/^/  verify| /'
daemon_expect "is-enabled after install" "$(systemctl is-enabled "$UNIT" 2>&1)" disabled
daemon_expect "ActiveState after install" "$(show ActiveState)" inactive

# --- enable --now -------------------------------------------------------------------------
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim.ko not built"
t0=$(now)
systemctl enable --now "$UNIT" 2>&1 | sed 's/^/  systemctl| /'
daemon_expect "is-enabled" "$(systemctl is-enabled "$UNIT")" enabled
daemon_expect "ActiveState after enable --now" "$(show ActiveState)" active
udc=$(cat "$DAEMON_GADGET/UDC" 2> /dev/null)
[ -n "$udc" ] || fail_with_journal "active but the gadget is not bound"
daemon_expect "the service's binary" "$(readlink "/proc/$(show MainPID)/exe")" /usr/sbin/iiousbd
log "enable --now: active with the gadget bound to $udc in $(elapsed "$t0" "$(now)")s"

# --- the host side, with the packaged host tool -------------------------------------------
daemon_wait_host
/usr/bin/iiousb list > /tmp/list.txt 2>&1 || { cat /tmp/list.txt; fail_with_journal "iiousb list failed"; }
sed 's/^/  iiousb list| /' /tmp/list.txt
grep -q 0001 /tmp/list.txt || fail_with_journal "iiousb list does not show the gadget (serial 0001)"
/usr/bin/iiousb capture rx0 -n 1M -q -o /tmp/rx0.bin --verify ||
	fail_with_journal "iiousb capture rx0 --verify failed"
log "host: iiousb list sees the gadget, capture rx0 of $(wc -c < /tmp/rx0.bin) bytes verified"

# --- disable --now ------------------------------------------------------------------------
systemctl disable --now "$UNIT" 2>&1 | sed 's/^/  systemctl| /'
daemon_expect "ActiveState after disable --now" "$(show ActiveState)" inactive
daemon_expect "is-enabled after disable" "$(systemctl is-enabled "$UNIT" 2>&1)" disabled
[ ! -e "$DAEMON_GADGET" ] || fail_with_journal "stop left $DAEMON_GADGET behind"
daemon_wait_host_gone "disable --now"
log "debs_systemd: PASS"
