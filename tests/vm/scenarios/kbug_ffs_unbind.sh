# Issue 6, bug 6 (kernel-patches/linux-6.12/0022): FUNCTIONFS_DMABUF_DETACH and
# _TRANSFER after the UDC was unbound (unpatched: NULL ffs->gadget dereference; patched:
# both fail with ENODEV, ATTACH with EPERM, and close() releases the attachment).
. /lib/iiousb/functions.sh
load_udc
# Our usb_f_fs.ko is built out of tree: taint flag O.
log "usb_f_fs taint: '$(cat /sys/module/usb_f_fs/taint)'"
run kbug_ffs unbind
