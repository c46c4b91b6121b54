# dummy_hcd's emulated 64-byte FIFO: a short IN request is copied into the
# FIFO and given back at once, before the host reads it. On Debian's module
# (--udc stock) nothing but a disable of the endpoint drops that copy, so a
# reply the gadget wrote while a host session was ending, and then cancelled,
# is read by the next session instead of that session's own reply (with
# Debian's iiod, udc_fifo_iiod: libiio sessions fail). The patched module
# (kernel-patches/linux-6.12/0002) drops the FIFO's data when a request on the
# endpoint is dequeued and on FUNCTIONFS_FIFO_FLUSH.
#
# ffs_fifo_test serves vendor requests (see its header); every host step is a
# separate libusb session (usb_host_rw):
#   1. dequeue: session A asks for "reply 1" plus 4 KiB of data and leaves;
#      session B starts with RESET (the gadget io_cancel()s what is still
#      queued) and asks for "reply 2", then reads.
#      patched: "reply 2"; stock: "reply 1" (stale).
#   2. flush: session C asks for "reply 3" and leaves; session D asks the
#      gadget to FUNCTIONFS_FIFO_FLUSH and send "reply 4", then reads.
#      patched: "reply 4" (FIFO_STATUS says 7 bytes); stock: "reply 3"
#      (FIFO_STATUS and FIFO_FLUSH are not implemented).
#   3. disable: "reply 5" is left in the FIFO, then SET_INTERFACE disables and
#      re-enables the endpoints; "reply 6" must come on both modules.
# The expected outcome follows IIOUSB_UDC (stock: the bug must reproduce),
# or the argument expect=fresh|stale.
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

# 1. A cancelled write on the endpoint must take the FIFO's reply with it.
host --ctrl 2:1
check "dequeue" "reply 2" "reply 1" --ctrl 3:2
# 2. FUNCTIONFS_FIFO_FLUSH.
host --ctrl 1:3
check "fifo flush" "reply 4" "reply 3" --ctrl 4:4
# 3. Disabling the endpoint drops the FIFO on both modules.
host --ctrl 1:5
check "disable" "reply 6" "reply 6" --set-alt --ctrl 1:6

host --ctrl 5
ffs_wait_gadget $gpid /tmp/gadget.log || fail=1
[ $fail = 0 ] || die "emulated FIFO checks failed (expected $expect replies)"
if [ $expect = stale ]; then
	log "PASS: the stale FIFO reply reproduced on the stock dummy_hcd"
else
	log "PASS: no stale FIFO reply after cancel, flush or disable"
fi
