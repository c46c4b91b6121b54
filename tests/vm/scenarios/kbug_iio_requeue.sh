# Issue 14 (kernel-patches/linux-6.12/0015): an output DMABUF enqueued again while its
# block is still queued (the DAC stalled) must get EBUSY and leave the queued block's
# fence in the DMABUF's reservation object. Unpatched: the second ENQUEUE replaces that
# fence (same context) and drops its only reference, so the reservation object reads as
# idle while the DAC holds the block, and the block's completion takes a reference on the
# freed fence ("refcount_t: addition on 0; use-after-free"; KASAN stays quiet: the fence's
# memory goes back after an RCU grace period).
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio requeue-out
