# The latency benchmark (bench/latency.sh; not a test, not registered with CTest): how long
# a block takes from the IIO device completing it (its fence's signal time, in the block's
# metadata record) to the host tool having it, per block size and buffer count, at two
# paces of iio-sim's ADC: RATE sample sets per second (the converter sets the pace, USB has
# room: the pipeline's own latency) and 0 (as fast as the simulator goes: USB is the
# bottleneck and blocks queue on the device). The host reads one block per transfer with
# two transfers queued (iiousb capture -S BLOCK -T 2 --latency), so its transfer size adds
# nothing; host and device share one clock (one kernel), which is what makes this
# measurable at all.
#
# Every point is one console line, parsed by bench/latency.sh:
#   LAT rate=R block=BYTES bufs=N blocks=B p50=NS p99=NS max=NS mbps=X gaps=G ok=1|0
#
# Arguments: SECONDS BLOCKS BUFS RATE (lists colon-separated), defaults 3
# 16384:65536:262144:1048576 2:4:8 500000.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

T=${1:-3}
BLOCKS=$(echo "${2:-16384:65536:262144:1048576}" | tr : ' ')
BUFS=$(echo "${3:-2:4:8}" | tr : ' ')
RATE=${4:-500000}

daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
adc=$(iio_dev_by_name iio-sim-adc)
echo header > "$adc/sim_pattern" || die "cannot set the ADC's header pattern"

ns() { sed -n "s/.*latency .*$1 \([0-9.]*\) ms.*/\1/p" /tmp/lat.txt | awk '{ printf "%.0f", $1 * 1e6 }'; }

for rate in "$RATE" 0; do
	for block in $BLOCKS; do
		for bufs in $BUFS; do
			awk -v r="$rate" -v b="$block" -v n="$bufs" '
				/sampling_frequency:/ { sub(/sampling_frequency: .*/, "sampling_frequency: " r) }
				/block-size:/ && !bs { sub(/block-size: .*/, "block-size: " b); bs = 1 }
				/block-count:/ && !bc { sub(/block-count: .*/, "block-count: " n); bc = 1 }
				{ print }' "$DAEMON_CONF" > /tmp/lat.yaml
			daemon_start /tmp/lat.yaml
			daemon_wait_host
			ok=1
			iiousb capture rx0 -o /dev/null -q -t "$T" -S "$block" -T 2 --latency 2> /tmp/lat.txt ||
				ok=0
			p50=$(ns p50) p99=$(ns p99) max=$(ns max)
			nblk=$(sed -n 's/.*latency .*(\([0-9]*\) blocks).*/\1/p' /tmp/lat.txt)
			mbps=$(sed -n 's/.*captured .*: \([0-9.]*\) MB\/s.*/\1/p' /tmp/lat.txt)
			gaps=$(sed -n 's/.*metadata: [0-9]* block records, \([0-9]*\) gaps\{0,1\}.*/\1/p' /tmp/lat.txt)
			[ -n "$p50" ] || { ok=0; sed 's/^/  /' /tmp/lat.txt; }
			echo "LAT rate=$rate block=$block bufs=$bufs blocks=${nblk:-0} p50=${p50:-0}" \
				"p99=${p99:-0} max=${max:-0} mbps=${mbps:-0} gaps=${gaps:-0} ok=$ok"
			daemon_stop_and_check_clean > /dev/null
		done
	done
done
log "bench_latency: PASS"
