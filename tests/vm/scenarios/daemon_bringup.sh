# iiousbd brings its gadget up on dummy_hcd; the guest's host side enumerates it
# (identity, strings, interface and endpoints checked in sysfs) and drives the control
# protocol (GET_INFO in slices, START/STOP/GET_STATS, malformed requests stalled while the
# daemon survives); the host suspends and resumes the device (the daemon logs both, then
# answers GET_INFO); SIGHUP with a broken config keeps the running one, with a changed one
# brings the new one up; SIGTERM leaves no gadget and no mount.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
run iiousbd --check-config "$DAEMON_CONF"
cp "$DAEMON_CONF" /tmp/iiousbd.yaml
daemon_start /tmp/iiousbd.yaml
daemon_wait_host

# --- Identity from sysfs ---------------------------------------------------------------
dev=$DAEMON_HOST_DEV
intf=$dev/$(basename "$dev"):1.0
daemon_expect manufacturer "$(cat "$dev/manufacturer")" "iiousb project"
daemon_expect product "$(cat "$dev/product")" "iiousb simulated converter"
daemon_expect serial "$(cat "$dev/serial")" "0001"
daemon_expect bcdDevice "$(cat "$dev/bcdDevice")" "0100"
# Interface 0 is the native one; interface 1 the libiio one (config libiio.enabled).
daemon_expect bNumInterfaces "$(cat "$dev/bNumInterfaces" | tr -d ' ')" "2"
daemon_expect "libiio interface" "$(cat "$dev/$(basename "$dev"):1.1/interface")" "IIO"
daemon_expect bInterfaceClass "$(cat "$intf/bInterfaceClass")" "ff"
daemon_expect bInterfaceSubClass "$(cat "$intf/bInterfaceSubClass")" "49"
daemon_expect bInterfaceProtocol "$(cat "$intf/bInterfaceProtocol")" "01"
# rx0, tx0 and the metadata endpoint (docs/protocol.md, "Metadata").
daemon_expect bNumEndpoints "$(cat "$intf/bNumEndpoints")" "03"
daemon_expect interface "$(cat "$intf/interface")" "iiousb"
case $(cat "$dev/speed") in
480) mps=0200 ;;
5000 | 10000) mps=0400 ;;
*) mps=0040 ;;
esac
for ep in 81 02; do
	[ -d "$intf/ep_$ep" ] || die "no endpoint 0x$ep in $intf: $(ls -d "$intf"/ep_* | tr '\n' ' ')"
	daemon_expect "ep 0x$ep type" "$(cat "$intf/ep_$ep/type")" "Bulk"
	daemon_expect "ep 0x$ep wMaxPacketSize" "$(cat "$intf/ep_$ep/wMaxPacketSize")" "$mps"
