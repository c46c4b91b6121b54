#!/usr/bin/env bash
# Build the test VM's initramfs for scenarios that need a real systemd as PID 1
# (run.sh --rootfs systemd): an uncompressed newc cpio booted with
# rdinit=/lib/systemd/systemd.
#
#   mkrootfs-systemd.sh --kver KVER --build-dir BUILD --out FILE [--kmod DIR] [--modroot DIR]
#                       [--debs DIR]
#
# The systemd part comes from Debian's archive: `apt-get download` of systemd and the
# libraries its binaries link (the list below; the script checks that every DT_NEEDED of
# every ELF file is present and fails naming the missing ones), unpacked with
# `dpkg-deb -x`. That tree is cached under ${XDG_CACHE_HOME:-~/.cache}/iiousb/ keyed by
# the packages' versions, so only the first build downloads (about 10 MB). Each run then
# adds what mkinitramfs.sh puts in the busybox initramfs (busybox for the shell tools,
# the kernel modules the rig needs, our modules, the guest programs with iiousbd and the
# libraries they link), the iiousbd unit from systemd/iiousbd.service.in, and the units
# that run the scenario (tests/vm/guest/systemd/).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prog=mkrootfs-systemd
. "$here/rootfs-args.sh" "$@"
[ "$arch" = amd64 ] || fail "--arch $arch: the systemd root is built for amd64 only"
[ "$python" = 0 ] || fail "--python: only the busybox initramfs carries python3"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || fail "needs apt-get and dpkg-deb (Debian)"

# systemd (PID 1, systemctl, journalctl, journald), util-linux's mount (mount units), and
# the libraries they link. No dbus: systemctl talks to PID 1 over its private socket.
pkgs=(
	systemd libsystemd-shared libsystemd0 mount
	libc6 libgcc-s1 libacl1 libapparmor1 libaudit1 libaudit-common libcap-ng0 libblkid1
	libcap2 libcrypt1 libcryptsetup12 libargon2-1 libdevmapper1.02.1 libjson-c5 libfdisk1
	libgcrypt20 libgpg-error0 libip4tc2 libkmod2 liblz4-1 liblzma5 libmount1 libpam0g
	libpcre2-8-0 libseccomp2 libselinux1 libsmartcols1 libssl3 libzstd1 libudev1 libuuid1
	libp11-kit0 libffi8
)

# --- The cached systemd tree ----------------------------------------------------------------
versions=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null |
	awk '/^Package:/ { p = $2 } /^Version:/ { print p "=" $2 }' | sort)
[ "$(echo "$versions" | wc -l)" = "${#pkgs[@]}" ] ||
	fail "apt-cache knows only these of the ${#pkgs[@]} packages (apt-get update?): $(echo "$versions" | tr '\n' ' ')"
