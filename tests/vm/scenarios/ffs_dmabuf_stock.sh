# Debian's dummy_hcd has no scatter-gather: FUNCTIONFS_DMABUF_ATTACH must fail
# with EPERM on both endpoints, and the copy fallback (write()/read() on the
# endpoint files through the mmapped DMABUF) must move 4 MiB each way intact.
# Run with --udc stock.
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

[ "${IIOUSB_UDC:-patched}" = stock ] || die "run ffs_dmabuf_stock with --udc stock"

load_udc
ffs_gadget_create
ffs_dmabuf_test --ready /tmp/ready --in-bytes 4M --out-bytes $((4 * 1024 * 1024 + 100)) \
	eperm "$FFS_DIR" > /tmp/gadget.log 2>&1 &
gpid=$!
ffs_gadget_bind /tmp/ready
usb_host_rw --in 4M --out $((4 * 1024 * 1024 + 100)) --urbs 4 --urb-size 256K
hrc=$?
ffs_wait_gadget $gpid /tmp/gadget.log || die "gadget side failed"
[ $hrc = 0 ] || die "host side failed ($hrc)"
log "PASS: DMABUF import refused with EPERM, copy fallback verified"
