# The symptom behind kernel-patches/linux-6.12/0002, with Debian's own peer
# stack: iiod serving FunctionFS, six iio_info sessions in a row over
# dummy_hcd. With Debian's dummy_hcd (--udc stock), or with 0001 alone, a short
# reply that iiod wrote while a session was ending stays in the emulated FIFO
# and answers the next session's first command: some sessions fail (two to
# four of six seen; "Unable to create IIO context usb:: Invalid argument" or
# "Input/output error"). With 0001+0002 every session must succeed.
#
# iiod and iio_info come from Debian (packages iiod, libiio-utils; the build copies
# them into BUILD/vm-guest/bin). The expected outcome follows IIOUSB_UDC (stock:
# some session must fail).
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
failed=0
for i in 1 2 3 4 5 6; do
	timeout 30 iio_info -u usb: > /tmp/info.$i 2>&1
	rc=$?
	[ $rc = 0 ] || failed=$((failed + 1))
	log "session $i: iio_info exit $rc: $(grep -m1 -E 'IIO context|Unable' /tmp/info.$i)"
done
if [ "${IIOUSB_UDC:-patched}" = stock ]; then
	[ $failed -gt 0 ] || die "no session failed on the stock dummy_hcd: the bug did not reproduce"
	log "PASS: $failed of 6 sessions failed on the stock dummy_hcd (the bug reproduced)"
else
	[ $failed = 0 ] || die "$failed of 6 iio_info sessions failed"
	log "PASS: 6 iio_info sessions in a row"
fi
