# The Debian packages under systemd, installed and purged with dpkg (run.sh --rootfs systemd
# --debs DIR, DIR from tests/packaging/build-debs.sh; mkrootfs-systemd.sh puts the .debs in
# /var/cache/iiousb-debs and registers the root's own Debian packages in its dpkg database):
#  - `dpkg -i` of iiousbd and iiousb resolves their Depends (no --force-*) and runs their
#    maintainer scripts: the files are where the packages put them (/usr/sbin/iiousbd,
#    /lib/systemd/system/iiousbd.service pointing at them, the conffile
#    /etc/iiousbd/iiousbd.yaml), deb-systemd-helper recorded the unit, which is installed
#    but neither enabled nor started (dh_installsystemd --no-enable);
#  - `systemctl enable --now` brings the gadget up (active only once bound), the host
#    enumerates it and reads it with the packaged host tool (/usr/bin/iiousb), and
#    `systemctl disable --now` removes the gadget;
#  - `dpkg --purge` with the unit enabled and running stops it (prerm), removes its enable
#    symlink and deb-systemd-helper's state (postrm purge) and the conffile: no gadget in
#    configfs, no functionfs mount in any mount namespace, no iiousbd process, no unit, and
#    the root file system, the mounts, configfs's gadgets and dpkg's package list are as they
#    were before `dpkg -i` (a difference is printed).
# iiousb-dkms is not installed: see below.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

[ -d /run/systemd/system ] || die "not booted with systemd (run.sh --rootfs systemd)"
DEBS=/var/cache/iiousb-debs
UNIT=iiousbd.service
UNIT_FILE=/lib/systemd/system/$UNIT
DSH_STATE=/var/lib/systemd/deb-systemd-helper-enabled/$UNIT.dsh-also
WANTS_LINK=/etc/systemd/system/multi-user.target.wants/$UNIT
# (The guest's sh is busybox's, which runs its own dpkg and dpkg-deb applets for those names
# whatever PATH says: Debian's are called by their paths.)
DPKG=/usr/bin/dpkg
DPKG_DEB=/usr/bin/dpkg-deb
show() { systemctl show -p "$1" --value "$UNIT"; }
fail_with_journal() {
	systemctl --no-pager status "$UNIT" 2>&1 | sed 's/^/  status| /'
	journalctl --no-pager -u "$UNIT" -n 60 | sed 's/^/  journal| /'
	die "$*"
}
# expect WHAT ACTUAL EXPECTED
expect() {
	[ "$2" = "$3" ] || fail_with_journal "$1: got '$2', expected '$3'"
}
# The PIDs of the processes named iiousbd.
iiousbd_pids() {
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2> /dev/null)" = iiousbd ] && echo "${p#/proc/}"
	done
}
# The processes whose mount namespace has a functionfs mount (PID: line).
functionfs_mounts() {
	for p in /proc/[0-9]*; do
		grep -s ' functionfs ' "$p/mounts" | sed "s|^|${p#/proc/}: |"
	done
}
# snapshot DIR: the state the purge must restore, in DIR/{files,mounts,gadgets,packages,info}:
# every entry of the root file system (-xdev: not /proc, /sys, /dev, /run) with its type,
# mode, owner, size (regular files), symlink target, and the md5sum of each file in /etc;
# without what changes by itself (/tmp, /var/log, /var/cache, /var/tmp) and dpkg's database,
# which is compared as the list of packages with their versions and states and the names in
# /var/lib/dpkg/info.
snapshot() {
	mkdir -p "$1"
	find / -xdev \( -path /tmp -o -path /var/log -o -path /var/cache -o -path /var/tmp \
		-o -path /var/lib/dpkg \) -prune -o -print0 |
		xargs -0 stat -c '%N|%F|%a|%u:%g|%s' |
		awk -F'|' -v OFS='|' '$2 != "regular file" { $5 = "-" }
			# (stat quotes a symlink: '\''NAME'\'' -> '\''TARGET'\'')
			$2 == "symbolic link" { gsub(/'\''/, "", $1) } { print }' | sort > "$1/files"
	find /etc -xdev -type f -print0 | xargs -0 md5sum | sort -k 2 >> "$1/files"
	awk '{ print $1, $2, $3 }' /proc/mounts | sort > "$1/mounts"
	ls -A /sys/kernel/config/usb_gadget > "$1/gadgets"
	dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Abbrev}\n' | sort > "$1/packages"
	ls -A /var/lib/dpkg/info | sort > "$1/info"
}

# --- before: the root without the project, its dpkg, the rig ready --------------------------
for f in /usr/sbin/iiousbd /usr/bin/iiousbd /usr/bin/iiousb /etc/iiousbd "$UNIT_FILE"; do
	[ ! -e "$f" ] || die "$f exists before dpkg -i (mkrootfs-systemd.sh --debs leaves the rig's copy out)"