done
# The third endpoint is the metadata one: interrupt IN, whatever number the UDC gave it.
meta=$(for e in "$intf"/ep_*; do
	case ${e##*_} in 81 | 02) ;; *) echo "${e##*_}" ;; esac
done)
[ -n "$meta" ] && [ "$(cat "$intf/ep_$meta/direction")" = in ] &&
	[ "$(cat "$intf/ep_$meta/type")" = Interrupt ] ||
	die "no interrupt IN metadata endpoint: $(ls -d "$intf"/ep_*)"
log "sysfs: $DAEMON_ID '$(cat "$dev/product")' interface ff/49/01 'iiousb', bulk 0x81 and 0x02 of $mps bytes, metadata 0x$meta"
run daemon_probe describe

# --- GET_INFO ---------------------------------------------------------------------------
daemon_probe info > /tmp/info.txt || die "GET_INFO failed"
sed 's/^/  info| /' /tmp/info.txt
daemon_expect "info line 1" "$(sed -n 1p /tmp/info.txt)" "iiousb 1"
daemon_expect "info device line" "$(sed -n 2p /tmp/info.txt)" "device serial=0001 streams=2 meta-ep=0x$meta meta=1"
s0=$(grep '^stream 0 ' /tmp/info.txt)
s1=$(grep '^stream 1 ' /tmp/info.txt)
if [ "$DAEMON_SIM" = 1 ]; then
	echo "$s0" | grep -q '^stream 0 name=rx0 dir=rx ep=0x81 iio=iio-sim-adc block=1048576 blocks=4 rate=1000000 sample-bytes=[1-9][0-9]* channels=[1-9][0-9]*$' ||
		die "bad stream 0 line: $s0"
	echo "$s1" | grep -q '^stream 1 name=tx0 dir=tx ep=0x02 iio=iio-sim-dac block=1048576 blocks=4 rate=[0-9]* sample-bytes=[1-9][0-9]* channels=[1-9][0-9]*$' ||
		die "bad stream 1 line: $s1"
	for i in 0 1; do
		want=$(grep "^stream $i " /tmp/info.txt | sed 's/.* channels=//')
		have=$(grep -c "^channel $i [0-9]* [a-z0-9_]* [bl]e:[su][0-9]*/[0-9]*\(X[0-9]*\)\?>>[0-9]*$" /tmp/info.txt)
		daemon_expect "stream $i channel lines" "$have" "$want"
	done
else
	daemon_expect "stream 0 line" "$s0" "stream 0 name=rx0 dir=rx ep=0x81 iio=iio-sim-adc block=1048576 blocks=4 rate=0 sample-bytes=0 channels=0"
	daemon_expect "stream 1 line" "$s1" "stream 1 name=tx0 dir=tx ep=0x02 iio=iio-sim-dac block=1048576 blocks=4 rate=0 sample-bytes=0 channels=0"
fi
# The same text read in odd-sized slices (the last reply shorter than the slice).
daemon_probe info 7 > /tmp/info7.txt || die "GET_INFO in 7-byte slices failed"
cmp /tmp/info.txt /tmp/info7.txt || die "GET_INFO in 7-byte slices differs"
size=$(wc -c < /tmp/info.txt)
daemon_probe info "$size" > /tmp/info-exact.txt || die "GET_INFO in $size-byte slices failed"
cmp /tmp/info.txt /tmp/info-exact.txt || die "GET_INFO in slices of its size differs"
log "GET_INFO: $size bytes, same in 4096-, 7- and $size-byte slices"

# --- Host suspends and resumes the device ----------------------------------------------------
nsusp=$(grep -c 'FunctionFS SUSPEND' "$DAEMON_LOG")
nres=$(grep -c 'FunctionFS RESUME' "$DAEMON_LOG")
if [ "$(cat "$dev/speed")" != 480 ]; then
	# dummy_hcd's USB 3 root hub has no port suspend (U3 is a no-op there): with runtime PM
	# the device autosuspends but the gadget is never told.
	how=""
	log "suspend/resume: skipped at $(cat "$dev/speed") Mb/s (dummy_hcd suspends USB 2 ports only)"
elif [ -f "$dev/power/control" ]; then
	# Runtime PM: no driver is bound to the interface, so the device autosuspends at once
	# and dummy_hcd suspends its port.
	how="runtime PM"
	echo 0 > "$dev/power/autosuspend_delay_ms" || die "autosuspend_delay_ms"
	echo auto > "$dev/power/control" || die "power/control auto"
	daemon_wait_log 'FunctionFS SUSPEND' $((nsusp + 1)) "autosuspend"
	# (The gadget hears of the suspend while the host's runtime PM may still be finishing
	# it: 'suspending' for a moment.)
	n=0
	while [ "$(cat "$dev/power/runtime_status")" = suspending ] && [ $n -lt 20 ]; do
		n=$((n + 1))
		sleep 0.1
	done
	daemon_expect "runtime_status after the autosuspend" "$(cat "$dev/power/runtime_status")" suspended
	echo on > "$dev/power/control" || die "power/control on"
	daemon_wait_log 'FunctionFS RESUME' $((nres + 1)) "resume"
	daemon_expect "runtime_status after the resume" "$(cat "$dev/power/runtime_status")" active
elif expr "$(basename "$dev")" : '[0-9]*-[0-9]*$' > /dev/null; then
	# No runtime PM in this kernel (the debug kernel): suspend and resume the root hub's
	# port directly (hub class requests through usbfs).
	bus=$(basename "$dev" | sed 's/-.*//')
	port=${dev##*-}
	how="port $port of root hub usb$bus (no runtime PM)"
	rh=$(cat "/sys/bus/usb/devices/usb$bus/idVendor"):$(cat "/sys/bus/usb/devices/usb$bus/idProduct")
	daemon_expect "port $port suspend" "$(daemon_probe -d "$rh" port "$port" suspend)" ok
	daemon_wait_log 'FunctionFS SUSPEND' $((nsusp + 1)) "port suspend"
	daemon_expect "port $port resume" "$(daemon_probe -d "$rh" port "$port" resume)" ok
	daemon_wait_log 'FunctionFS RESUME' $((nres + 1)) "port resume"
else
	die "no way to suspend $dev: no runtime PM, and not on a root hub port"
fi
if [ -n "$how" ]; then
	daemon_probe info > /tmp/info-resume.txt && cmp /tmp/info.txt /tmp/info-resume.txt ||
		die "GET_INFO after the resume failed"
	log "suspend/resume by $how: the daemon saw SUSPEND and RESUME, GET_INFO answers after it"
fi

# --- START / STOP / GET_STATS -------------------------------------------------------------
stat_field() { daemon_probe stats "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
if [ "$DAEMON_SIM" = 1 ]; then
	for i in 0 1; do
		daemon_expect "stream $i initial state" "$(stat_field $i state)" stopped
		daemon_expect "START $i" "$(daemon_probe start $i)" ok
		daemon_expect "stream $i state after START" "$(stat_field $i state)" running
		daemon_expect "second START $i" "$(daemon_probe start $i)" ok
		sleep 0.2
		daemon_expect "STOP $i" "$(daemon_probe stop $i)" ok
		daemon_expect "second STOP $i" "$(daemon_probe stop $i)" ok
		stats=$(daemon_probe stats $i)
		echo "$stats" | grep -q '^version=1 size=72 state=stopped ' || die "stream $i stats after STOP: $stats"  # (daemon_probe asks for 64 bytes: the record size says 72)
		ns=$(echo "$stats" | tr ' ' '\n' | sed -n 's/^running-ns=//p')
		[ "$ns" -ge 100000000 ] || die "stream $i ran ${ns} ns, expected >= 0.1 s"
		log "stream $i: START/STOP ok, stats: $stats"
	done
else
	for i in 0 1; do
		daemon_expect "START $i (no IIO device)" "$(daemon_probe start $i)" STALL
		daemon_expect "stream $i state" "$(stat_field $i state)" failed
		daemon_expect "STOP $i (failed stream)" "$(daemon_probe stop $i)" ok
	done
	log "streams without IIO devices: START stalled, state failed"
fi

# --- Malformed requests are stalled, the daemon survives -------------------------------------
for req in "0xc1 0x7f 0 64:unknown bRequest" "0x41 0x7f 0 0:unknown OUT bRequest" \
	"0x41 0x02 2 0:START of stream 2" "0x41 0x03 0xffff 0:STOP of stream 65535" \
	"0xc1 0x04 5 64:GET_STATS of stream 5" "0xc1 0x04 0 8:GET_STATS with wLength 8" \
	"0x41 0x01 0 0:GET_INFO as OUT" "0xc1 0x02 0 4:START as IN" \
	"0x41 0x02 0 4:START with data" "0xc0 0x01 0 64:GET_INFO to the device"; do
	args=${req%%:*}
	# shellcheck disable=SC2086
	out=$(daemon_probe raw $args)
	# (A device-recipient request reaches f_fs, which refuses it: the UDC stalls it. A
	# GET_INFO with wLength > 4096 cannot be tested: composite clamps IN lengths to 4096.)
	daemon_expect "${req#*:} ($args)" "$out" STALL
	kill -0 "$DAEMON_PID" 2>/dev/null || { daemon_show_log; die "iiousbd died after ${req#*:}"; }
done
daemon_probe info > /tmp/info-after.txt && cmp /tmp/info.txt /tmp/info-after.txt ||
	die "GET_INFO after the malformed requests failed"
log "10 malformed requests stalled; the daemon is alive and answers GET_INFO"

# --- SIGHUP ---------------------------------------------------------------------------------
printf 'gadget:\n  vid: 0x1d6b\n  pid: 0x0104\n  max-power: lots\nstreams: []\n' > /tmp/iiousbd.yaml
kill -HUP "$DAEMON_PID"
n=0
until grep -q 'Keeping the running configuration' "$DAEMON_LOG"; do
	n=$((n + 1))
	[ $n -le 100 ] || { daemon_show_log; die "no reaction to SIGHUP with a broken config"; }
	sleep 0.1
done
grep -q '/tmp/iiousbd.yaml:4:14: gadget.max-power: expected an integer 0..900, got .lots.' "$DAEMON_LOG" ||
	{ daemon_show_log; die "the SIGHUP error does not name file:line:column and the key"; }
kill -0 "$DAEMON_PID" || die "iiousbd died on SIGHUP"
daemon_probe info > /tmp/info-hup.txt && cmp /tmp/info.txt /tmp/info-hup.txt ||
	die "GET_INFO after the bad SIGHUP failed"
log "SIGHUP with a broken config: reported with file:line:column, the running gadget kept"

sed 's/^  product: .*/  product: iiousb reloaded/' "$DAEMON_CONF" > /tmp/iiousbd.yaml
kill -HUP "$DAEMON_PID"
n=0
until [ "$(cat "$(daemon_host_dev)/product" 2>/dev/null)" = "iiousb reloaded" ]; do
	n=$((n + 1))
	[ $n -le 300 ] || { daemon_show_log; die "the reloaded gadget did not show up in 30 s"; }
	sleep 0.1
done
daemon_wait_host
daemon_probe info > /tmp/info-reload.txt && cmp /tmp/info.txt /tmp/info-reload.txt ||
	die "GET_INFO after the reload differs"
log "SIGHUP with a changed config: the host sees product '$(cat "$DAEMON_HOST_DEV/product")'"

# --- SIGTERM --------------------------------------------------------------------------------
daemon_stop_and_check_clean
daemon_show_log
grep -q 'Stalling' "$DAEMON_LOG" || die "the daemon did not log the stalls"
log "daemon_bringup: PASS (bring-up ${DAEMON_BOUND_S}s)"
