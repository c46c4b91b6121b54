# Per-block metadata end to end (docs/protocol.md, "Metadata"): iio-sim's ADC free-running
# (sim_free_run: it loses the sample sets it converts while it has no block, and the next
# block's header says where it resumed), the host tool stopped twice for STALL_MS so that
# the device starves, and then:
#   a. `iiousb capture --verify=header --latency` with metadata: every gap the data shows
#      (header sample index jumps) is one the device announced, at the same block; the
#      count of each, the device's estimate from fence times and the rate, is within the
#      margin the device gave (half its enqueue ioctl's time at the rate, +1); the gaps
#      seen are iio-sim's own count (sim_gaps) but for the blocks in flight when the
#      capture stopped; the latency line is there; exit 0; the
#      SigMF recording has a capture segment and an annotation per reported gap.
#   c. `iiousb play` stopped the same way: the DAC runs dry, each underrun is reported
#      against its block as it happens, as many as the device's GET_STATS counts.
#   b. the same without metadata (--no-meta, the START of a host from before it): the same
#      kind of gaps are now unexplained, and --verify must fail (exit 3).
#   Arguments: [RATE [BLOCK_KIB [STALL_MS]]]
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

RATE=${1:-200000}
BLOCK_KIB=${2:-16}
STALL_MS=${3:-300}

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
adc=$(iio_dev_by_name iio-sim-adc)
echo header > "$adc/sim_pattern" || die "cannot set the ADC's header pattern"
echo 1 > "$adc/sim_free_run" || die "iio-sim has no sim_free_run"
sed -e "s/sampling_frequency: .*/sampling_frequency: $RATE/" \
	-e "s/block-size: .*/block-size: ${BLOCK_KIB}K/" "$DAEMON_CONF" > /tmp/iiousbd.yaml
# The DAC at the same pace (tx0 has no attributes in the config).
echo "$RATE" > "$(iio_dev_by_name iio-sim-dac)/sampling_frequency" || die "cannot set the DAC's rate"
daemon_start /tmp/iiousbd.yaml
daemon_wait_host
iiousb info | grep -q "metadata: endpoint 0x" || { iiousb info; die "GET_INFO has no meta-ep (iiousb info shows no metadata endpoint)"; }

# with_stalls OUT COMMAND...: COMMAND (stderr to OUT), stopped twice for STALL_MS.
with_stalls() {
	out=$1
	shift
	"$@" 2> "$out" &
	pid=$!
	for at in 1.5 1.5; do
		sleep "$at"
		kill -STOP "$pid"
		sleep "$(awk "BEGIN { print $STALL_MS / 1000 }")"
		kill -CONT "$pid"
	done
	wait "$pid"
}

# --- a: with metadata ------------------------------------------------------------------
echo 1 > "$adc/sim_reset"
with_stalls /tmp/meta.txt iiousb capture rx0 -o /tmp/rx.sigmf-data -t 5 -q -T 2 -S "${BLOCK_KIB}KiB" \
	--verify=header --latency --meta-log /tmp/meta.csv
rc=$?
cat /tmp/meta.txt
# explain BLOCK...: the records and the data's block headers (seq, first sample) around them.
explain() {
	for b in "$@"; do
		for i in $((b - 2)) $((b - 1)) $b $((b + 1)); do
			[ "$i" -ge 0 ] || continue
			rec=$(awk -F, -v s="$i" '$1 == s' /tmp/meta.csv)
			hdr=$(dd if=/tmp/rx.sigmf-data bs=16 skip=$((i * BLOCK_KIB * 64)) count=1 2> /dev/null | od -An -tu4)
			echo "  block $i: record $rec; data header (magic seq S_lo S_hi):$hdr"
		done
	done
}
if [ "$rc" != 0 ]; then
	explain $(sed -n 's/.*verify: block \([0-9]*\):.*/\1/p' /tmp/meta.txt | head -3)
	daemon_show_log | grep -v -E "(Answered|Acknowledged) " | tail -20
	die "a: capture with metadata exited $rc"
fi
line=$(grep "gaps in the data vs the device's metadata" /tmp/meta.txt) ||
	die "a: no cross-check line: the data showed no gap (stalls too short?)"
