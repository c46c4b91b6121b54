# IIO DMABUF on iio-sim: capture and playback verified word by word (and in
# header mode), channel subsets, pacing, cyclic output, abort, the ENQUEUE's own
# sync_file (kernel-patches 0017); clean rmmod. The DMABUFs
# come from the system dma-heap (from udmabuf on arm64: check_dmabuf_allocators).
# iio-sim reaches them through the DMA addresses of its mapping; on the debug kernel
# (CONFIG_DMABUF_DEBUG) touching their pages would oops.
. /lib/iiousb/functions.sh
check_dmabuf_allocators
load_iio_sim
iio_dev_by_name iio-sim-adc >/dev/null || die "no IIO device iio-sim-adc"
iio_dev_by_name iio-sim-dac >/dev/null || die "no IIO device iio-sim-dac"

run iio_dmabuf_test info
run iio_dmabuf_test -d iio-sim-dac info

# Capture: every byte checked; headers only (simulator and check do not touch
# the data); 3 of 4 channels (6-byte sample sets across page boundaries); paced.
run iio_dmabuf_test -s 16M rx
run iio_dmabuf_test -p header -s 64M -b 4M rx
run iio_dmabuf_test -m 0xb -b 1000K -s 8M rx
run iio_dmabuf_test -r 1000000 -s 4M -b 256K rx

# Playback checked by the DAC's counters; one corrupted byte must be reported
# at its exact stream offset.
run iio_dmabuf_test -s 16M tx
run iio_dmabuf_test -p header -s 64M -b 4M tx
run iio_dmabuf_test -m 0x6 -s 4M -c 1234567 tx

run iio_dmabuf_test -b 64K -r 1000000 -t 2 cyclic
run iio_dmabuf_test -b 256K abort
# kernel-patches 0017: each ENQUEUE returns its own fence (time, error) as a sync_file.
run iio_dmabuf_test -b 64K syncfile

run rmmod iio_sim
run rmmod industrialio_buffer_dma
log "iio_dmabuf: passed"
