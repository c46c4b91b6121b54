# Boot, load the rig's modules and check the UDC and the dma-heap are there.
. /lib/iiousb/functions.sh
load_udc
[ -e /sys/class/udc/dummy_udc.0 ] || die "no dummy_udc.0 in /sys/class/udc"
[ -c /dev/dma_heap/system ] || die "no /dev/dma_heap/system"
[ -c /dev/udmabuf ] || die "no /dev/udmabuf"
load_iio
log "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
