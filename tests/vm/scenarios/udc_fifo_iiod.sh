# The symptom behind kernel-patches/linux-6.12/0002, with Debian's own peer
# stack: iiod 0.24 serving FunctionFS, iio_info sessions over dummy_hcd.
# When a host session ends (RESET_PIPES), iiod cancels its pending read,
# writes a 4-byte error reply ("-22\n") and cancels that write with
# io_cancel(). dummy_hcd's emulated FIFO has already taken the reply and
# given the request back, so the next session reads "-22\n" as the answer to
# its first command and fails ("Unable to create IIO context usb:: Invalid
# argument" or "Input/output error"). With 0002, a dequeue that reaches the
# request while its data are in the FIFO drops them; when f_fs has completed
# the write before iiod cancels it, no dequeue happens and the reply stays,
# as on any FIFO controller (iiod 0.24 never flushes).
#
#   A. iiod alone, 6 sessions. Before each, FUNCTIONFS_FIFO_STATUS on iiod's
#      IN endpoint (ffs_fifo_test --fifo status): patched, no session may fail
#      unless the FIFO held stale bytes before it (the stale reply is the only
#      cause; a stale 1-byte "\n", the tail of a cut-off reply, can pass);
#      stock (no fifo_status): some session must fail.
#   B. 6 more sessions with FUNCTIONFS_FIFO_FLUSH before each, as gadget
#      software that must survive FIFO controllers does: patched, all must
#      succeed; stock (fifo_flush not implemented) some must still fail.
#
# iiod and iio_info come from Debian (packages iiod, libiio-utils; the build copies
# them into BUILD/vm-guest/bin). The expected outcome follows IIOUSB_UDC.
. /lib/iiousb/functions.sh

if ! command -v iiod > /dev/null || ! command -v iio_info > /dev/null; then
	die "iiod and iio_info are not in the guest (BUILD/vm-guest/bin: run tests/install-deps.sh, rebuild)"
fi
load_udc
# iiod serves the local IIO context, which needs a device: the simulated one.
load_iio_sim
g=/sys/kernel/config/usb_gadget/iiod
mkdir $g || die "mkdir $g"
echo 0x0456 > $g/idVendor
echo 0xb673 > $g/idProduct
mkdir $g/strings/0x409
echo iiousb > $g/strings/0x409/manufacturer
echo "iiod over dummy_hcd" > $g/strings/0x409/product
mkdir $g/configs/c.1 $g/functions/ffs.iio
ln -s $g/functions/ffs.iio $g/configs/c.1/
mkdir -p /dev/iio_ffs
mount -t functionfs iio /dev/iio_ffs || die "mount functionfs"
iiod -F /dev/iio_ffs -n 3 > /tmp/iiod.log 2>&1 &
# iiod writes its descriptors asynchronously: bind once FunctionFS is ready.
n=0
until echo "$(ls /sys/class/udc | head -n 1)" > $g/UDC 2> /dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || { cat /tmp/iiod.log; die "binding the UDC (iiod did not start?)"; }
	sleep 0.2
done
sleep 2
stock=0
[ "${IIOUSB_UDC:-patched}" = stock ] && stock=1
ep_in=/dev/iio_ffs/ep1
fail=0
# session N: one iio_info run; sets rc
session() {
	timeout 30 iio_info -u usb: > /tmp/info.$1 2>&1
	rc=$?
	# iiod writes its late reply right after the session's RESET_PIPES.
	sleep 1
}

log "A: iiod alone"
failed=0 stale_before=0 stale_failed=0 mismatch=0
for i in 1 2 3 4 5 6; do
	st=$(ffs_fifo_test --fifo status $ep_in)
	session $i
	[ $rc = 0 ] || failed=$((failed + 1))
	log "A$i: before: $st; iio_info exit $rc: $(grep -m1 -E 'IIO context|Unable' /tmp/info.$i)"
	[ $stock = 1 ] && continue
	case $st in
	"FIFO_STATUS 0") stale=0 ;;
	"FIFO_STATUS "[1-9]*) stale=1; stale_before=$((stale_before + 1)) ;;
	*) log "NOT OK - A$i: FUNCTIONFS_FIFO_STATUS: $st"; fail=1; continue ;;
	esac
	if [ $stale = 1 ] && [ $rc != 0 ]; then
		stale_failed=$((stale_failed + 1))
	elif [ $stale = 0 ] && [ $rc != 0 ]; then
		log "NOT OK - A$i: failed without a stale reply in the FIFO"
		mismatch=1
	fi
done
if [ $stock = 1 ]; then
	if [ $failed -gt 0 ]; then
		log "ok - A: $failed of 6 sessions failed on the stock dummy_hcd (the bug reproduced)"
	else
		log "NOT OK - A: no session failed on the stock dummy_hcd: the bug did not reproduce"
		fail=1
	fi
elif [ $mismatch = 0 ]; then
	log "ok - A: $failed of 6 sessions failed, each after a stale reply ($stale_before stale, $stale_failed of them failed)"
else
	fail=1
fi

log "B: FUNCTIONFS_FIFO_FLUSH before each session"
failed=0
for i in 1 2 3 4 5 6; do
	st=$(ffs_fifo_test --fifo status $ep_in)
	fl=$(ffs_fifo_test --fifo flush $ep_in)
	session b$i
	[ $rc = 0 ] || failed=$((failed + 1))
	log "B$i: before: $st, $fl; iio_info exit $rc: $(grep -m1 -E 'IIO context|Unable' /tmp/info.b$i)"
done
if [ $stock = 1 ]; then
	if [ $failed -gt 0 ]; then
		log "ok - B: $failed of 6 sessions failed (FIFO_FLUSH does nothing on the stock dummy_hcd)"
	else
		log "NOT OK - B: no session failed on the stock dummy_hcd"
		fail=1
	fi
elif [ $failed = 0 ]; then
	log "ok - B: 6 of 6 sessions succeeded with FUNCTIONFS_FIFO_FLUSH between them"
else
	log "NOT OK - B: $failed of 6 sessions failed despite FUNCTIONFS_FIFO_FLUSH"
	fail=1
fi
[ $fail = 0 ] || die "iiod FIFO checks failed"
log "PASS: iiod over dummy_hcd ($([ $stock = 1 ] && echo stock || echo patched))"
