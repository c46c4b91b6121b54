# Error paths and lifetime rules of the FunctionFS DMABUF ioctls (the hazards
# raised in the review of the DMABUF interface), against Debian's 6.12 f_fs on
# the patched dummy_hcd: bad arguments and their errnos, DETACH with transfers
# pending (twice, and from two threads at once), O_NONBLOCK TRANSFER behind a
# pending fence, closing the endpoints with transfers in flight, and a UDC
# unbind with transfers pending. Every fence must signal, dmesg stays clean.
#
# The program avoids two 6.12 bugs on purpose: every sync_file is read and
# closed while its DMABUF is still attached (the fence lock is freed with the
# attachment), and nothing is detached after the unbind (NULL ffs->gadget);
# the endpoints are closed instead.
. /lib/iiousb/functions.sh
. /scenarios/_ffs_gadget.sh

[ "${IIOUSB_UDC:-patched}" = patched ] || die "ffs_hazards needs the patched dummy_hcd"

load_udc
ffs_gadget_create
ffs_dmabuf_test --ready /tmp/ready --udc-file "$FFS_GADGET/UDC" hazards "$FFS_DIR" \
	> /tmp/gadget.log 2>&1 &
gpid=$!
ffs_gadget_bind /tmp/ready
ffs_wait_gadget $gpid /tmp/gadget.log || die "hazard checks failed"
log "PASS: DMABUF hazard checks"
