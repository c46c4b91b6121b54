#!/usr/bin/env bash
# Build the test VM's initramfs (an uncompressed newc cpio):
#   mkinitramfs.sh --kver KVER --build-dir BUILD --out FILE [--modroot DIR] [--kmod DIR] [--python]
# It carries busybox, the guest init and scenario scripts, the kernel's own
# modules the rig needs (from DIR/lib/modules/KVER, default /lib/modules/KVER;
# decompressed, with their own modules.dep), our out-of-tree modules (--kmod,
# default BUILD/kmod/modules), and every executable in BUILD/vm-guest/bin with
# the shared libraries it links; with --python, python3 and its libiio bindings
# (guest-python.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=mkinitramfs
. "$here/rootfs-args.sh" "$@"
[ -n "$kmod" ] || kmod=$build/kmod/modules
[ -x /bin/busybox ] || fail "/bin/busybox missing (apt-get install busybox-static)"
ldd /bin/busybox >/dev/null 2>&1 && fail "/bin/busybox is not static (install busybox-static)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/iiousb,lib/iiousb,lib64,proc,sys,dev,tmp,run,root,etc,scenarios}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
install -m 755 "$here/guest/init" "$root/init"
install -m 644 "$here/guest/functions.sh" "$root/lib/iiousb/functions.sh"
cp "$here"/scenarios/*.sh "$root/scenarios/" 2>/dev/null || true
# iiousbd's example configurations (iiousbd.yaml is the simulated device's).
mkdir -p "$root/etc/iiousbd"
cp "$here"/../../config/*.yaml "$root/etc/iiousbd/" 2>/dev/null || true
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

# Stock modules and everything they depend on.
stock=(usbcore udc-core dummy_hcd libcomposite usb_f_fs configfs industrialio usbmon)
mdir=$modroot/lib/modules/$kver
[ -d "$mdir/kernel" ] || fail "$mdir: modules of kernel $kver not installed"
mapfile -t kos < <(for m in "${stock[@]}"; do
	modprobe -d "${modroot:-/}" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | sort -u)
for ko in "${kos[@]}"; do
	rel=${ko#"$modroot"}
	rel=${rel#/}
	mkdir -p "$root/$(dirname "$rel")"
	case $ko in
	*.xz) xz -dc "$ko" > "$root/${rel%.xz}" ;;
	*.zst) zstd -qdc "$ko" > "$root/${rel%.zst}" ;;
	*) cp "$ko" "$root/$rel" ;;
	esac
done
cp "$mdir"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"

# Our modules.
if [ -d "$kmod" ]; then
	mkdir -p "$root/lib/modules/iiousb"
	cp "$kmod"/*.ko "$root/lib/modules/iiousb/"
fi

# Guest programs and the shared libraries they need.
declare -A libs=()
for exe in "$build"/vm-guest/bin/*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	cp "$exe" "$root/usr/bin/"
	while read -r lib; do
		libs[$lib]=1
	done < <(ldd "$exe" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }')
done
for lib in "${!libs[@]}"; do
	case $lib in
	*/ld-linux*) cp -L "$lib" "$root/lib64/$(basename "$lib")" ;;
	*) cp -L "$lib" "$root/usr/lib/iiousb/" ;;
	esac
done

if [ "$python" = 1 ]; then
	"$here/guest-python.sh" "$root"
	cp "$here"/progs/*.py "$root/usr/bin/"
fi

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$out"
