# Issue 6, bug 4 (kernel-patches/linux-6.12/0020), deterministic: a blocking
# DMABUF transfer on ep2 waits for a write fence with the DMABUF's
# reservation lock held, an IMPORT_SYNC_FILE sleeps on that lock, DETACH on
# ep1 signals the fence; the transfer then releases the lock to the waiter.
# Without 0020 it does so under eps_lock with interrupts off, and lockdep
# (debug kernel) reports "SOFTIRQ-safe -> SOFTIRQ-unsafe" on every run.
. /lib/iiousb/functions.sh
load_udc
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs contend
