# Issue 6, bug 1 follow-up (kernel-patches/linux-6.12/0013): a DMABUF transfer
# aborted by disabling the buffer, then DETACH and enable at once, 20 times, as
# a SCHED_FIFO task on CPU 0 so that the IIO core's cleanup work cannot drop the
# attachment in between: the buffer must come up in fileio mode every time
# (0013 decides from the IIO core's list of attachments; its first version
# flushed only buffer-dma's own cleanup work and failed every round). Then a
# DMABUF enqueued on the disabled buffer and detached: its transfer must still
# run when the buffer is enabled. Unfixed modules: NULL pointer dereference in
# iio_dma_buffer_io() (no 0010) on the first read().
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio detach-race 20
