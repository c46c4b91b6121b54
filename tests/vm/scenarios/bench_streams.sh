# The multi-stream benchmark (bench/streams.sh; not a test, not registered with CTest): N rx
# streams at once, one per iio-sim ADC (adcs=4, header pattern, sampling_frequency 0: the
# simulated DMA costs next to nothing), read by one `iiousb capture rx0,rx1,...` (usbfs gives
# the interface to one process, so the host side is one process with one libusb event loop
# and a BulkStream per stream), for every N in NS and every block size x count in POINTS;
# and iiousbd's resident memory without DMABUF mappings: idle (the host has enumerated the
# device), the most seen while streaming (sampled every 0.5 s) and after the capture.
#
# One console line per point and round, parsed by bench/streams.sh:
#   STREAMS speed=S round=R n=N block=BYTES bufs=C bytes=B secs=S mibs=M0,M1,... cpu=C
#           rss_idle=KIB rss_stream=KIB rss_after=KIB dmabuf=KIB anon=KIB file=KIB ok=1|0
# bytes/secs: all streams' bytes over the capture's time; mibs: each stream's MiB/s; cpu:
# iiousbd's user+system seconds around the capture; rss_*: VmRSS minus the Rss of DMABUF
# mappings (dmabuf: the most of those seen; anon/file: RssAnon/RssFile at the streaming
# maximum).
#
# Arguments: SECONDS NS POINTS ROUNDS (colon-separated; a point is BLOCKxCOUNT), defaults
# 4 1:2:4 1048576x4:65536x8 1. Each round runs every point, N in the order of NS in odd
# rounds and backwards in even ones.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

T=${1:-4}
NS=$(echo "${2:-1:2:4}" | tr : ' ')
POINTS=$(echo "${3:-1048576x4:65536x8}" | tr : ' ')
ROUNDS=${4:-1}
NS_BACK=$(for k in $NS; do echo "$k"; done | sort -rn | tr '\n' ' ')
SPEED=${IIOUSB_SPEED:-hs}

maxn=1
for k in $NS; do [ "$k" -gt "$maxn" ] && maxn=$k; done
daemon_setup adcs="$maxn" pattern=header sampling_frequency=0
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
k=1
while [ "$k" -lt "$maxn" ]; do
	iio_dev_by_name "iio-sim-adc$k" > /dev/null || die "iio-sim has no iio-sim-adc$k"
	k=$((k + 1))
done

# field FILE STREAM: "BYTES SECS" from the capture summary line of STREAM (or "total").
summary() {
	sed -n "s/^iiousb: $2: captured .* (\([0-9]*\) bytes) in \([0-9.]*\) s: .*/\1 \2/p" "$1"
}

round=1
while [ "$round" -le "$ROUNDS" ]; do
	order=$NS
	[ $((round % 2)) = 0 ] && order=$NS_BACK
	for point in $POINTS; do
		block=${point%x*}
		bufs=${point#*x}
		for N in $order; do
			daemon_rx_conf "$N" "$block" "$bufs" /tmp/streams.yaml
			daemon_start /tmp/streams.yaml
			daemon_wait_host
			sleep 1
			set -- $(daemon_rss)
			rss_idle=$1
			dmabuf=$2
			list=$(rx_list "$N")
			c0=$(bench_util cpu "$DAEMON_PID")
			iiousb capture "$list" -o /dev/null -t "$T" -q --no-meta 2> /tmp/cap.txt &
			cap=$!
			rss_stream=0 anon=0 file=0
			while kill -0 "$cap" 2> /dev/null; do
				sleep 0.5
				r=$(daemon_rss) || break
				set -- $r
				[ "$2" -gt "$dmabuf" ] && dmabuf=$2
				[ "$1" -gt "$rss_stream" ] && { rss_stream=$1 anon=$3 file=$4; }
			done
			ok=1
			wait "$cap" || ok=0
			c1=$(bench_util cpu "$DAEMON_PID")
			set -- $(daemon_rss)
			rss_after=$1
			mibs=
			i=0
			while [ "$i" -lt "$N" ]; do
				set -- $(summary /tmp/cap.txt "rx$i")
				[ -n "${2:-}" ] || { ok=0; set -- 0 1; }
				mibs=$mibs${mibs:+,}$(awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s / 1048576 }')
				i=$((i + 1))
			done
			if [ "$N" = 1 ]; then
				set -- $(summary /tmp/cap.txt rx0)
			else
				set -- $(summary /tmp/cap.txt total)
			fi
			bytes=${1:-0} secs=${2:-0}
			[ "$ok" = 1 ] && [ "$bytes" -gt 0 ] || { ok=0; sed 's/^/  /' /tmp/cap.txt; }
			cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
			echo "STREAMS speed=$SPEED round=$round n=$N block=$block bufs=$bufs bytes=$bytes secs=$secs mibs=$mibs" \
				"cpu=$cpu rss_idle=$rss_idle rss_stream=$rss_stream rss_after=$rss_after dmabuf=$dmabuf" \
				"anon=$anon file=$file ok=$ok"
			if [ "$N" = "$maxn" ] && [ -z "${MAP_SHOWN:-}" ]; then
				log "iiousbd's resident memory by mapping (KiB), after streaming $N streams:"
				daemon_rss_map | head -25 | sed 's/^/  /'
				MAP_SHOWN=1
			fi
			daemon_stop_and_check_clean > /dev/null
		done
	done
	round=$((round + 1))
done
log "bench_streams: PASS"
