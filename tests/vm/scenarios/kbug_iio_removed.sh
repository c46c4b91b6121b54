# Issue 11 (kernel-patches/linux-6.12/0014): a DMABUF enqueued on a disabled IIO
# buffer whose driver then goes away (iio-sim unbound) must be released once every fd
# is closed, and an ENQUEUE after the driver went away must fail with ENODEV.
# Unpatched: the block's fence is never signalled, the DMABUF stays listed in
# /sys/kernel/debug/dma_buf/bufinfo (attached to iio-sim) for good, and the late
# ENQUEUE is accepted.
. /lib/iiousb/functions.sh
load_iio_sim
grep -qs ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
run kbug_iio removed