# The key also covers how the tree is made (this script's tree-building part, format 1).
key=$(printf 'tree-format-1\n%s\n' "$versions" | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/iiousb/systemd-rootfs-$key
mkdir -p "$(dirname "$cache")"
# One builder at a time (CTest may start several VM runs at once).
exec 9> "$cache.lock"
flock 9
if [ ! -f "$cache/complete" ]; then
	echo "mkrootfs-systemd: building the systemd tree ($(echo "$versions" | grep '^systemd='))" \
		"into $cache" >&2
	rm -rf "$cache"
	"$top/tests/fetch-debs.sh" "$cache/tree" $versions || fail "fetching the systemd packages failed"
	rm -rf "$cache"/tree/usr/share/{doc,man,locale,info,lintian,bug,zsh,bash-completion} \
		"$cache/tree/usr/lib/x86_64-linux-gnu/gconv"
	# Every library an ELF file of the tree needs must be in the tree.
	missing=$(find "$cache/tree" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
		{ xargs -0 readelf -d 2>/dev/null || true; } | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u |
		while read -r lib; do
			found=0
			for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu/systemd \
				lib/systemd usr/lib/systemd lib64; do
				[ -e "$cache/tree/$d/$lib" ] && { found=1; break; }
			done
			[ $found = 1 ] || echo "$lib"
		done)
	[ -z "$missing" ] || fail "libraries missing from the package list: $(echo "$missing" | tr '\n' ' ')"
	echo "$versions" > "$cache/versions"
	touch "$cache/complete"
fi
flock -u 9

# --- This run's root --------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root" "$work/bb"
cp -a "$cache/tree/." "$root/"

# Everything the busybox initramfs has, without replacing what the packages installed
# (util-linux mount over busybox's, the packaged ld.so and libc over the host's copies).
"$here/mkinitramfs.sh" --kver "$kver" --build-dir "$build" --out "$work/busybox.cpio" \
	${kmod:+--kmod "$kmod"} ${modroot:+--modroot "$modroot"}
(cd "$work/bb" && cpio -id --quiet < "$work/busybox.cpio")
rm -f "$work/bb/init" "$work/bb/bin/init" "$work/bb/sbin/init"
for lib in "$work"/bb/usr/lib/iiousb/* "$work"/bb/lib64/*; do
	name=$(basename "$lib")
	if [ -e "$root/lib/x86_64-linux-gnu/$name" ] || [ -e "$root/usr/lib/x86_64-linux-gnu/$name" ] ||
		[ -e "$root/lib64/$name" ]; then
		rm -f "$lib"
	fi
done
cp -a -n "$work/bb/." "$root/"

# The dynamic linker finds our libraries through its cache.
mkdir -p "$root/etc/ld.so.conf.d"
echo 'include /etc/ld.so.conf.d/*.conf' > "$root/etc/ld.so.conf"
echo /usr/lib/iiousb > "$root/etc/ld.so.conf.d/iiousb.conf"
ldconfig -r "$root"

# What a Debian system has and the packages above do not.
mkdir -p "$root"/{var/tmp,var/log,var/lib,home,mnt,etc/systemd/system}
ln -sfn /run "$root/var/run"
printf 'PRETTY_NAME="iiousb test VM (Debian packages)"\nNAME="iiousb-vm"\nID=debian\n' > "$root/etc/os-release"
: > "$root/etc/machine-id"
echo iiousb-vm > "$root/etc/hostname"
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
systemd-journal:x:101:
nogroup:x:65534:
EOF
echo 'root:*:19000:0:99999:7:::' > "$root/etc/shadow"
chmod 600 "$root/etc/shadow"

# iiousbd's unit, as CMake installs it, with the guest's paths.
sed -e 's|@IIOUSB_SBINDIR@|/usr/bin|g' -e 's|@IIOUSB_SYSCONFDIR@|/etc|g' -e 's|@IIOUSB_DOCDIR@|/usr/share/doc/iiousb|g' \
	"$top/systemd/iiousbd.service.in" > "$root/lib/systemd/system/iiousbd.service"
# --debs DIR: the project's Debian packages (tests/packaging/build-debs.sh) over that, as
# dpkg unpacks them: iiousbd's unit, /usr/sbin/iiousbd and the conffile
# /etc/iiousbd/iiousbd.yaml, iiousb's /usr/bin/iiousb and udev rule. Their maintainer
# scripts do not run (no dpkg in the guest): iiousbd's only records the unit's (disabled)
# state and starts it if enabled, which it is not. Their libraries are the rig's (the same
# build machine's).
if [ -n "$debs" ]; then
	for pkg in iiousbd iiousb; do
		deb=$(ls "$debs/${pkg}_"*.deb 2> /dev/null | head -n 1)
		[ -n "$deb" ] || fail "$debs: no ${pkg}_*.deb (tests/packaging/build-debs.sh $debs)"
		dpkg-deb -x "$deb" "$root"
		echo "$prog: installed $(basename "$deb")" >&2
	done
fi
# The scenario's units and drop-ins.
cp -a "$here/guest/systemd/." "$root/etc/systemd/system/"
install -m 755 "$here/guest/systemd-scenario" "$root/lib/iiousb/systemd-scenario"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$out"
