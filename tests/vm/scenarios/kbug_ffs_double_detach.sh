# kernel-patches/linux-6.12/0027: a second transfer of one DMABUF while its first is in
# flight must be refused (EBUSY), and DETACH must cancel the first (its sync_file reads
# -ECONNRESET). Unpatched: the second is accepted, the attachment tracks only that one,
# and DETACH leaves the first queued with its fence pending ("outlived DETACH").
. /lib/iiousb/functions.sh
load_udc
run kbug_ffs double-detach
