# Several rx streams at once (issue 15, "Scale"): iio-sim with two ADCs (adcs=2, header
# pattern, sampling_frequency 0: as fast as the simulator goes), iiousbd with rx0 on
# iio-sim-adc and rx1 on iio-sim-adc1 (1 MiB x 4 blocks each, zero-copy), read by one
# `iiousb capture rx0,rx1 --verify=header` for SECONDS (default 4): one host process, as
# usbfs gives the interface to one, with one BulkStream per stream in one libusb event loop
# and both streams' metadata records on the one metadata endpoint. Both streams must move
# data with every block header right and their records complete, and iiousbd's resident
# memory without DMABUF mappings must be at most 8 MiB idle (the host has enumerated the
# device) and while streaming (a size goal; bench/streams.sh measures the rates).
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

T=${1:-4}
LIMIT_KIB=8192

daemon_setup adcs=2 pattern=header sampling_frequency=0
[ "$DAEMON_SIM" = 1 ] || die "iio-sim is needed"
iio_dev_by_name iio-sim-adc1 > /dev/null || die "iio-sim has no iio-sim-adc1 with adcs=2"
log "IIO devices: $(for d in /sys/bus/iio/devices/iio:device*; do echo "$(basename "$d")=$(cat "$d/name")"; done | tr '\n' ' ')"
daemon_expect "iio-sim-adc keeps its id" "$(basename "$(iio_dev_by_name iio-sim-adc)")" "iio:device0"
daemon_expect "iio-sim-dac keeps its id" "$(basename "$(iio_dev_by_name iio-sim-dac)")" "iio:device1"

daemon_rx_conf 2 1M 4 /tmp/multi.yaml
daemon_start /tmp/multi.yaml
daemon_wait_host
daemon_baseline
sleep 1

# rss_check WHAT RSS DMABUF ANON FILE: within the limit, or the mappings and a failure.
rss_check() {
	log "iiousbd $1: RSS $2 KiB without DMABUF mappings (DMABUF mappings $3 KiB; anonymous $4 KiB, files $5 KiB)"
	[ "$2" -le "$LIMIT_KIB" ] && return 0
	log "iiousbd's resident memory by mapping (KiB):"
	daemon_rss_map | sed 's/^/  /'
	die "iiousbd $1: RSS $2 KiB without DMABUF mappings, more than $LIMIT_KIB KiB"
}

set -- $(daemon_rss)
rss_check idle "$@"

iiousb capture rx0,rx1 -o /dev/null -t "$T" -q --verify=header 2> /tmp/cap.txt &
cap=$!
peak=
while kill -0 "$cap" 2> /dev/null; do
	sleep 0.25
	r=$(daemon_rss) || die "iiousbd is gone"
	set -- $r
	[ -z "$peak" ] || [ "$1" -gt "${peak%% *}" ] && peak=$r
done
rc=0
wait "$cap" || rc=$?
sed 's/^/  /' /tmp/cap.txt
[ "$rc" = 0 ] || { daemon_show_log; die "iiousb capture rx0,rx1 exited $rc"; }
[ -n "$peak" ] || die "no RSS sample while streaming"
set -- $peak
rss_check "streaming (the most of 4 samples a second)" "$@"

for s in rx0 rx1; do
	bytes=$(sed -n "s/^iiousb: $s: captured .* (\([0-9]*\) bytes) in .*/\1/p" /tmp/cap.txt)
	[ "${bytes:-0}" -ge $((8 * 1048576)) ] || die "$s moved ${bytes:-no} bytes, expected 8 blocks at least"
	grep -q "^iiousb: $s: verify (header): .* pattern OK" /tmp/cap.txt || die "$s: no 'pattern OK'"
	records=$(sed -n "s/^iiousb: $s: metadata: \([0-9]*\) block records.*/\1/p" /tmp/cap.txt)
	[ "${records:-0}" -ge $((bytes / 1048576)) ] ||
		die "$s: ${records:-no} metadata records for $((bytes / 1048576)) blocks"
	log "$s: $bytes bytes, ${records} metadata records, block headers OK"
done
grep -q "^iiousb: total: captured " /tmp/cap.txt || die "no total line"

daemon_back_to_baseline "after the capture"
daemon_stop_and_check_clean
log "stream_multi: PASS"
