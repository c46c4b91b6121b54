# The host tool against iiousbd: `iiousb list`, `info`, `info --json` and `stats` on the
# daemon's gadget (config/iiousbd.yaml), the message when no device is present (before the
# daemon starts and after it stops), and a capture: verified when the daemon streams,
# otherwise (no data pipeline yet, or no iio-sim) START/STOP are checked through stats.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

# expect_fail WHAT TEXT CMD...: CMD must fail and print TEXT on stderr.
expect_fail() {
	what=$1 text=$2
	shift 2
	"$@" > /tmp/out.txt 2> /tmp/err.txt && { cat /tmp/err.txt; die "$what: '$*' succeeded"; }
	rc=$?
	grep -q "$text" /tmp/err.txt || { cat /tmp/err.txt; die "$what: no '$text' in the message"; }
	log "$what: exit $rc, '$(head -n 1 /tmp/err.txt)'"
}

daemon_setup
expect_fail "list without a device" "no iiousb device found" iiousb list
expect_fail "info without a device" "no iiousb device found" iiousb info
expect_fail "stats without a device" "no iiousb device found" iiousb stats

daemon_start
daemon_wait_host

# --- list -------------------------------------------------------------------------------
iiousb list > /tmp/list.txt || { daemon_show_log; die "iiousb list failed"; }
cat /tmp/list.txt
grep -q '^0001 .* 1d6b:0104 .*rx0 (rx 0x81), tx0 (tx 0x02)$' /tmp/list.txt ||
	{ daemon_show_log; die "iiousb list does not show the daemon's streams"; }
iiousb list --json > /tmp/list.json || die "iiousb list --json failed"
grep -q '"serial":"0001"' /tmp/list.json || die "list --json: $(cat /tmp/list.json)"

# --- info -------------------------------------------------------------------------------
iiousb info > /tmp/info.txt || { daemon_show_log; die "iiousb info failed"; }
cat /tmp/info.txt
grep -q '^iiousb device 0001 (protocol 1)$' /tmp/info.txt || die "info: no device line"
grep -q 'stream 0 "rx0": rx (device to host), endpoint 0x81, IIO device iio-sim-adc' /tmp/info.txt ||
	die "info: stream 0"
grep -q 'stream 1 "tx0": tx (host to device), endpoint 0x02, IIO device iio-sim-dac' /tmp/info.txt ||
	die "info: stream 1"
grep -q '4 blocks of 1.00 MiB (1048576 bytes)' /tmp/info.txt || die "info: blocks"
iiousb info --json > /tmp/info.json || die "iiousb info --json failed"
cat /tmp/info.json
grep -q '^{"protocol":1,"serial":"0001","usb":{' /tmp/info.json || die "info --json: header"
grep -q '{"index":0,"name":"rx0","dir":"rx","endpoint":129,"iio":"iio-sim-adc","block_bytes":1048576,"blocks":4,' /tmp/info.json ||
	die "info --json: stream 0"
grep -q '{"index":1,"name":"tx0","dir":"tx","endpoint":2,"iio":"iio-sim-dac",' /tmp/info.json ||
	die "info --json: stream 1"
# The text the tool decoded is the daemon's (daemon_probe reads it raw).
daemon_probe info > /tmp/info-raw.txt || die "daemon_probe info failed"
nchan=$(grep -c '^channel 0 ' /tmp/info-raw.txt)
[ "$(grep -o 'channels: .*' /tmp/info.txt | head -n 1 | tr ' ' '\n' | grep -c '^(')" = "$nchan" ] ||
	die "info shows a different number of rx0 channels than GET_INFO has ($nchan)"

# --- stats ------------------------------------------------------------------------------
iiousb stats > /tmp/stats.txt || die "iiousb stats failed"
cat /tmp/stats.txt
if [ "$DAEMON_SIM" = 1 ]; then
	grep -q '^stream 0 "rx0" (rx): stopped' /tmp/stats.txt || die "stats: rx0 not stopped"
	grep -q '^stream 1 "tx0" (tx): stopped' /tmp/stats.txt || die "stats: tx0 not stopped"
else
	grep -q '^stream 0 "rx0" (rx): failed' /tmp/stats.txt || die "stats: rx0 not failed"
fi
iiousb stats tx0 --json > /tmp/stats.json || die "iiousb stats tx0 --json failed"
cat /tmp/stats.json
grep -q '^\[{"index":1,"name":"tx0","dir":"tx","state":"' /tmp/stats.json || die "stats --json"

# --- capture ----------------------------------------------------------------------------
if [ "$DAEMON_SIM" = 1 ]; then
	iiousb capture rx0 -t 3 -o /tmp/rx0.bin --verify 2> /tmp/err.txt
	rc=$?
	cat /tmp/err.txt
	grep -q 'device: stopped' /tmp/err.txt || { daemon_show_log; die "capture did not leave the stream stopped"; }
	if [ "$(stat -c %s /tmp/rx0.bin)" -gt 0 ]; then
		[ $rc = 0 ] || { daemon_show_log; die "capture --verify from iiousbd exited $rc"; }
		grep -q 'pattern OK' /tmp/err.txt || die "capture --verify: the pattern did not check"
		log "capture: $(grep captured /tmp/err.txt)"
	else
		# No data pipeline yet: START and STOP went through, no bytes arrived.
		grep -q 'captured 0 B' /tmp/err.txt || die "capture: no summary"
		ns=$(daemon_probe stats 0 | tr ' ' '\n' | sed -n 's/^running-ns=//p')
		[ "$ns" -ge 2000000000 ] || die "rx0 ran only ${ns} ns during a 3 s capture"
		log "capture: the daemon does not stream yet; START/STOP worked (rx0 ran ${ns} ns)"
	fi
else
	expect_fail "capture of a failed stream" "START stream 0: the device refused the request (STALL); the stream's state is failed" \
		iiousb capture rx0 -o /dev/null
fi

daemon_stop_and_check_clean
expect_fail "info after the daemon stopped" "no iiousb device found" iiousb info
log "tool_control: PASS"
