# dummy_hcd's emulated 64-byte FIFO: a short IN request is copied into the
# FIFO and given back at once, before the host reads it. On Debian's module
# (--udc stock) nothing but a disable of the endpoint drops that copy. The
# patched module (kernel-patches/linux-6.12/0002) lets a usb_ep_dequeue() of
# exactly the request the data came from drop them while the host has not
# read them (a controller without the FIFO would still have it queued), and
# implements FUNCTIONFS_FIFO_STATUS/_FLUSH; a dequeue of any other request,
# or one that fails, leaves the FIFO alone.
#
# ffs_fifo_test serves vendor requests (see its header); every host step is a
# separate libusb session (usb_host_rw):
#   1. another request: session A asks for "reply 1" (into the FIFO) plus
#      4 KiB of data (queued behind it) and leaves; session B starts with
#      RESET (the gadget io_cancel()s what is still queued: the 4 KiB write's
#      dequeue succeeds, "reply 1"'s write was completed) and asks for
#      "reply 2". Both modules: "reply 1", the dequeue of the 4 KiB request
#      must not drop it.
#   2. own request: the gadget queues "reply 3" and io_cancel()s that write
#      before f_fs has completed it (SCHED_FIFO on CPU 0 with the unbound
#      workqueues confined to CPU 0, see ffs_fifo_test), then queues
#      "reply 4". patched: the dequeue succeeds (EINPROGRESS) and the host
#      reads "reply 4"; stock: it fails (EINVAL), "reply 3".
#   3. flush: session C asks for "reply 5" and leaves; session D asks the
#      gadget to FUNCTIONFS_FIFO_FLUSH and send "reply 6", then reads.
#      patched: "reply 6" (FIFO_STATUS says 7 bytes); stock: "reply 5"
#      (FIFO_STATUS and FIFO_FLUSH are not implemented).
#   4. disable: "reply 7" is left in the FIFO, then SET_INTERFACE disables and
#      re-enables the endpoints; "reply 8" must come on both modules.
# The expected outcome follows IIOUSB_UDC (stock: the stale replies must
# reproduce), or the argument expect=fresh|stale.
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

expect=fresh
[ "${IIOUSB_UDC:-patched}" = stock ] && expect=stale
for a in "$@"; do
	case $a in
	expect=fresh|expect=stale) expect=${a#expect=} ;;
	*) die "unknown argument '$a'" ;;
	esac
done
log "udc=${IIOUSB_UDC:-patched}: expecting $expect replies after cancel/flush"

load_udc
# Case 2: f_fs completes AIO from an unbound workqueue; keep its workers on
# CPU 0, where the gadget cancels its write as a SCHED_FIFO task.
echo 1 > /sys/devices/virtual/workqueue/cpumask ||
	die "cannot confine unbound workqueues to CPU 0"
ffs_gadget_create
ffs_fifo_test --ready /tmp/ready "$FFS_DIR" > /tmp/gadget.log 2>&1 &
gpid=$!
ffs_gadget_bind /tmp/ready

fail=0
host() {
	echo "  host\$ usb_host_rw $*"
	usb_host_rw --wait-ms 10000 "$@" 2>&1 | grep -v '^device ' | sed 's/^/  host| /'
}
# check NAME FRESH STALE [usb_host_rw args]: read one reply, compare.
check() {
	name=$1 fresh=$2 stale=$3
	shift 3
	if [ $expect = fresh ]; then want=$fresh; else want=$stale; fi
	what=$expect
	[ "$fresh" = "$stale" ] && what="the same on both modules"
	echo "  host\$ usb_host_rw $* --read-once 64"
	out=$(usb_host_rw --wait-ms 10000 "$@" --read-once 64 2>&1 | grep '^READ')
	echo "  host| $out"
	case $out in
	"READ ${#want} \"$want\"")
		log "ok - $name: read \"$want\" ($what, as expected)" ;;
	*)
		log "NOT OK - $name: expected \"$want\""
		fail=1 ;;
	esac
	# Whatever is still queued (the stock module's late replies) goes.
	host --drain --read-timeout-ms 300
}

# 1. A dequeue of another request leaves the FIFO's data alone.
host --ctrl 2:1
check "dequeue of another request" "reply 1" "reply 1" --ctrl 3:2
# 2. A dequeue of the request the FIFO's data came from drops them.
check "dequeue of the FIFO's own request" "reply 4" "reply 3" --ctrl 6:3
# 3. FUNCTIONFS_FIFO_FLUSH.
host --ctrl 1:5
check "fifo flush" "reply 6" "reply 5" --ctrl 4:6
# 4. Disabling the endpoint drops the FIFO on both modules.
host --ctrl 1:7
check "disable" "reply 8" "reply 8" --set-alt --ctrl 1:8

host --ctrl 5
ffs_wait_gadget $gpid /tmp/gadget.log || fail=1
# What the gadget saw of cases 2 and 3.
if [ $expect = fresh ]; then want_cancel=EINPROGRESS want_status="7 bytes"
else want_cancel=EINVAL want_status="Operation not supported"; fi
got=$(sed -n 's/^gadget: own cancel: //p' /tmp/gadget.log)
if [ "$got" = "$want_cancel" ]; then
	log "ok - own request: io_cancel() returned $got"
else
	log "NOT OK - own request: io_cancel() returned '$got', expected $want_cancel"
	fail=1
fi
got=$(sed -n 's/^gadget: FUNCTIONFS_FIFO_STATUS: //p' /tmp/gadget.log)
if [ "$got" = "$want_status" ]; then
	log "ok - FUNCTIONFS_FIFO_STATUS before the flush: $got"
else
	log "NOT OK - FUNCTIONFS_FIFO_STATUS before the flush: '$got', expected $want_status"
	fail=1
fi
[ $fail = 0 ] || die "emulated FIFO checks failed (expected $expect replies)"
if [ $expect = stale ]; then
	log "PASS: the stale FIFO reply reproduced on the stock dummy_hcd"
else
	log "PASS: FIFO data kept on another request's dequeue, dropped on its own request's dequeue, flush and disable"
fi