done
expect "LoadState before dpkg -i" "$(show LoadState)" not-found
ls $DEBS/iiousbd_*.deb $DEBS/iiousb_*.deb > /dev/null || die "no packages in $DEBS: not booted with --debs?"
log "dpkg: $($DPKG --version | head -n 1 | sed "s/\.$//"); $(dpkg-query -W | wc -l) packages registered"
# The DKMS package needs dkms, make, patch, linux-source-6.12 and the kernel's headers to
# build its modules in its postinst: the guest has none of them (and runs our modules built
# by the rig). Its build is checked by packaging.debs (build-debs.sh --dkms).
for deb in $DEBS/iiousb-dkms_*.deb; do
	[ -f "$deb" ] || continue
	log "not installing $(basename "$deb"): its postinst builds modules with dkms (Depends:" \
		"$($DPKG_DEB -f "$deb" Depends)), which needs the toolchain and the kernel's headers the" \
		"guest does not have; build-debs.sh --dkms checks that build"
done
# The UDC and iio-sim (and configfs, debugfs) before the snapshot: they stay after the purge.
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim.ko not built"
snapshot /tmp/before
log "snapshot: $(wc -l < /tmp/before/files) file-system entries, $(wc -l < /tmp/before/mounts) mounts," \
	"$(wc -l < /tmp/before/gadgets) gadgets, $(wc -l < /tmp/before/packages) packages"

# --- dpkg -i ----------------------------------------------------------------------------------
t0=$(now)
$DPKG -i $DEBS/iiousbd_*.deb $DEBS/iiousb_*.deb > /tmp/dpkg-i.log 2>&1
rc=$?
sed 's/^/  dpkg -i| /' /tmp/dpkg-i.log
[ $rc = 0 ] || die "dpkg -i exited $rc"
log "dpkg -i iiousbd iiousb: $(elapsed "$t0" "$(now)")s"
for pkg in iiousbd iiousb; do
	expect "dpkg status of $pkg" "$(dpkg-query -W -f '${Status}' $pkg)" "install ok installed"
done
$DPKG --verify iiousbd iiousb > /tmp/verify.log 2>&1 || { cat /tmp/verify.log; die "dpkg --verify failed"; }
[ ! -s /tmp/verify.log ] || { cat /tmp/verify.log; die "dpkg --verify: the installed files differ (above)"; }
# The postinst ran: deb-systemd-helper update-state recorded the unit's enable symlink.
[ -f "$DSH_STATE" ] || die "no $DSH_STATE: iiousbd's postinst did not run deb-systemd-helper"
expect "deb-systemd-helper's state" "$(cat "$DSH_STATE")" "$WANTS_LINK"

# --- the package's files --------------------------------------------------------------------
[ -x /usr/sbin/iiousbd ] || die "/usr/sbin/iiousbd missing after dpkg -i"
grep -qx 'ExecStart=/usr/sbin/iiousbd --config /etc/iiousbd/iiousbd.yaml' "$UNIT_FILE" ||
	die "$UNIT_FILE is not the package's: $(grep '^ExecStart=' "$UNIT_FILE")"
grep -qx 'Documentation=file:///usr/share/doc/iiousbd/operations.md' "$UNIT_FILE" ||
	die "$UNIT_FILE: Documentation= is not the package's doc"
[ -f /usr/share/doc/iiousbd/operations.md ] || die "the unit's Documentation= file is missing"
expect "conffiles of iiousbd" "$(dpkg-query -W -f '${Conffiles}' iiousbd | awk '{ print $1 }' | tr -d '\n')" \
	/etc/iiousbd/iiousbd.yaml
log "package: $(/usr/sbin/iiousbd --version), $(/usr/bin/iiousb --version)"
/usr/sbin/iiousbd --check-config /etc/iiousbd/iiousbd.yaml || die "the packaged config does not check"
systemd-analyze verify "$UNIT_FILE" 2>&1 | sed 's/^/  verify| /'
# Installed, not enabled, not started (dh_installsystemd --no-enable; deb-systemd-invoke
# starts only enabled units).
expect "LoadState after dpkg -i" "$(show LoadState)" loaded
expect "FragmentPath after dpkg -i" "$(show FragmentPath)" "$UNIT_FILE"
expect "is-enabled after dpkg -i" "$(systemctl is-enabled "$UNIT" 2>&1)" disabled
expect "ActiveState after dpkg -i" "$(show ActiveState)" inactive
[ -z "$(iiousbd_pids)" ] || die "iiousbd runs after dpkg -i (PIDs $(iiousbd_pids | tr '\n' ' '))"

# --- enable --now -------------------------------------------------------------------------
# enable_now WHAT: systemctl enable --now; active with the gadget bound, the host sees it.
enable_now() {
	t0=$(now)
	systemctl enable --now "$UNIT" 2>&1 | sed 's/^/  systemctl| /'
	expect "is-enabled ($1)" "$(systemctl is-enabled "$UNIT")" enabled
	[ -L "$WANTS_LINK" ] || fail_with_journal "enabled, but no $WANTS_LINK"
	expect "ActiveState after enable --now ($1)" "$(show ActiveState)" active
	udc=$(cat "$DAEMON_GADGET/UDC" 2> /dev/null)
	[ -n "$udc" ] || fail_with_journal "active but the gadget is not bound ($1)"
	expect "the service's binary ($1)" "$(readlink "/proc/$(show MainPID)/exe")" /usr/sbin/iiousbd
	log "enable --now ($1): active with the gadget bound to $udc in $(elapsed "$t0" "$(now)")s"
	daemon_wait_host
}
enable_now first

