#!/usr/bin/env bash
# Runs the Buildroot package's SysV init script (packaging/buildroot/package/iiousbd/
# S95iiousbd) under BusyBox's sh and applets (start-stop-daemon, logger, ...) with a stub
# daemon and a stub "other gadget" script standing in for Pluto's S23udc, in a scratch
# directory: start, status, restart, reload, stop, in both gadget modes, and the failure
# paths (a configuration that --check-config refuses, a daemon that exits at once):
#
#   packaging/tests/initscript.sh
#
# Needs busybox (busybox-static). Nothing outside the scratch directory is touched: the
# stub configfs directory has usb_gadget/ already, so the script mounts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script=$here/../buildroot/package/iiousbd/S95iiousbd
busybox=$(command -v busybox) || {
	echo "initscript: busybox not found (apt-get install busybox-static)" >&2
	exit 1
}
t=$(mktemp -d)
trap 'if [ -r "$t/pid" ]; then kill "$(cat "$t/pid")" 2> /dev/null || true; fi; rm -rf "$t"' EXIT

# BusyBox applets first in PATH, as on a Buildroot target.
mkdir -p "$t/bin" "$t/configfs/usb_gadget"
for applet in start-stop-daemon logger tr sleep cat grep rm mount modprobe; do
	ln -s "$busybox" "$t/bin/$applet"
done

# The daemon: --check-config answers with the status in check-rc; otherwise it records
# its arguments and signals in events, or exits at once if die-at-start exists.
cat > "$t/iiousbd" << EOF
#!/bin/sh
if [ "\$1" = --check-config ]; then
	exit "\$(cat $t/check-rc)"
fi
[ -e $t/die-at-start ] && exit 1
echo "daemon started \$*" >> $t/events
trap 'echo "daemon reloaded" >> $t/events' HUP
trap 'echo "daemon stopped" >> $t/events; exit 0' TERM
while :; do sleep 0.1; done
EOF
cat > "$t/S23udc" << EOF
#!/bin/sh
echo "S23udc \$1" >> $t/events
EOF
chmod +x "$t/iiousbd" "$t/S23udc"

settings() {
	cat > "$t/default" << EOF
EXEC=$t/iiousbd
PIDFILE=$t/pid
TAKEN_OVER=$t/taken-over
CONFIGFS=$t/configfs
IIOUSBD_CONFIG=$t/iiousbd.yaml
IIOUSBD_ARGS="--log-level debug"
IIOUSBD_TAKEOVER_SCRIPT=$t/S23udc
$*
EOF
}

failures=0
indent() { sed 's/^/    /'; }
run() {
	# run EXPECTED_STATUS ACTION: the init script under busybox sh, its output in out.
	local want=$1 status=0
	shift
	PATH=$t/bin:$PATH IIOUSBD_DEFAULTS=$t/default "$busybox" sh "$script" "$@" > "$t/out" 2>&1 ||
		status=$?
	if [ "$status" != "$want" ]; then
		echo "FAIL: $step: S95iiousbd $*: exit status $status, expected $want; its output:"
		indent < "$t/out"
		failures=$((failures + 1))
	fi
}
# expect_events LINE...: the events since the last call, exactly.
expect_events() {
	local got want
	got=$(cat "$t/events" 2> /dev/null || true)
	want=$(printf '%s\n' "$@")
	: > "$t/events"
	if [ "$got" != "${want%$'\n'}" ]; then
		echo "FAIL: $step: events were:"
		indent <<< "$got"
		echo "  expected:"
		indent <<< "$want"
		failures=$((failures + 1))
	fi
}
check() {
	# check DESCRIPTION COMMAND...
	local what=$1
	shift
	if ! "$@"; then
		echo "FAIL: $step: $what"
		failures=$((failures + 1))
	fi
}

step=
echo 0 > "$t/check-rc"
started="daemon started --config $t/iiousbd.yaml --log-level debug"

# Take over from the other script, keep it through a restart, hand back on stop.
step="takeover"
settings IIOUSBD_GADGET=takeover IIOUSBD_LOG=none
run 0 start
expect_events "S23udc stop" "$started"
check "taken-over marker after start" test -e "$t/taken-over"
run 0 status
check "status names the pid" grep -q "running (pid $(cat "$t/pid"))" "$t/out"
run 0 start
check "a second start says it runs" grep -q "already running" "$t/out"
expect_events
run 0 reload
sleep 0.3
expect_events "daemon reloaded"
run 0 restart
expect_events "daemon stopped" "$started"
run 0 stop
expect_events "daemon stopped" "S23udc start"
check "no marker after stop" test ! -e "$t/taken-over"
check "no pid file after stop" test ! -e "$t/pid"
run 3 status
run 0 stop
check "stop when stopped says so" grep -q "not running" "$t/out"
expect_events

# A configuration iiousbd refuses: nothing is taken over, nothing started.
step="refused config"
echo 78 > "$t/check-rc"
run 1 start
expect_events
check "no marker after a refused config" test ! -e "$t/taken-over"
echo 0 > "$t/check-rc"

# A daemon that exits at once: the UDC is handed back.
step="daemon exits at once"
touch "$t/die-at-start"
run 1 start
expect_events "S23udc stop" "S23udc start"
check "FAIL printed" grep -q FAIL "$t/out"
rm "$t/die-at-start"

# Handback off: stop leaves the other gadget stopped.
step="no handback"
settings IIOUSBD_GADGET=takeover IIOUSBD_HANDBACK=no IIOUSBD_LOG=none
run 0 start
expect_events "S23udc stop" "$started"
run 0 stop
expect_events "daemon stopped"

# Beside: the other script is never run. Through logger (syslog) this time: the pid file
# still holds the daemon's own pid.
step="beside, syslog"
settings IIOUSBD_GADGET=beside IIOUSBD_LOG=syslog
run 0 start
expect_events "$started"
check "the pid file names the daemon" grep -q "$t/iiousbd" "/proc/$(cat "$t/pid")/cmdline"
run 0 stop
expect_events "daemon stopped"

if [ "$failures" -ne 0 ]; then
	echo "initscript: $failures failed"
	exit 1
fi
echo "initscript: PASS (S95iiousbd under $("$busybox" 2>&1 | head -1 | cut -d' ' -f1-2))"
