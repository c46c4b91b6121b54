#!/usr/bin/env bash
# Build the test VM's initramfs (an uncompressed newc cpio):
#   mkinitramfs.sh --kver KVER --build-dir BUILD --out FILE [--modroot DIR] [--kmod DIR] [--python]
#                  [--arch amd64|arm64]
# It carries busybox, the guest init and scenario scripts, the kernel's own
# modules the rig needs (from DIR/lib/modules/KVER, default /lib/modules/KVER;
# decompressed, with their own modules.dep), our out-of-tree modules (--kmod,
# default BUILD/kmod/modules), and every executable in BUILD/vm-guest/bin with
# the shared libraries it links; with --python, python3 and its libiio bindings
# (guest-python.sh).
# --arch arm64 (the arm64 rig, run.sh --arch arm64): busybox is DIR/bin/busybox (Debian's
# busybox-static:arm64, unpacked there with the kernel), and the programs' libraries are
# found by their DT_NEEDED entries in the arm64 multiarch directories (Debian's
# lib*:arm64 packages, tests/cross/install-deps.sh), as ldd cannot run arm64 programs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prog=mkinitramfs
. "$here/rootfs-args.sh" "$@"
[ -n "$kmod" ] || kmod=$build/kmod/modules
if [ "$arch" = amd64 ]; then
	busybox=/bin/busybox
	[ -x $busybox ] || fail "/bin/busybox missing (apt-get install busybox-static)"
	ldd $busybox >/dev/null 2>&1 && fail "/bin/busybox is not static (install busybox-static)"
	applets() { $busybox --list; }
else
	[ "$python" = 0 ] || fail "--python: not for --arch $arch"
	busybox=$modroot/bin/busybox
	[ -f "$busybox" ] || fail "$busybox missing (run.sh --arch $arch unpacks busybox-static:$arch there)"
	# The applets of the arm64 busybox, under qemu-user if it is there; else the build
	# machine's busybox-static (the same Debian version and configuration).
	applets() {
		if command -v qemu-aarch64-static > /dev/null; then
			qemu-aarch64-static "$busybox" --list
		else
			/bin/busybox --list
		fi
	}
	triplet=aarch64-linux-gnu
	strip_prog=$triplet-strip
	libdirs="/lib/$triplet /usr/lib/$triplet /usr/local/lib/$triplet"
fi

# copy_stripped SRC DEST: our programs and modules without their debug information (the
# build tree keeps it, for gdb and addr2line on the host): half the initramfs otherwise,
# which every boot writes and the guest's kernel unpacks under TCG. Symbols stay (lockdep
# and KASAN name functions through kallsyms). A plain copy where no strip for the
# architecture is installed.
: "${strip_prog:=strip}"
copy_stripped() {
	if command -v "$strip_prog" > /dev/null; then
		"$strip_prog" --strip-debug -o "$2" "$1"
	else
		cp "$1" "$2"
	fi
}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/lib/iiousb,lib/iiousb,lib64,proc,sys,dev,tmp,run,root,etc,scenarios}
cp "$busybox" "$root/bin/busybox"
# (One process for the ~400 links: a fork each took 3 s, and every VM run builds this.)
applets | perl -e 'chomp(my @a = <STDIN>); for (@a) { my $l = "$ARGV[0]/$_"; -e $l or symlink("busybox", $l) or die "$l: $!\n" }' "$root/bin"
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
	for ko in "$kmod"/*.ko; do
		copy_stripped "$ko" "$root/lib/modules/iiousb/${ko##*/}"
	done
fi

# needed_libs ELF: the paths of the shared libraries ELF needs, directly or not, found in
# $libdirs (--arch arm64: ldd cannot run the programs).
needed_libs() {
	local -A found=()
	local queue=("$1") f n d p
	while [ ${#queue[@]} -gt 0 ]; do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
			[ -z "${found[$n]:-}" ] || continue
			p=
			for d in $libdirs; do
				[ -e "$d/$n" ] && { p=$d/$n; break; }
			done
			[ -n "$p" ] || fail "$1 needs $n (through $f): not in $libdirs"
			found[$n]=$p
			queue+=("$p")
		done
	done
	[ ${#found[@]} = 0 ] || printf '%s\n' "${found[@]}"
}

# Guest programs and the shared libraries they need (amd64: one ldd for all of them).
exes=()
for exe in "$build"/vm-guest/bin/*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	exes+=("$exe")
	case $(head -c 4 "$exe") in
	$'\x7fELF') copy_stripped "$exe" "$root/usr/bin/${exe##*/}" ;;
	*) cp "$exe" "$root/usr/bin/" ;;
	esac
done
if [ "$arch" = amd64 ]; then
	# (ldd exits 1 when one of them is a script: "not a dynamic executable".)
	{ ldd "${exes[@]}" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' > "$root/.libs"
else
	for exe in "${exes[@]}"; do
		needed_libs "$exe"
	done > "$root/.libs"
fi
mapfile -t libs < <(sort -u "$root/.libs")
rm -f "$root/.libs"
for lib in ${libs[@]+"${libs[@]}"}; do
	case $lib in
	*/ld-linux-aarch64*) cp -L "$lib" "$root/lib/$(basename "$lib")" ;;
	*/ld-linux*) cp -L "$lib" "$root/lib64/$(basename "$lib")" ;;
	*) cp -L "$lib" "$root/usr/lib/iiousb/" ;;
	esac
done

if [ "$python" = 1 ]; then
	"$here/guest-python.sh" "$root"
	cp "$here"/progs/*.py "$root/usr/bin/"
fi

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$out"
