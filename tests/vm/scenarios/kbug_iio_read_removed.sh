# Bug 10 (kernel-patches/linux-6.12/0016): non-blocking fileio read()s on iio-sim's ADC
# while the device is unbound, 100 times: every reader must end with ENODEV. Without the
# fix a read that passed iio_buffer_ready()'s check of indio_dev->info before the unbind
# cleared it reads it again to flush the hardware FIFO: NULL dereference at 0x98. First
# seen as vm.daemon_iio_hotplug_copy's oops in CI (iiousbd's copy path, the same reads).
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio read-removed "${1:-100}"
