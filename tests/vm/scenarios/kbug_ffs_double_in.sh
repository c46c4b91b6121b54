# Reproducer for a Linux 6.12 f_fs bug found while writing ffs_hazards, fixed
# by kernel-patches/linux-6.12/0027, which refuses the second transfer while the
# first is pending, and 0023, which keeps the request's own reference to its
# fence (kbug_ffs_double completes the transfers by a UDC unbind, this scenario
# by host reads): a second
# FUNCTIONFS_DMABUF_TRANSFER of a DMABUF on an IN endpoint while its first IN
# transfer is still pending is allowed (IN transfers only wait for write
# fences), but the new fence has the attachment's fence context and a later
# seqno, so dma_resv_add_fence() replaces the first fence in the reservation
# object and drops the only reference left to it (ffs_dmabuf_transfer() put
# its own after adding it). When the host then reads the first transfer,
# ffs_epfile_dmabuf_io_complete() signals a freed fence. Seen on Debian's
# kernel: "refcount_t: addition on 0; use-after-free", "refcount_t:
# saturated", or a CPU spinning on the freed fence lock (RCU stall); KASAN on
# the debug kernel. The scenario turns warnings and RCU stalls into panics, so
# that the VM ends with the report instead of hanging.
#
# Regression test (our usb_f_fs.ko with 0023 and 0027):  run.sh kbug_ffs_double_in
# Show the bug (f_fs without them, e.g. a build dir whose kmod/modules has no
# usb_f_fs.ko, so that Debian's is loaded):
#   run.sh --expect-report 'refcount_t|rcu_preempt detected stalls|KASAN' kbug_ffs_double_in
# Control case (passes on 6.12, a sync_file holds the first fence):
#                   run.sh kbug_ffs_double_in hold
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

HOLD=
for a in "$@"; do [ "$a" = hold ] && HOLD=1; done
[ -n "$HOLD" ] && log "control case: a sync_file holds the first fence"
echo 1 > /proc/sys/kernel/panic_on_warn
echo 1 > /proc/sys/kernel/panic_on_rcu_stall
load_udc
ffs_gadget_create
# Output straight to the console: the kernel may hang before the program ends.
FFS_DOUBLE_IN_HOLD=$HOLD ffs_dmabuf_test --ready /tmp/ready double-in "$FFS_DIR" &
gpid=$!
ffs_gadget_bind /tmp/ready
wait $gpid || die "double-in checks failed"
log "PASS: a second IN transfer of one DMABUF waits for the first"
