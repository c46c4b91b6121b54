# The IIO DMABUF interface's misuse cases and lifetime hazards on iio-sim,
# each with its documented errno or fence status; clean rmmod afterwards.
. /lib/iiousb/functions.sh
[ -c /dev/dma_heap/system ] || die "no /dev/dma_heap/system"
load_iio_sim
run iio_dmabuf_test -b 64K hazards
run iio_dmabuf_test -b 64K -n 4 abort
# A repeating cyclic block and queued blocks when the module goes away
run iio_dmabuf_test -b 16K -t 0.4 cyclic
run rmmod iio_sim
run rmmod industrialio_buffer_dma
log "iio_hazards: passed"
