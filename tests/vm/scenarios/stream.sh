# The daemon's data pipeline end to end: iiousbd streams iio-sim's ADC to the host tool and
# the host tool's data into iio-sim's DAC, through the real kernel paths (IIO DMABUF,
# FunctionFS DMABUF or AIO, dummy_hcd).
#   Arguments: RX_MIB TX_MIB [USB_MODE [IIO_MODE [ZERO_COPY [HEAP]]]]
#   RX_MIB of rx0 verified word by word by `iiousb capture --verify`; TX_MIB of the pattern
#   played into tx0 by `iiousb play`, checked by the DAC's counters; then TX_MIB each way
#   through both streams at once (stream_duplex), rx checked by the host, tx by the DAC; USB_MODE/IIO_MODE: the port modes GET_STATS must report (zero-copy | copy);
#   ZERO_COPY: the streams' zero-copy setting (auto | off | require); HEAP: their
#   dmabuf-heap (a missing one makes the daemon use udmabuf).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

RX_MIB=${1:-64}
TX_MIB=${2:-32}
USB_MODE=${3:-zero-copy}
IIO_MODE=${4:-zero-copy}
ZC=${5:-auto}
HEAP=${6:-/dev/dma_heap/system}

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
# As fast as the simulator can (the default config paces the ADC at 1 MS/s).
sed -e 's/sampling_frequency: .*/sampling_frequency: 0/' -e "s/zero-copy: auto/zero-copy: $ZC/" \
	-e "s|^\(    zero-copy: .*\)|\1\n    dmabuf-heap: $HEAP|" "$DAEMON_CONF" > /tmp/iiousbd.yaml
grep -q "dmabuf-heap: $HEAP" /tmp/iiousbd.yaml || die "could not set dmabuf-heap in the config"
[ -e "$HEAP" ] && origin=$HEAP || origin=udmabuf
# The DAC too (it has no attributes in the config; its rate paces TX).
echo 0 > "$(iio_dev_by_name iio-sim-dac)/sampling_frequency" || die "cannot set the DAC's rate"
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
fds_before=$(ls /proc/$DAEMON_PID/fd | wc -l)

# stat_field STREAM KEY: a field of `iiousb stats STREAM --json`.
stat_field() {
	iiousb stats "$1" --json | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p"
}

# --- RX: every word checked ------------------------------------------------------------
t0=$(now)
iiousb capture rx0 -n "${RX_MIB}MiB" -o /dev/null --verify 2> /tmp/err.txt
rc=$?
cat /tmp/err.txt
[ $rc = 0 ] || { daemon_show_log; die "capture --verify of $RX_MIB MiB exited $rc"; }
grep -q "pattern OK" /tmp/err.txt || die "capture --verify: pattern not OK"
log "RX: $RX_MIB MiB verified word by word in $(elapsed "$t0" "$(now)")s"
iiousb stats rx0 --json > /tmp/stats.json
cat /tmp/stats.json
daemon_expect "rx0 IIO side" "$(stat_field rx0 iio)" "$IIO_MODE"
daemon_expect "rx0 USB side" "$(stat_field rx0 usb)" "$USB_MODE"
daemon_expect "rx0 state" "$(stat_field rx0 state)" "stopped"
grep -q "Stream rx0 started: .* bytes from $origin\$" "$DAEMON_LOG" ||
	{ daemon_show_log; die "the blocks did not come from $origin"; }
# A zero-copy side takes each job's fence from its ioctl (the rig's kernels carry
# kernel-patches 0017 and 0025), not from an export per block.
for side in IIO USB; do
	mode=$IIO_MODE
	[ $side = USB ] && mode=$USB_MODE
	[ "$mode" = zero-copy ] || continue
	grep -q "Stream rx0 started: .*$side side zero-copy (own fences" "$DAEMON_LOG" ||
		{ daemon_show_log; die "rx0's $side side does not take its fences from the ioctl"; }
done
# Both sides zero-copy: each USB transfer is queued behind its IIO fence by f_fs
# (kernel-patches 0028), so the daemon wakes once per block.
if [ "$IIO_MODE" = zero-copy ] && [ "$USB_MODE" = zero-copy ]; then
	grep -q "Stream rx0 started: .*USB side zero-copy (own fences, each transfer queued behind its IIO fence" \
		"$DAEMON_LOG" || { daemon_show_log; die "rx0's USB transfers are not queued behind the IIO fences"; }
fi
daemon_expect "rx0 USB errors" "$(stat_field rx0 usb_errors)" "0"
daemon_expect "rx0 IIO errors" "$(stat_field rx0 iio_errors)" "0"

# --- TX from the host tool: the DAC checks the pattern -------------------------------------
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
# check_dac WHAT BYTES: the DAC consumed exactly BYTES of intact pattern.
check_dac() {
	bytes=$(cat "$dac/sim_bytes")
	errors=$(cat "$dac/sim_errors")
	log "$1: DAC consumed $bytes bytes in $(cat "$dac/sim_blocks") blocks, $errors errors," \
		"first error at $(cat "$dac/sim_first_error_offset")"
	daemon_expect "$1: DAC errors" "$errors" "0"
	if [ "$IIO_MODE" = copy ]; then
		# fileio counts a block when it is written into the buffer, not when the DAC has
		# played it: STOP may drop the last fileio block (docs/configuration.md).
		[ "$bytes" -le "$2" ] && [ "$bytes" -ge $(($2 - 1048576)) ] ||
			die "$1: DAC consumed $bytes bytes, expected $2 less at most one 1 MiB fileio block"
	else
		daemon_expect "$1: DAC bytes" "$bytes" "$2"
	fi
}
echo 1 > "$dac/sim_reset"
t0=$(now)
iiosim_gen f $((TX_MIB * 1048576)) | iiousb play tx0 -i - 2> /tmp/play.txt
rc=$?
cat /tmp/play.txt
[ $rc = 0 ] || { daemon_show_log; die "play of $TX_MIB MiB exited $rc"; }
log "TX: $TX_MIB MiB played in $(elapsed "$t0" "$(now)")s"
check_dac TX $((TX_MIB * 1048576))
daemon_expect "tx0 IIO side" "$(stat_field tx0 iio)" "$IIO_MODE"
daemon_expect "tx0 USB side" "$(stat_field tx0 usb)" "$USB_MODE"
daemon_expect "tx0 bytes" "$(stat_field tx0 bytes)" "$((TX_MIB * 1048576))"

# --- Both streams at once (one host process owns the interface) ----------------------------
echo 1 > "$dac/sim_reset"
DUP=$((TX_MIB * 1048576))
run stream_duplex $DUP $DUP f f
check_dac duplex $DUP
daemon_expect "duplex: rx0 errors" "$(stat_field rx0 usb_errors)/$(stat_field rx0 iio_errors)" "0/0"

# Every block and fd of the runs is released.
fds_after=$(ls /proc/$DAEMON_PID/fd | wc -l)
daemon_expect "daemon fd count after streaming" "$fds_after" "$fds_before"
daemon_show_log | grep -E 'Stream|stream' | grep -v -E "(Answered|Acknowledged) "
daemon_stop_and_check_clean
log "stream: PASS"