# --- the host side, with the packaged host tool -------------------------------------------
/usr/bin/iiousb list > /tmp/list.txt 2>&1 || { cat /tmp/list.txt; fail_with_journal "iiousb list failed"; }
sed 's/^/  iiousb list| /' /tmp/list.txt
grep -q 0001 /tmp/list.txt || fail_with_journal "iiousb list does not show the gadget (serial 0001)"
/usr/bin/iiousb capture rx0 -n 1M -q -o /tmp/rx0.bin --verify ||
	fail_with_journal "iiousb capture rx0 --verify failed"
log "host: iiousb list sees the gadget, capture rx0 of $(wc -c < /tmp/rx0.bin) bytes verified"

# --- disable --now ------------------------------------------------------------------------
systemctl disable --now "$UNIT" 2>&1 | sed 's/^/  systemctl| /'
expect "ActiveState after disable --now" "$(show ActiveState)" inactive
expect "is-enabled after disable" "$(systemctl is-enabled "$UNIT" 2>&1)" disabled
[ ! -e "$DAEMON_GADGET" ] || fail_with_journal "stop left $DAEMON_GADGET behind"
daemon_wait_host_gone "disable --now"
log "disable --now: inactive, gadget removed, host device gone"

# --- dpkg --purge, enabled and running ------------------------------------------------------
enable_now again
pid=$(show MainPID)
# (What the checks below look for is there now: the service's functionfs mount, in its own
# mount namespace, and its process.)
[ -n "$(functionfs_mounts)" ] || fail_with_journal "running, but no functionfs mount in any namespace"
expect "iiousbd processes while running" "$(iiousbd_pids | tr '\n' ' ')" "$pid "
t0=$(now)
$DPKG --purge iiousbd iiousb > /tmp/dpkg-purge.log 2>&1
rc=$?
sed 's/^/  dpkg --purge| /' /tmp/dpkg-purge.log
[ $rc = 0 ] || die "dpkg --purge exited $rc"
log "dpkg --purge iiousbd iiousb (unit enabled and running): $(elapsed "$t0" "$(now)")s"

# --- nothing left behind ------------------------------------------------------------------
for pkg in iiousbd iiousb; do
	st=$(dpkg-query -W -f '${db:Status-Status}' $pkg 2> /dev/null)
	[ -z "$st" ] || [ "$st" = not-installed ] || die "dpkg status of $pkg after purge: $st"
done
[ ! -e "$DAEMON_GADGET" ] || die "purge left $DAEMON_GADGET behind: $(ls "$DAEMON_GADGET")"
[ -z "$(ls -A /sys/kernel/config/usb_gadget)" ] ||
	die "gadgets left in configfs: $(ls -A /sys/kernel/config/usb_gadget)"
[ -z "$(functionfs_mounts)" ] || die "functionfs mounts left: $(functionfs_mounts)"
[ -z "$(iiousbd_pids)" ] || die "iiousbd processes left: $(iiousbd_pids | tr '\n' ' ')"
[ ! -e /run/iiousbd ] || die "the unit's RuntimeDirectory /run/iiousbd is left"
daemon_wait_host_gone "dpkg --purge"
expect "LoadState after purge" "$(show LoadState)" not-found
expect "ActiveState after purge" "$(show ActiveState)" inactive
left=$(find /etc/systemd /lib/systemd /usr/lib/systemd /var/lib/systemd -name 'iiousbd*' 2> /dev/null)
[ -z "$left" ] || die "unit files, enable symlinks or deb-systemd-helper state left: $left"
[ ! -e /etc/iiousbd ] || die "/etc/iiousbd left (the conffile is purged): $(find /etc/iiousbd)"
for f in /usr/sbin/iiousbd /usr/bin/iiousb /lib/udev/rules.d/60-iiousb.rules /usr/share/doc/iiousbd; do
	[ ! -e "$f" ] || die "$f left after purge"
done
snapshot /tmp/after
same=1
for what in files mounts gadgets packages info; do
	if ! cmp -s /tmp/before/$what /tmp/after/$what; then
		echo "FAIL: $what after purge differs from before dpkg -i (- before, + after):" >&2
		diff -u /tmp/before/$what /tmp/after/$what | tail -n +3 | grep '^[-+]' | head -n 60 >&2
		same=0
	fi
done
[ $same = 1 ] || die "dpkg --purge did not restore the state from before dpkg -i (above)"
log "purge: no gadget, functionfs mount, process, unit, enable symlink or conffile left;" \
	"$(wc -l < /tmp/after/files) file-system entries, mounts, gadgets and packages as before dpkg -i"
log "debs_systemd: PASS"
