# libiio clients (Debian's libiio-utils 0.24: iio_info, iio_attr, iio_readdev, iio_writedev)
# talk to iiousbd's libiio interface (the gadget's second function, interface string "IIO")
# over dummy_hcd: the context lists iio-sim's devices and channels, an attribute written
# through it takes effect, iio_readdev's samples match iio-sim's pattern word by word,
# SESSIONS (20) sessions in a row, UNPACED_MIB (64) MiB unpaced, READBUFs that split and join
# the buffer's blocks (iiod_pieces, a raw iiod client), a client SIGKILLed mid-READBUF then a
# clean new session, a cable pull mid-READBUF and back (UDC unbind/bind with --udc stock),
# iio_writedev's pattern reaches the DAC without errors, WRITEBUFs of part of a block, of two
# blocks and one that ends short (iiod_writebuf, a raw iiod client: that one is refused and
# none of it reaches the DAC), an open buffer on the daemon's STATUS line with its data path,
# a cyclic waveform (iio_writedev -c) plays until the client ends, RX and TX at once from one
# context, a device held by another user answers EBUSY, and the daemon's fds and the DMABUFs
# are back to their baseline afterwards.
#
#   libiio_basic [USB-MODE [ZERO-COPY [TX-USB-MODE [SESSIONS [UNPACED_MIB]]]]]
#     USB-MODE   how READBUF's samples must leave: zero-copy (default: DMABUF blocks of the ADC
#                sent as they are) or copy (run.sh --udc stock: Debian's dummy_hcd cannot
#                import DMABUFs, the blocks are written from their mapping)
#     ZERO-COPY  libiio.zero-copy of the configuration: auto (default) or off (libiio's
#                local buffers, copied: the daemon logs no zero-copy buffer)
#     TX-USB-MODE how WRITEBUF's data must arrive: USB-MODE (default), or copy where f_fs
#                cannot fail short DMABUF OUT transfers (run.sh --modules unfixed: Debian's
#                f_fs has no kernel-patches 0024/0025)
#     SESSIONS   iio_readdev sessions in a row (20; CTest's variants of the scenario run 5)
#     UNPACED_MIB MiB read as fast as the ADC goes (64; the variants 16)
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

