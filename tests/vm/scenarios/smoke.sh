# Boot, load the rig's modules and check the UDC and the DMABUF allocators are there
# (dma-heap and udmabuf; udmabuf only on arm64).
. /lib/iiousb/functions.sh
load_udc
[ -e /sys/class/udc/dummy_udc.0 ] || die "no dummy_udc.0 in /sys/class/udc"
check_dmabuf_allocators
load_iio
log "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
