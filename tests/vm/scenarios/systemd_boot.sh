# The systemd-booted VM itself (run.sh --rootfs systemd): PID 1 is systemd, journald
# answers, the iiousbd unit is known and its settings parse.
. /lib/iiousb/functions.sh
[ -d /run/systemd/system ] || die "not booted with systemd (run.sh --rootfs systemd)"
log "PID 1: $(cat /proc/1/comm); $(systemctl --version | head -n 1)"
log "system state: $(systemctl is-system-running)"
systemctl --no-pager --failed
systemd-analyze verify /lib/systemd/system/iiousbd.service 2>&1 | sed 's/^/  verify| /'
systemctl --no-pager cat iiousbd.service > /dev/null || die "iiousbd.service unknown to systemd"
journalctl --no-pager -n 5 || die "journalctl failed"
log "systemd_boot: PASS"
