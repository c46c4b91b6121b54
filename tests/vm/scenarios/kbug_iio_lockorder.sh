# Issue 6, bug 3 (kernel-patches/linux-6.12/0012): fileio read() followed by a
# DMABUF attach on the same buffer. On the debug kernel without the fix lockdep
# reports a circular dependency (mmap_lock -> reservation -> queue->lock).
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio lockorder
