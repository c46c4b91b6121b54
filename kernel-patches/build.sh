#!/usr/bin/env bash
# Build iiousb's kernel modules out of tree against a kernel build directory.
#
#   kernel-patches/build.sh --kdir KDIR --out OUTDIR [--source TARBALL] [--series DIR] [--rig-only]
#
# The files we rebuild (dummy_hcd, industrialio-buffer-dma, and whatever the
# patches touch: f_fs as usb_f_fs.ko, the IIO core as industrialio.ko) are extracted from the linux-source tarball of the same
# version (with industrialio-buffer-dmaengine when a patch changes the struct it embeds and
# the kernel builds it as a module), the series' patches (*.patch, in name order) are applied with
# patch -p1, our own modules (kernel-patches/<module>/<module>.c) are added,
# and Kbuild runs with M= pointing at that tree. ARCH and CROSS_COMPILE are
# taken from the environment and passed to make for board kernels. The .ko
# files are collected in OUTDIR/modules. --rig-only applies only the test rig's
# patches (0001-0009, dummy_hcd: 0001-0005 today), not the fixes (0010 and up): the modules then
# carry the kernel's bugs, for the regression scenarios that reproduce them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kdir=
out=
tarball=/usr/src/linux-source-6.12.tar.xz
series=$here/linux-6.12
jobs=$(nproc)
rig_only=

usage() {
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--kdir) kdir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--source) tarball=$2; shift 2 ;;
	--series) series=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	--rig-only) rig_only=1; shift ;;
	-h|--help) usage 0 ;;
	*) echo "build.sh: unknown argument '$1'" >&2; usage 2 >&2 ;;
	esac
done

fail() { echo "build.sh: $*" >&2; exit 1; }
[ -n "$kdir" ] || fail "--kdir is required (a kernel build dir, e.g. /usr/src/linux-headers-\$(uname -r))"
[ -n "$out" ] || fail "--out is required"
[ -f "$kdir/Makefile" ] || fail "$kdir: not a kernel build directory (no Makefile)"
[ -f "$tarball" ] || fail "$tarball: linux-source tarball not found (apt-get install linux-source-6.12)"
[ -d "$series" ] || fail "$series: patch series directory not found"

mkdir -p "$out"
out=$(cd "$out" && pwd)

# Stock sources we build as modules: the source files (and their local headers)
# of every module, plus every file a patch in the series touches.
stock_files=(
	drivers/usb/gadget/udc/dummy_hcd.c
	drivers/iio/buffer/industrialio-buffer-dma.c
)
pattern='*.patch'
[ -n "$rig_only" ] && pattern='000[1-9]-*.patch'
mapfile -t patches < <(find "$series" -maxdepth 1 -name "$pattern" | sort)
patched_files=()
for p in "${patches[@]}"; do
	while read -r f; do
		patched_files+=("$f")
	done < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$p")
done
# A patched FunctionFS is built as a replacement usb_f_fs.ko, with the local
# headers f_fs.c includes.
ffs=drivers/usb/gadget/function/f_fs.c
ffs_patched=
if printf '%s\n' "${patched_files[@]}" | grep -x "$ffs" > /dev/null; then
	ffs_patched=1
	stock_files+=(drivers/usb/gadget/function/u_fs.h
		drivers/usb/gadget/u_os_desc.h drivers/usb/gadget/configfs.h)
fi
# A patched IIO core is built as a replacement industrialio.ko from all of its
# source files, composed as drivers/iio/Makefile does.
iio_core=(drivers/iio/industrialio-core.c drivers/iio/industrialio-event.c drivers/iio/inkern.c
	drivers/iio/industrialio-buffer.c drivers/iio/industrialio-trigger.c
	drivers/iio/industrialio-acpi.c)
iio_patched=
if printf '%s\n' "${patched_files[@]}" | grep -x -F "${iio_core[@]/#/-e}" > /dev/null; then
	iio_patched=1
	stock_files+=("${iio_core[@]}" drivers/iio/iio_core.h drivers/iio/iio_core_trigger.h)