usb_mode=${1:-zero-copy}
zero_copy=${2:-auto}
tx_usb_mode=${3:-$usb_mode}
sessions=${4:-20}
unpaced_mib=${5:-64}
daemon_setup
[ "$DAEMON_SIM" = 1 ] || die "libiio_basic needs iio-sim"
if [ "$zero_copy" != auto ]; then
	# libiio.zero-copy replaced (or added) in the shipped configuration's libiio section.
	awk -v zc="$zero_copy" '
		/^[^ #]/ { lib = 0 }
		lib && /^  zero-copy:/ { next }
		{ print }
		/^libiio:/ { lib = 1; print "  zero-copy: " zc }' "$DAEMON_CONF" > /tmp/iiousbd.yaml
	DAEMON_CONF=/tmp/iiousbd.yaml
fi
run iiousbd --check-config "$DAEMON_CONF"
daemon_start "$DAEMON_CONF"
daemon_wait_host
dev=$DAEMON_HOST_DEV
intf=$dev/$(basename "$dev"):1.1
daemon_expect bNumInterfaces "$(tr -d ' ' < "$dev/bNumInterfaces")" "2"
daemon_expect "libiio interface" "$(cat "$intf/interface")" "IIO"
daemon_expect "libiio bNumEndpoints" "$(cat "$intf/bNumEndpoints")" "06"
log "sysfs: interface 1 'IIO' with $(cat "$intf/bNumEndpoints") endpoints"
daemon_baseline
log "baseline: $DAEMON_FDS_BEFORE fds, $DAEMON_DMABUFS_BEFORE DMABUFs"

# --- iio_info -----------------------------------------------------------------------------
t0=$(now)
iio_info -u usb: > /tmp/iio_info.txt 2>&1 || { cat /tmp/iio_info.txt; daemon_show_log; die "iio_info -u usb: failed"; }
log "iio_info -u usb: in $(elapsed "$t0" "$(now)")s"
sed 's/^/  iio_info| /' /tmp/iio_info.txt | head -60
for want in 'iio-sim-adc' 'iio-sim-dac' 'voltage0: .*(input, index: 0' 'voltage3: .*(input, index: 3' \
	'voltage0: .*(output, index: 0' 'sampling_frequency'; do
	grep -q -- "$want" /tmp/iio_info.txt || { daemon_show_log; die "iio_info: no '$want'"; }
done
grep -q 'Backend: usb' /tmp/iio_info.txt || grep -qi 'usb' /tmp/iio_info.txt || die "iio_info: not the usb backend"

# --- iio_attr read and write ----------------------------------------------------------------
adc=$(iio_dev_by_name iio-sim-adc) || die "no iio-sim-adc"
iio_attr -u usb: -d iio-sim-adc sampling_frequency > /tmp/attr.txt 2>&1 || { cat /tmp/attr.txt; die "iio_attr read failed"; }
cat /tmp/attr.txt
grep -q "value '*:*'*$(cat "$adc/sampling_frequency")" /tmp/attr.txt ||
	grep -q "$(cat "$adc/sampling_frequency")" /tmp/attr.txt || die "iio_attr read: $(cat /tmp/attr.txt), sysfs $(cat "$adc/sampling_frequency")"
iio_attr -u usb: -d iio-sim-adc sampling_frequency 250000 > /tmp/attr.txt 2>&1 || { cat /tmp/attr.txt; die "iio_attr write failed"; }
cat /tmp/attr.txt
daemon_expect "sampling_frequency after iio_attr write" "$(cat "$adc/sampling_frequency")" 250000
iio_attr -u usb: -d iio-sim-adc sampling_frequency > /tmp/attr.txt 2>&1 || die "iio_attr read back failed"
grep -q 250000 /tmp/attr.txt || die "iio_attr read back: $(cat /tmp/attr.txt)"
iio_attr -u usb: -d iio-sim-adc sampling_frequency 1000000 > /dev/null 2>&1 || die "iio_attr restore failed"
daemon_expect "sampling_frequency restored" "$(cat "$adc/sampling_frequency")" 1000000
log "iio_attr: sampling_frequency read, written (250000 in sysfs), read back, restored"

# --- iio_readdev: SESSIONS sessions in a row, the data checked word by word -----------------
# All 4 channels (16-bit each): 8 bytes a sample set. Each READBUF is one libiio buffer of
# 16384 sets = two of iio-sim's fileio blocks (an even number per session: DESIGN.md).
samples=262144
bytes=$((samples * 8))
for i in $(seq 1 "$sessions"); do
	t0=$(now)
	iio_readdev -u usb: -b 16384 -s $samples iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err ||
		{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev session $i failed"; }
	t=$(elapsed "$t0" "$(now)")
	iiosim_verify -m f -n $bytes /tmp/rx.bin || { daemon_show_log; die "iio_readdev session $i: data"; }
	log "iio_readdev session $i: $bytes bytes verified in ${t}s"
done
rm -f /tmp/rx.bin
# How READBUF's data left: the daemon logs each zero-copy buffer it opens.
if [ "$zero_copy" = off ]; then
	! grep -q 'libiio buffer of ' "$DAEMON_LOG" || { daemon_show_log; die "zero-copy: off, yet a zero-copy buffer"; }
	path="libiio copy"
else
	want="libiio buffer of iio:device[0-9]*: 4 x 131072 bytes from [^,]*, IIO zero-copy, USB $usb_mode\$"
	n=$(grep -c "$want" "$DAEMON_LOG")
	[ "$n" -ge "$sessions" ] || { daemon_show_log; die "$n of $sessions sessions logged '$want'"; }
	path="IIO zero-copy, USB $usb_mode"
fi
log "READBUF data path: $path"

# --- UNPACED_MIB unpaced, 2 MiB per READBUF (one DMABUF transfer; 1 MiB writes when copied) -
echo 0 > "$adc/sampling_frequency"
big=$((unpaced_mib * 131072))
t0=$(now)
iio_readdev -u usb: -b 262144 -s $big iio-sim-adc 2> /tmp/readdev.err |
	iiosim_verify -m f -n $((big * 8)) || { cat /tmp/readdev.err; daemon_show_log; die "$unpaced_mib MiB iio_readdev"; }
t=$(elapsed "$t0" "$(now)")
log "iio_readdev $unpaced_mib MiB unpaced: verified in ${t}s ($(awk "BEGIN { printf \"%.1f\", $unpaced_mib / $t }") MiB/s, $path, TCG)"
echo 1000000 > "$adc/sampling_frequency"

# --- READBUFs that split and join the buffer's blocks (a raw iiod client, not libiio) ---------
# Pieces from a block's start are DMABUF transfers of fewer bytes, pieces inside it copies
# from the mapped block, a READBUF of two blocks two chunks; every byte checked.
iiod_pieces "$DAEMON_ID" "$(basename "$adc")" 4096 20 > /tmp/pieces.txt 2>&1 ||
	{ cat /tmp/pieces.txt; daemon_show_log; die "iiod_pieces"; }
sed 's/^/  /' /tmp/pieces.txt
grep -q "^READBUF 65536: 2 chunks$" /tmp/pieces.txt || die "iiod_pieces: a READBUF of 2 blocks was not 2 chunks"
# A piece inside a block is copied from its mapping: with the USB side zero-copy, the blocks
# are detached from the endpoint first (CPU access would sync its mapping the wrong way).
if [ "$zero_copy" != off ] && [ "$usb_mode" = zero-copy ]; then
	grep -q 'READBUF in pieces that start inside a block; the USB side copies from now on' "$DAEMON_LOG" ||
		{ daemon_show_log; die "iiod_pieces: the USB side did not switch to copying"; }
fi
log "READBUF pieces: $(tail -n 1 /tmp/pieces.txt)"

# --- STATUS: a buffer a client has open is on the daemon's status line with its data path ----
# (systemctl status shows that line; the daemon logs it at debug level when it changes, on
# its 5 s timer.) 6 s of samples at 1 MS/s, or less: the client is stopped (SIGINT, which
# iio_readdev 0.24 answers by cancelling its buffer and exiting 2) once the line is there.
if [ "$zero_copy" = off ]; then
	status_want="libiio: iio:device[0-9]* in (IIO copy, USB copy)"
else
	status_want="libiio: iio:device[0-9]* in (IIO zero-copy, USB $usb_mode)"
fi
iio_readdev -u usb: -b 16384 -s 6000000 iio-sim-adc > /dev/null 2> /tmp/readdev.err &
reader=$!
n=0
until grep -q "$status_want" "$DAEMON_LOG"; do
	n=$((n + 1))
	[ $n -le 80 ] || { daemon_show_log; die "no status line with '$status_want' while a client reads"; }
	sleep 0.1
done
kill -INT $reader 2>/dev/null
wait $reader
rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { cat /tmp/readdev.err; die "iio_readdev during the STATUS check exited $rc"; }
log "status: $(grep -o "; libiio: .*" "$DAEMON_LOG" | tail -n 1)"

# --- A client SIGKILLed mid-READBUF, then a new session starts clean -------------------------
# At 10 kHz a 16384-set refill takes 1.6 s: the kill lands while the daemon waits for it.
echo 10000 > "$adc/sampling_frequency"
iio_readdev -u usb: -b 16384 -s 1048576 iio-sim-adc > /dev/null 2>&1 &
victim=$!
sleep 1
kill -9 $victim
wait $victim 2>/dev/null
# The next client's RESET_PIPES ends the dead one's session (its buffer closed); only then
# can the rate be changed again (iio-sim refuses while the buffer is enabled).
iio_attr -u usb: -d iio-sim-adc sampling_frequency > /dev/null 2>&1 || die "iio_attr after the kill failed"
echo 1000000 > "$adc/sampling_frequency" || die "sampling_frequency busy after the next client's RESET_PIPES"
daemon_expect "sampling_frequency" "$(cat "$adc/sampling_frequency")" 1000000
iio_readdev -u usb: -b 16384 -s $samples iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err ||
	{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev after a SIGKILLed client failed"; }
iiosim_verify -m f -n $bytes /tmp/rx.bin ||
	{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev after a SIGKILLed client: data"; }
log "a client SIGKILLed mid-READBUF; the next session's $bytes bytes verified"

# --- Cable pull (soft disconnect) mid-READBUF, then back: a new session starts clean ----------
# Debian's dummy_hcd cannot enumerate again after a soft_connect disconnect/connect (what
# kernel-patches 0003 fixes): with --udc stock the pull is the gadget's UDC unbound and
# bound again.
udc=$(cat "$DAEMON_GADGET/UDC")
pull() {
	if [ "${IIOUSB_UDC:-patched}" = stock ]; then
		if [ "$1" = disconnect ]; then echo "" > "$DAEMON_GADGET/UDC"; else echo "$udc" > "$DAEMON_GADGET/UDC"; fi
	else
		echo "$1" > "/sys/class/udc/$udc/soft_connect"
	fi
}
echo 10000 > "$adc/sampling_frequency"
iio_readdev -u usb: -b 16384 -s 1048576 iio-sim-adc > /dev/null 2> /tmp/pulled.err &
victim=$!
# Pulled once the client's buffer is enabled, and a little after: its first READBUF then
# waits for a block (1.6 s at 10 kS/s). (A fixed second was not enough on a loaded machine
# with the debug kernel: the client had not opened its pipe yet.)
n=0
until [ "$(cat "$adc/buffer/enable")" = 1 ]; do
	kill -0 $victim 2>/dev/null || { cat /tmp/pulled.err; die "iio_readdev ended before its buffer was enabled"; }
	n=$((n + 1))
	[ $n -le 300 ] || { daemon_show_log; die "iio_readdev's buffer not enabled after 30 s"; }
	sleep 0.1
done
sleep 0.5
kill -0 $victim 2>/dev/null || { cat /tmp/pulled.err; die "iio_readdev ended before the pull"; }
pull disconnect
wait $victim
rc=$?
[ $rc != 0 ] || [ -s /tmp/pulled.err ] || die "iio_readdev did not notice the pull"
daemon_wait_host_gone "the pull"
daemon_wait_log '\(DISABLE\|UNBIND\): closed [0-9]* pipe' 1 "the pull"
kill -0 "$DAEMON_PID" || die "iiousbd died on the pull"
# Its buffer is closed: the rate can be changed again.
echo 1000000 > "$adc/sampling_frequency" || die "sampling_frequency busy after the pull"
pull connect
daemon_wait_host
iio_readdev -u usb: -b 16384 -s $samples iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err ||
	{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev after the pull failed"; }
iiosim_verify -m f -n $bytes /tmp/rx.bin ||
	{ cat /tmp/readdev.err; daemon_show_log; die "iio_readdev after the pull: data"; }
log "cable pulled mid-READBUF (iio_readdev: $(head -n 1 /tmp/pulled.err)), back: $bytes bytes verified"

# --- iio_writedev: the DAC checks what it consumes against the pattern ----------------------
dac=$(iio_dev_by_name iio-sim-dac) || die "no iio-sim-dac"
echo 1 > "$dac/sim_reset"
tx_samples=131072
tx_bytes=$((tx_samples * 8))
t0=$(now)
iiosim_gen f $tx_bytes | iio_writedev -u usb: -b 16384 -s $tx_samples iio-sim-dac 2> /tmp/writedev.err ||
	{ cat /tmp/writedev.err; daemon_show_log; die "iio_writedev failed"; }
t=$(elapsed "$t0" "$(now)")
dac_bytes=$(cat "$dac/sim_bytes")
dac_errors=$(cat "$dac/sim_errors")
log "iio_writedev: $tx_bytes bytes sent in ${t}s; the DAC consumed $dac_bytes bytes, $dac_errors errors (first at $(cat "$dac/sim_first_error_offset"))"
daemon_expect "DAC errors" "$dac_errors" 0
# (The blocks still queued when iio_writedev closes its buffer are dropped by the disable.)
[ "$dac_bytes" -ge $((tx_bytes / 2)) ] || die "the DAC consumed only $dac_bytes of $tx_bytes bytes"
# How WRITEBUF's data arrived: received into the DAC's DMABUF blocks on the OUT endpoint
# (USB-MODE copy: read into their mapping), or libiio's local buffer with zero-copy off.
if [ "$zero_copy" = off ]; then
	! grep -q 'libiio buffer of .*: [0-9]* x [0-9]* bytes from [^,]*, USB' "$DAEMON_LOG" ||
		{ daemon_show_log; die "zero-copy: off, yet a zero-copy WRITEBUF buffer"; }
	log "WRITEBUF data path: libiio copy"
else
	want="libiio buffer of iio:device[0-9]*: 4 x 131072 bytes from [^,]*, USB $tx_usb_mode, IIO zero-copy\$"
	grep -q "$want" "$DAEMON_LOG" || { daemon_show_log; die "no WRITEBUF buffer logged '$want'"; }
	log "WRITEBUF data path: USB $tx_usb_mode, IIO zero-copy"
	# WRITEBUFs of half a block and of two, and one whose data ends short of what it
	# announced: answered with an error, none of it reaches the DAC, the session goes on.
	echo 1 > "$dac/sim_reset"
	iiod_writebuf "$DAEMON_ID" "$(basename "$dac")" 4096 > /tmp/writebuf.txt 2>&1 ||
		{ cat /tmp/writebuf.txt; daemon_show_log; die "iiod_writebuf"; }
	cat /tmp/writebuf.txt
	grep -q "^WRITEBUF 32768, 16392 bytes sent: -121$" /tmp/writebuf.txt ||
		die "iiod_writebuf: the short WRITEBUF was not answered -EREMOTEIO"
	want=$(sed -n 's/^iiod_writebuf: \([0-9]*\) pattern bytes.*/\1/p' /tmp/writebuf.txt)
	daemon_expect "DAC bytes after iiod_writebuf" "$(cat "$dac/sim_bytes")" "$want"
	daemon_expect "DAC errors after iiod_writebuf" "$(cat "$dac/sim_errors")" 0
	log "iiod_writebuf: the DAC consumed exactly the $want pattern bytes, the short WRITEBUF's none"
fi

# --- A cyclic buffer: iio_writedev -c pushes one 64 KiB waveform, the DAC plays it until CLOSE --
# (libiio's own local backend cannot do this on a mainline kernel: iiousbd enqueues the
# waveform as one DMABUF with IIO_BUFFER_DMABUF_CYCLIC, or writes it again and again.)
echo 1 > "$dac/sim_reset"
iiosim_gen f 65536 | iio_writedev -u usb: -c -b 8192 iio-sim-dac 2> /tmp/cyclic.err &
writer=$!
sleep 3
kill -0 $writer 2>/dev/null || { cat /tmp/cyclic.err; daemon_show_log; die "iio_writedev -c ended by itself"; }
kill -INT $writer
wait $writer 2>/dev/null
# Once the client is gone the waveform stops: the buffer is disabled. (The counters are read
# after that: while it plays, bytes and passes move between two reads.)
n=0
while [ "$(cat "$dac/buffer/enable")" != 0 ]; do
	n=$((n + 1))
	[ $n -le 50 ] || { daemon_show_log; die "the DAC's buffer still enabled 5 s after iio_writedev -c ended"; }
	sleep 0.1
done
passes=$(cat "$dac/sim_blocks")
cyc_bytes=$(cat "$dac/sim_bytes")
cyc_errors=$(cat "$dac/sim_errors")
cyc_first=$(cat "$dac/sim_first_error_offset")
log "iio_writedev -c: the DAC played the 64 KiB waveform for 3 s: $passes blocks, $cyc_bytes bytes, $cyc_errors errors (first at $cyc_first)"
[ "$cyc_bytes" -ge $((4 * 65536)) ] || { daemon_show_log; die "the DAC played only $cyc_bytes bytes of the cyclic waveform"; }
if [ "$zero_copy" = off ]; then
	grep -q 'cyclic libiio buffer of iio:device[0-9]*: 65536 bytes from [^,]*, IIO copy' "$DAEMON_LOG" ||
		{ daemon_show_log; die "no copy-mode cyclic buffer logged"; }
	# fileio is one stream to iio-sim, whose pattern goes on where a cyclic DMABUF pass
	# starts over: the first 64 KiB match, the first mismatch is in the second pass.
	[ "$cyc_first" -ge 65536 ] && [ "$cyc_first" -lt 131072 ] ||
		{ daemon_show_log; die "copy-mode cyclic: first pattern error at $cyc_first, not in the second pass"; }
else
	daemon_expect "cyclic DAC errors" "$cyc_errors" 0
	grep -q 'cyclic libiio buffer of iio:device[0-9]*: 65536 bytes from [^,]*, IIO zero-copy$' "$DAEMON_LOG" ||
		{ daemon_show_log; die "no zero-copy cyclic buffer logged"; }
	daemon_expect "cyclic: bytes a whole number of passes" "$cyc_bytes" "$((passes * 65536))"
fi
sleep 0.5
daemon_expect "cyclic: DAC bytes once the buffer is disabled" "$(cat "$dac/sim_bytes")" "$cyc_bytes"
log "cyclic: the waveform stopped with the client (buffer disabled)"

# --- RX and TX at once from one context (pipes 1 and 2) ---------------------------------------
echo 1 > "$dac/sim_reset"
t0=$(now)
libiio_duplex usb: 16384 8 || { daemon_show_log; die "libiio_duplex failed"; }
dac_bytes=$(cat "$dac/sim_bytes")
dac_errors=$(cat "$dac/sim_errors")
log "RX+TX from one context in $(elapsed "$t0" "$(now)")s: the DAC consumed $dac_bytes bytes, $dac_errors errors"
daemon_expect "DAC errors (duplex)" "$dac_errors" 0
[ "$dac_bytes" -gt 0 ] || die "the DAC consumed nothing in the duplex run"

# --- One owner per IIO buffer: a device someone else reads answers EBUSY --------------------
if command -v iio_hold > /dev/null; then
	:
fi
exec 7< "/dev/$(basename "$adc")"
if iio_readdev -u usb: -b 4096 -s 4096 iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err; then
	exec 7<&-
	die "iio_readdev succeeded while /dev/$(basename "$adc") was held open"
fi
exec 7<&-
cat /tmp/readdev.err
grep -qi 'busy' /tmp/readdev.err || die "iio_readdev on a held device: $(cat /tmp/readdev.err), expected busy"
log "a held device: iio_readdev fails with '$(head -1 /tmp/readdev.err)'"
# ... and works again once it is free.
iio_readdev -u usb: -b 16384 -s 32768 iio-sim-adc > /tmp/rx.bin 2> /tmp/readdev.err ||
	{ cat /tmp/readdev.err; die "iio_readdev after the holder left failed"; }
run iiosim_verify -m f -n $((32768 * 8)) /tmp/rx.bin

# Every RESET_PIPES/OPEN_PIPE/CLOSE_PIPE was acknowledged (the status stage, by the Ep0Worker)
# well within the client's 1 s.
acks=$(grep -c 'Acknowledged bmRequestType 0x41 .*(libiio) in [0-9]* us' "$DAEMON_LOG")
ack_max=$(grep -o 'Acknowledged bmRequestType 0x41 .*(libiio) in [0-9]* us' "$DAEMON_LOG" |
	sed 's/.* in \([0-9]*\) us/\1/' | sort -n | tail -n 1)
[ "$acks" -ge 20 ] && [ "${ack_max:-1000000}" -lt 1000000 ] ||
	{ daemon_show_log; die "ep0 pipe requests: $acks acknowledged, slowest ${ack_max:-?} us"; }
! grep -q 'Stalling .*(libiio)' "$DAEMON_LOG" || die "a libiio pipe request was stalled"
log "ep0: $acks pipe requests acknowledged, slowest status stage ${ack_max} us"

daemon_back_to_baseline "after the libiio sessions"
log "resources: $DAEMON_FDS fds, $DAEMON_DMABUFS DMABUFs (baseline)"
kill -0 "$DAEMON_PID" || die "iiousbd died"
daemon_stop_and_check_clean
log "libiio_basic: passed"
