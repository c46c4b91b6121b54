# Issue 6, bug 2 (kernel-patches/linux-6.12/0011): after a fileio session that
# consumed one block, the next session must start with block 0 (unpatched:
# block 1 first, caught by iio-sim's pattern).
. /lib/iiousb/functions.sh
load_iio_sim
run kbug_iio reorder