fi
# A patched include/linux/iio/buffer-dma.h changes struct iio_dma_buffer_queue, which
# industrialio-buffer-dmaengine embeds: where the kernel builds that as a module (Debian's
# arm64 and armhf kernels, not amd64), it is rebuilt too, to replace the stock one together
# with industrialio-buffer-dma.ko.
dmaengine=drivers/iio/buffer/industrialio-buffer-dmaengine.c
dmaengine_rebuilt=
if printf '%s\n' "${patched_files[@]}" | grep -x include/linux/iio/buffer-dma.h > /dev/null &&
	grep -x 'CONFIG_IIO_BUFFER_DMAENGINE=m' "$kdir/.config" > /dev/null 2>&1; then
	dmaengine_rebuilt=1
	stock_files+=("$dmaengine")
fi
mapfile -t want < <(printf '%s\n' "${stock_files[@]}" "${patched_files[@]}" | sort -u)

# Extract once per tarball and file list (xz has to decompress the whole stream).
pristine=$out/pristine
stamp="$(stat -c '%s %Y' "$tarball") ${want[*]}"
if [ ! -f "$pristine/.stamp" ] || [ "$(cat "$pristine/.stamp")" != "$stamp" ]; then
	rm -rf "$pristine"
	mkdir -p "$pristine"
	top=$(basename "$tarball" .tar.xz)	# linux-source-6.12.tar.xz holds linux-source-6.12/
	echo "build.sh: extracting ${#want[@]} files from $tarball"
	tar xJf "$tarball" -C "$pristine" --strip-components=1 \
		"${want[@]/#/$top/}"
	echo "$stamp" > "$pristine/.stamp"
fi

tree=$out/tree
rm -rf "$tree"
mkdir -p "$tree"
(cd "$pristine" && cp --parents "${want[@]}" "$tree/")
for p in "${patches[@]}"; do
	echo "build.sh: applying $(basename "$p")"
	patch -p1 -s --batch --forward -d "$tree" < "$p" ||
		fail "$(basename "$p") does not apply to $tarball"
done

objs=(
	drivers/usb/gadget/udc/dummy_hcd.o
	drivers/iio/buffer/industrialio-buffer-dma.o
)
[ -n "$dmaengine_rebuilt" ] && objs+=("${dmaengine%.c}.o")
for d in "$here"/*/; do
	m=$(basename "$d")
	[ -f "$d/$m.c" ] || continue
	mkdir -p "$tree/iiousb/$m"
	cp "$d/$m.c" "$tree/iiousb/$m/"
	objs+=("iiousb/$m/$m.o")
done
{
	echo "# generated by kernel-patches/build.sh"
	echo "ccflags-y += -Werror"
	# Headers a patch changes (e.g. a new uapi flag) come from the tree, before
	# KDIR's: NOSTDINC_FLAGS precedes LINUXINCLUDE on the compiler's command line.
	if printf '%s\n' "${patched_files[@]}" | grep '^include/' > /dev/null; then
		echo "NOSTDINC_FLAGS += -I\$(src)/include"
	fi
	for o in "${objs[@]}"; do
		echo "obj-m += $o"
	done
	if [ -n "$ffs_patched" ]; then
		echo "usb_f_fs-y := ${ffs%.c}.o"
		echo "CFLAGS_${ffs%.c}.o += -I\$(src)/drivers/usb/gadget"
		echo "obj-m += usb_f_fs.o"
	fi
	if [ -n "$iio_patched" ]; then
		echo "industrialio-y := drivers/iio/industrialio-core.o drivers/iio/industrialio-event.o"
		echo "industrialio-y += drivers/iio/inkern.o"
		echo "industrialio-\$(CONFIG_IIO_BUFFER) += drivers/iio/industrialio-buffer.o"
		echo "industrialio-\$(CONFIG_IIO_TRIGGER) += drivers/iio/industrialio-trigger.o"
		echo "industrialio-\$(CONFIG_ACPI) += drivers/iio/industrialio-acpi.o"
		echo "obj-m += industrialio.o"
	fi
} > "$tree/Kbuild"

make_args=(-C "$kdir" M="$tree" -j"$jobs")
[ -n "${ARCH:-}" ] && make_args+=(ARCH="$ARCH")
[ -n "${CROSS_COMPILE:-}" ] && make_args+=(CROSS_COMPILE="$CROSS_COMPILE")
make "${make_args[@]}" modules

rm -rf "$out/modules"
mkdir -p "$out/modules"
find "$tree" -name '*.ko' -exec cp {} "$out/modules/" \;
echo "build.sh: modules in $out/modules:"
ls "$out/modules"
