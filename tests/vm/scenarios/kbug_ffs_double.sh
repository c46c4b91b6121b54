# kernel-patches/linux-6.12/0027 (and 0023): a second transfer of one DMABUF while its
# first is in flight on the endpoint must be refused (EBUSY); the UDC unbind then ends
# the first with -ESHUTDOWN. Unpatched: the second is accepted and replaces the first
# fence in the reservation object, which frees it while its request is in flight
# ("refcount_t: addition on 0; use-after-free" at the unbind).
. /lib/iiousb/functions.sh
load_udc
# Our usb_f_fs.ko is built out of tree: taint flag O.
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs double
