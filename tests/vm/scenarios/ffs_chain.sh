# kernel-patches/linux-6.12/0028, USB_FFS_DMABUF_TRANSFER_AFTER_FENCES: an IN transfer
# queued behind the fence of a DMABUF that iio-sim's ADC is filling (held back with
# sim_stall). It must wait in the kernel, not in the ioctl, be queued once the IIO block
# completes, fail with the IIO block's error, be cancelled by DETACH and close
# (ECANCELED) and fail once the endpoint was disabled (ESHUTDOWN); then rounds of the IIO
# completion racing DETACH and close (optional argument, default 200), and a twentieth
# of that racing an unbind (which drains f_fs's completion workqueue). On the debug
# kernel lockdep and KASAN watch the fence callback's locking.
. /lib/iiousb/functions.sh
load_udc
load_iio_sim
run kbug_ffs chain "$@"
