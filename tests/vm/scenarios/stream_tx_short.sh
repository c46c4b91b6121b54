# Short and zero-length OUT transfers on a tx stream never reach the DAC (docs/protocol.md,
# "Streaming"): tx_short sends full blocks of iio-sim's pattern with a zero-length or short
# transfer after each; the DAC must count no error and exactly the full blocks' bytes, and
# GET_STATS must count every short transfer. Then the cyclic case (a zero-length and a short
# transfer before the waveform) and the error budget (zero-length transfers only: the stream
# fails after 16).
#
#   stream_tx_short [USB-MODE]   USB-MODE: the USB side GET_STATS must show, zero-copy
#                                (default; patched dummy_hcd and f_fs 0024) or copy (run.sh
#                                --udc stock: Debian's dummy_hcd cannot import DMABUFs;
#                                or --modules unfixed: Debian's f_fs, without 0024's flag,
#                                on which the daemon copies on the USB side of tx streams)
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

usb_mode=${1:-zero-copy}
blocks=20
budget=16

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
daemon_start
daemon_wait_host
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"

# field NAME LINE: the value of NAME=... in a tx_short stats line.
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# 1. Full blocks with short transfers in between.
echo 1 > "$dac/sim_reset"
tx_short stream tx0 $blocks > /tmp/out.txt || { cat /tmp/out.txt; daemon_show_log; die "tx_short stream failed"; }
cat /tmp/out.txt
stats=$(grep '^stats ' /tmp/out.txt)
block=$(sed -n 's/.* block=\([0-9]*\).*/\1/p' /tmp/out.txt)
iiousb stats tx0 > /tmp/stats.txt
cat /tmp/stats.txt
grep -q "(tx): running, IIO zero-copy, USB $usb_mode\$" /tmp/stats.txt ||
	{ daemon_show_log; die "tx0 is not running with USB $usb_mode"; }
if [ "$usb_mode" = copy ] && [ "${IIOUSB_UDC:-patched}" != stock ]; then
	grep -q "tx0: the kernel's FunctionFS cannot report short DMABUF transfers" "$DAEMON_LOG" ||
		{ daemon_show_log; die "no log line on the missing SHORT_NOT_OK flag"; }
	log "f_fs without SHORT_NOT_OK: the daemon copies on the USB side, as logged"
fi
grep -q "short USB transfers $blocks\$" /tmp/stats.txt || die "iiousb stats does not show $blocks short USB transfers"
daemon_expect "GET_STATS record size" "$(field size "$stats")" 72
daemon_expect "GET_STATS short" "$(field short "$stats")" $blocks
daemon_expect "GET_STATS blocks" "$(field blocks "$stats")" $blocks
daemon_expect "GET_STATS usb-errors" "$(field usb-errors "$stats")" 0
daemon_expect "GET_STATS state" "$(field state "$stats")" running
sleep 0.5 # the last block leaves iio-sim's queue before its counters move
daemon_expect "DAC sim_errors" "$(cat "$dac/sim_errors")" 0
daemon_expect "DAC sim_bytes" "$(cat "$dac/sim_bytes")" $((blocks * block))
# A host of the first revision asks for 64 bytes and still gets a valid record.
daemon_probe stats 1 | grep -q '^version=1 size=72 state=running' || die "64-byte GET_STATS"
log "stream: $blocks full blocks and $blocks short/zero-length transfers (USB $usb_mode):" \
	"DAC $(cat "$dac/sim_bytes") bytes, $(cat "$dac/sim_errors") errors; GET_STATS short $(field short "$stats")"
daemon_expect "STOP" "$(daemon_probe stop 1)" ok

# 2. Cyclic: a zero-length and a short transfer before the 64 KiB waveform.
echo 1 > "$dac/sim_reset"
tx_short cyclic tx0 65536 > /tmp/out.txt || { cat /tmp/out.txt; daemon_show_log; die "tx_short cyclic failed"; }
cat /tmp/out.txt
stats=$(grep '^stats ' /tmp/out.txt)
daemon_expect "cyclic: GET_STATS short" "$(field short "$stats")" 2
daemon_expect "cyclic: GET_STATS blocks" "$(field blocks "$stats")" 1
daemon_expect "cyclic: GET_STATS bytes" "$(field bytes "$stats")" 65536
daemon_expect "cyclic: GET_STATS state" "$(field state "$stats")" running
sleep 2
passes=$(cat "$dac/sim_blocks")
[ "$passes" -ge 2 ] || die "cyclic: the DAC played the waveform $passes times in 2 s"
daemon_expect "cyclic: DAC sim_errors" "$(cat "$dac/sim_errors")" 0
log "cyclic: 2 short transfers dropped, the 64 KiB waveform played $passes times, 0 errors"
daemon_expect "STOP" "$(daemon_probe stop 1)" ok

# 3. Error budget: zero-length transfers only. After $budget the stream fails and takes no
# more (tx_short gives up on the first one that times out).
echo 1 > "$dac/sim_reset"
tx_short budget tx0 $((budget + 8)) > /tmp/out.txt || { cat /tmp/out.txt; daemon_show_log; die "tx_short budget failed"; }
cat /tmp/out.txt
stats=$(grep '^stats ' /tmp/out.txt)
daemon_expect "budget: GET_STATS state" "$(field state "$stats")" failed
daemon_expect "budget: GET_STATS short" "$(field short "$stats")" $budget
daemon_expect "budget: DAC sim_bytes" "$(cat "$dac/sim_bytes")" 0
grep -q "tx0: $budget USB blocks failed in a row (short transfer: .* $block bytes); giving up" "$DAEMON_LOG" ||
	{ daemon_show_log; die "no error-budget entry in the log"; }
log "budget: the stream failed after $budget zero-length transfers in a row"
daemon_expect "STOP of the failed stream" "$(daemon_probe stop 1)" ok

daemon_stop_and_check_clean
log "stream_tx_short: PASS"
