# Helpers for VM scenarios: source /lib/iiousb/functions.sh
# Environment from the harness: IIOUSB_SPEED=hs|ss, IIOUSB_UDC=patched|stock,
# IIOUSB_ARCH=amd64|arm64.

IIOUSB_MODDIR=/lib/modules/iiousb

log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# Load a module from our out-of-tree build unless it is loaded already.
load_own() {
	name=$1
	shift
	if grep -q "^$(echo "$name" | tr - _) " /proc/modules; then
		return 0
	fi
	insmod "$IIOUSB_MODDIR/$name.ko" "$@" || die "insmod $name.ko $*"
}

# Load the USB device controller: Debian's dummy_hcd (IIOUSB_UDC=stock) or our
# patched build (IIOUSB_UDC=patched, the default), at high speed or SuperSpeed.
load_udc() {
	ss=0
	[ "${IIOUSB_SPEED:-hs}" = ss ] && ss=1
	modprobe usbcore || die "modprobe usbcore"
	modprobe udc-core || die "modprobe udc-core"
	if [ "${IIOUSB_UDC:-patched}" = stock ]; then
		modprobe dummy_hcd is_super_speed=$ss || die "modprobe dummy_hcd"
	else
		load_own dummy_hcd is_super_speed=$ss
	fi
	modprobe libcomposite || die "modprobe libcomposite"
	# Our usb_f_fs.ko (built when kernel-patches/ patches f_fs.c) replaces Debian's.
	if [ "${IIOUSB_UDC:-patched}" != stock ] && [ -f "$IIOUSB_MODDIR/usb_f_fs.ko" ]; then
		load_own usb_f_fs
	else
		modprobe usb_f_fs || die "modprobe usb_f_fs"
	fi
	grep -qs ' /sys/kernel/config ' /proc/mounts || mount -t configfs none /sys/kernel/config ||
		die "mount configfs"
	# usbfs limits a process to 16 MiB of URB buffers by default.
	echo 0 > /sys/module/usbcore/parameters/usbfs_memory_mb
	log "UDC $(ls /sys/class/udc) loaded (${IIOUSB_UDC:-patched}, ${IIOUSB_SPEED:-hs})"
}

# Load industrialio and our industrialio-buffer-dma. Our industrialio.ko (built when
# kernel-patches/ patches the IIO core) replaces Debian's.
load_iio() {
	if [ -f "$IIOUSB_MODDIR/industrialio.ko" ]; then
		load_own industrialio
	else
		modprobe industrialio || die "modprobe industrialio"
	fi
	load_own industrialio-buffer-dma
}

# load_iio, then iio-sim (params passed on).
load_iio_sim() {
	load_iio
	load_own iio-sim "$@"
}

# The IIO device directory whose name is $1.
iio_dev_by_name() {
	for d in /sys/bus/iio/devices/iio:device*; do
		[ "$(cat "$d/name" 2>/dev/null)" = "$1" ] && { echo "$d"; return 0; }
	done
	return 1
}

# Fail the scenario if a command does not exit 0.
run() {
	log "+ $*"
	"$@" || die "'$*' exited $?"
}

# The DMABUF allocators: /dev/udmabuf always; /dev/dma_heap/system except on Debian's arm64
# kernel, which has no dma-heaps (CONFIG_DMABUF_HEAPS is off): there iiousbd and the test
# programs allocate with udmabuf.
check_dmabuf_allocators() {
	[ -c /dev/udmabuf ] || die "no /dev/udmabuf"
	if [ "${IIOUSB_ARCH:-amd64}" = arm64 ]; then
		[ ! -e /dev/dma_heap/system ] || log "arm64 kernel with /dev/dma_heap/system"
	else
		[ -c /dev/dma_heap/system ] || die "no /dev/dma_heap/system"
	fi
}