matched=$(echo "$line" | sed -n 's/.*metadata: \([0-9]*\) at the same blocks.*/\1/p')
exact=$(echo "$line" | sed -n 's/.*(\([0-9]*\) with the same count).*/\1/p')
unannounced=$(echo "$line" | sed -n 's/.*, \([0-9]*\) not announced.*/\1/p')
outside=$(echo "$line" | sed -n 's/.*, \([0-9]*\) beyond the device.s margin.*/\1/p')
maxdiff=$(echo "$line" | sed -n 's/.*largest count difference \([0-9]*\) .*/\1/p')
sim_gaps=$(cat "$adc/sim_gaps")
sim_lost=$(cat "$adc/sim_lost")
[ "$unannounced" = 0 ] || die "a: $unannounced gaps in the data were not announced"
[ "$outside" = 0 ] || die "a: $outside gap counts further off than the device's margin"
[ "$matched" -ge 2 ] || die "a: only $matched gaps matched (2 stalls of ${STALL_MS} ms)"
# iio-sim also counts the gaps of blocks the capture never received: those in flight when
# it stopped (at most block-count of them).
[ "$matched" -le "$sim_gaps" ] && [ "$sim_gaps" -le $((matched + 4)) ] ||
	die "a: $matched gaps matched, iio-sim lost samples $sim_gaps times"
grep -q "latency p50 .* p99 .* max " /tmp/meta.txt || die "a: no latency figures"
meta_lost=$(sed -n 's/.*metadata: .* gaps\{0,1\}, \([0-9]*\) sample sets lost.*/\1/p' /tmp/meta.txt)
log "a: $matched gaps announced at the right blocks ($exact with the exact count, largest" \
	"difference $maxdiff sample sets at $RATE/s); lost: metadata $meta_lost, iio-sim $sim_lost"
grep "latency" /tmp/meta.txt | sed 's/^/  /'
# The SigMF recording: a capture segment and an annotation per gap the device reported.
gaps=$(sed -n 's/.*metadata: [0-9]* block records, \([0-9]*\) gaps\{0,1\}.*/\1/p' /tmp/meta.txt)
segments=$(grep -c '"core:global_index"' /tmp/rx.sigmf-meta)
notes=$(grep -c '"overrun: ' /tmp/rx.sigmf-meta)
[ "$segments" = $((gaps + 1)) ] && [ "$notes" = "$gaps" ] ||
	{ cat /tmp/rx.sigmf-meta; die "a: $gaps gaps but $segments capture segments and $notes annotations"; }
log "a: rx.sigmf-meta has $segments capture segments and $notes overrun annotations"

# --- c: tx underruns ---------------------------------------------------------------------
with_stalls /tmp/play.txt iiousb play tx0 -i /dev/zero -t 5 -q -T 2 -S "${BLOCK_KIB}KiB"
rc=$?
cat /tmp/play.txt
[ "$rc" = 0 ] || die "c: play exited $rc"
live=$(grep -c "underrun before block" /tmp/play.txt)
summary=$(sed -n 's/.*metadata: [0-9]* block records, \([0-9]*\) underruns\{0,1\}.*/\1/p' /tmp/play.txt)
device=$(sed -n 's/.*device: .*, underruns \([0-9]*\),.*/\1/p' /tmp/play.txt | tail -1)
[ -n "$summary" ] && [ "$summary" -ge 2 ] || die "c: $summary underruns reported for 2 stalls"
[ "$summary" = "$device" ] || die "c: the records counted $summary underruns, GET_STATS $device"
[ "$live" -ge 2 ] || die "c: only $live underruns printed as they happened"
log "c: $summary underruns reported against their blocks (GET_STATS: $device)"

# --- b: without metadata, the same gaps fail --verify ------------------------------------
echo 1 > "$adc/sim_reset"
with_stalls /tmp/nometa.txt iiousb capture rx0 -o /dev/null -t 5 -q -T 2 -S "${BLOCK_KIB}KiB" \
	--verify=header --no-meta
rc=$?
[ "$rc" = 3 ] || { cat /tmp/nometa.txt; die "b: --no-meta capture with gaps exited $rc, expected 3"; }
grep -q "gaps in the sample index" /tmp/nometa.txt || { cat /tmp/nometa.txt; die "b: no gap reported"; }
log "b: without metadata the $(cat "$adc/sim_gaps") gaps fail --verify (exit 3)"

daemon_stop_and_check_clean
log "stream_meta: PASS"