# Issue 6, bug 5 (kernel-patches/linux-6.12/0021): SYNC_IOC_FILE_INFO on the
# sync_file of an FFS transfer after DETACH and after closing the endpoint
# (unpatched: the fence lock is freed with the attachment; KASAN on the debug
# kernel).
. /lib/iiousb/functions.sh
load_udc
# Our usb_f_fs.ko is built out of tree: taint flag O.
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs fence
