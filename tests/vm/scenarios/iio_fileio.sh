# fileio (read()/write() on /dev/iio:deviceN) on iio-sim, verified; module
# parameters; clean rmmod. Each session moves an even number of blocks (6.12's
# buffer-dma does not reset fileio.next_dequeue, see DESIGN.md).
. /lib/iiousb/functions.sh
load_iio_sim
adc=$(iio_dev_by_name iio-sim-adc) || die "no IIO device iio-sim-adc"

run iio_dmabuf_test -s 8M fileio-rx
run iio_dmabuf_test -s 8M fileio-tx
run iio_dmabuf_test -m 0x5 -l 8192 -s 4M fileio-rx
run iio_dmabuf_test -p header -s 32M -l 65536 fileio-rx
run iio_dmabuf_test -p header -s 32M -l 65536 fileio-tx
run iio_dmabuf_test -r 500000 -s 2M fileio-rx
run rmmod iio_sim

# Parameters: bad values are refused, good ones show in sysfs.
for bad in channels=0 channels=17 pattern=bogus max_fileio_block=0; do
	insmod /lib/modules/iiousb/iio-sim.ko $bad 2>/dev/null && die "insmod iio-sim $bad succeeded"
done
load_iio_sim channels=2 pattern=header sampling_frequency=0 max_fileio_block=65536
adc=$(iio_dev_by_name iio-sim-adc) || die "no IIO device iio-sim-adc"
[ "$(cat "$adc/sim_pattern")" = header ] || die "sim_pattern is $(cat "$adc/sim_pattern"), want header"
[ "$(cat "$adc/sampling_frequency")" = 0 ] || die "sampling_frequency is $(cat "$adc/sampling_frequency")"
[ "$(ls "$adc/buffer0" | grep -c '^in_voltage[0-9]*_en$')" = 2 ] || die "want 2 channels"
[ "$(cat "$adc/label")" = iio-sim-adc ] || die "label is $(cat "$adc/label")"
# max_fileio_block: a length of 1M sample sets is clamped to 64 KiB blocks
run iio_dmabuf_test -p header -l 1048576 -s 1M fileio-rx
[ "$(cat "$adc/buffer0/length")" = 32768 ] || die "length $(cat "$adc/buffer0/length"), want 32768"
run rmmod iio_sim
run rmmod industrialio_buffer_dma
log "iio_fileio: passed"
