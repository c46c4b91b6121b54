# FunctionFS DMABUF transfers on the patched dummy_hcd (kernel-patches/linux-6.12/
# 0001: gadget-side scatter-gather). Run with --speed hs and --speed ss.
#
# Pass 1 moves 64 MiB each way through four 1 MiB DMABUFs per endpoint
# (attached with FUNCTIONFS_DMABUF_ATTACH, queued with FUNCTIONFS_DMABUF_TRANSFER,
# waited for on a sync_file exported right after queueing). Pass 2 uses
# transfer lengths that are not multiples of the packet size (short packets
# in the middle of the IN stream, a short last packet on OUT, transfers shorter
# than the DMABUF) and odd totals. usb_host_rw checks every IN byte, the
# gadget (ffs_dmabuf_test) every OUT byte, and every fence must report 1.
# Pass 3 moves 8 MiB each way with read()/write() on the endpoint files (the
# daemon's copy fallback): with sg_supported set, f_fs hands those to the UDC
# as scatter-gather requests too. dummy_hcd reaches the DMABUF requests (mapped
# by f_fs, sg_was_mapped) through their DMA addresses and the read()/write()
# ones through their pages; on the debug kernel (CONFIG_DMABUF_DEBUG: importers
# get no page pointers) a UDC that took the pages of a DMABUF request oopses.
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

[ "${IIOUSB_UDC:-patched}" = patched ] ||
	die "ffs_dmabuf needs the patched dummy_hcd (ffs_dmabuf_stock covers the stock one)"

load_udc
ffs_gadget_create

# stream_pass NAME MODE IN_BYTES OUT_BYTES [ffs_dmabuf_test options...]
stream_pass() {
	name=$1 mode=$2 in=$3 out=$4
	shift 4
	log "pass $name ($mode): IN $in bytes, OUT $out bytes $*"
	rm -f /tmp/ready
	ffs_dmabuf_test --ready /tmp/ready --in-bytes "$in" --out-bytes "$out" "$@" \
		"$mode" "$FFS_DIR" > /tmp/gadget.log 2>&1 &
	gpid=$!
	ffs_gadget_bind /tmp/ready
	usb_host_rw --in "$in" --out "$out" --urbs 8 --urb-size 1M
	hrc=$?
	ffs_wait_gadget $gpid /tmp/gadget.log
	grc=$?
	[ $hrc = 0 ] || die "pass $name: host side failed ($hrc)"
	[ $grc = 0 ] || die "pass $name: gadget side failed ($grc)"
	# The gadget program closed ep0, which unbinds the gadget.
	n=0
	while [ -n "$(cat "$FFS_GADGET/UDC")" ] && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
}

stream_pass full stream 64M 64M --buf-size 1M --bufs 4
stream_pass odd stream $((16 * 1024 * 1024 + 333)) $((16 * 1024 * 1024 + 777)) \
	--buf-size 1M --bufs 3 --odd
stream_pass copy copy 8M $((8 * 1024 * 1024 + 100)) --buf-size 256K
log "PASS: DMABUF streams verified at ${IIOUSB_SPEED:-hs}"
