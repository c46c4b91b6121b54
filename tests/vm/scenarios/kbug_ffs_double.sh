# kernel-patches/linux-6.12/0023: two transfers of one DMABUF in flight on one
# endpoint, completed by unbinding the UDC; both fences must read -ESHUTDOWN
# (unpatched: the first fence is freed while its request is in flight,
# "refcount_t: addition on 0; use-after-free").
. /lib/iiousb/functions.sh
load_udc
# Our usb_f_fs.ko is built out of tree: taint flag O.
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs double
