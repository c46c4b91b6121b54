# Issue 6, bug 3 follow-up (kernel-patches/linux-6.12/0012): with queue->lock
# no longer held across copy_to_user(), two threads reading the same buffer fd
# at once must still wait for each other (queue->fileio.lock) and both get
# data, never EBUSY. The unfixed modules pass too (they copy under queue->lock).
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio readers
