# Issue 6, bug 1 (kernel-patches/linux-6.12/0010, 0013): a non-blocking read()
# on the IIO buffer fd in DMABUF mode must fail with EBUSY (unpatched: NULL
# pointer dereference in iio_dma_buffer_dequeue()), and the buffer enabled right
# after DETACH must be in fileio mode.
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio dmabuf-read
