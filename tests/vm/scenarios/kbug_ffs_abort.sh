# Issue 6, bug 4 (kernel-patches/linux-6.12/0020): DMABUF transfers aborted by
# DETACH and close on two endpoints at once with the same DMABUF (unpatched,
# on the debug kernel: lockdep "SOFTIRQ-safe -> SOFTIRQ-unsafe" for the
# reservation lock released under eps_lock; intermittent).
# Optional argument: number of rounds (default 500).
. /lib/iiousb/functions.sh
load_udc
# Our usb_f_fs.ko is built out of tree: taint flag O.
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs abort "$@"
