#!/usr/bin/env bash
# Build the test VM's initramfs for scenarios that need a real systemd as PID 1
# (run.sh --rootfs systemd): an uncompressed newc cpio booted with
# rdinit=/lib/systemd/systemd.
#
#   mkrootfs-systemd.sh --kver KVER --build-dir BUILD --out FILE [--kmod DIR] [--modroot DIR]
#                       [--debs DIR]
#
# The systemd part comes from Debian's archive: `apt-get download` of systemd, dpkg and what
# the project's packages and their maintainer scripts need, and the libraries all of these
# link (the list below; the script checks that every DT_NEEDED of every ELF file is present
# and fails naming the missing ones), unpacked with `dpkg-deb -x` and registered as
# installed in the root's dpkg database (tests/fetch-debs.sh --register: status, file
# lists; their maintainer scripts do not run). That tree is cached under
# ${XDG_CACHE_HOME:-~/.cache}/iiousb/ keyed by the packages' versions and how the tree is
# made, so only the first build downloads (about 30 MB). Each run then adds what
# mkinitramfs.sh puts in the busybox initramfs (busybox for the shell tools, the kernel
# modules the rig needs, our modules, the guest programs with iiousbd and the libraries they
# link that the packages do not provide), the iiousbd unit from systemd/iiousbd.service.in,
# and the units that run the scenario (tests/vm/guest/systemd/).
#
# --debs DIR: the project's Debian packages (tests/packaging/build-debs.sh DIR) are put in
# /var/cache/iiousb-debs/ for the scenario to install with dpkg (debs_systemd.sh), and the
# rig's own copies of what they install (iiousbd, iiousb, /etc/iiousbd, the unit) are left
# out, so that the root has none of the project's files until dpkg installs them.
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
# dpkg, with what it runs (GNU tar for dpkg-deb, ldconfig: libc-bin; sh, rm and diff are
# busybox's) and what the maintainer scripts of iiousbd (dh_installsystemd's) run:
# deb-systemd-helper and deb-systemd-invoke (init-system-helpers, perl scripts: perl-base)
# and systemctl. The libraries iiousbd and iiousb depend on (libstdc++6 ... libusb-1.0-0),
# so that dpkg finds their Depends installed; the guest programs use these same copies.
pkgs=(
	systemd libsystemd-shared libsystemd0 mount
	libc6 libgcc-s1 libacl1 libapparmor1 libaudit1 libaudit-common libcap-ng0 libblkid1
	libcap2 libcrypt1 libcryptsetup12 libargon2-1 libdevmapper1.02.1 libjson-c5 libfdisk1
	libgcrypt20 libgpg-error0 libip4tc2 libkmod2 liblz4-1 liblzma5 libmount1 libpam0g
	libpcre2-8-0 libseccomp2 libselinux1 libsmartcols1 libssl3 libzstd1 libudev1 libuuid1
	libp11-kit0 libffi8
	dpkg tar libbz2-1.0 libmd0 zlib1g libc-bin perl-base init-system-helpers
	libstdc++6 libiio0 libavahi-client3 libavahi-common3 libdbus-1-3 libxml2 libicu72
	libusbgx2 libconfig9 libyaml-cpp0.7 libusb-1.0-0
)

# --- The cached systemd tree ----------------------------------------------------------------
versions=$(apt-cache show --no-all-versions "${pkgs[@]}" 2>/dev/null |
	awk '/^Package:/ { p = $2 } /^Version:/ { print p "=" $2 }' | sort)
[ "$(echo "$versions" | wc -l)" = "${#pkgs[@]}" ] ||
	fail "apt-cache knows only these of the ${#pkgs[@]} packages (apt-get update?): $(echo "$versions" | tr '\n' ' ')"
# The key also covers how the tree is made: this script's tree-building part (format 2:
# with the dpkg database) and fetch-debs.sh, which unpacks and registers the packages.
key=$(printf 'tree-format-2\n%s\n%s\n' "$versions" "$(sha256sum < "$top/tests/fetch-debs.sh")" |
	sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/iiousb/systemd-rootfs-$key
mkdir -p "$(dirname "$cache")"
# One builder at a time (CTest may start several VM runs at once).
exec 9> "$cache.lock"
flock 9
if [ ! -f "$cache/complete" ]; then
	echo "mkrootfs-systemd: building the systemd tree ($(echo "$versions" | grep '^systemd='))" \
		"into $cache" >&2
	rm -rf "$cache"
	"$top/tests/fetch-debs.sh" --register "$cache/tree" $versions || fail "fetching the systemd packages failed"
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
# No busybox applet in front of a packaged program of the same name elsewhere in PATH
# (/bin/dpkg and /bin/dpkg-deb before /usr/bin's, /bin/start-stop-daemon).
for link in "$root"/{bin,sbin,usr/bin,usr/sbin}/*; do
	[ -L "$link" ] && [ "$(basename "$(readlink "$link")")" = busybox ] || continue
	for d in bin sbin usr/bin usr/sbin; do
		other=$root/$d/$(basename "$link")
		if [ "$other" != "$link" ] && [ -e "$other" ] && [ ! -L "$other" ]; then
			rm "$link"
			break
		fi
	done
done

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

if [ -z "$debs" ]; then
	# iiousbd's unit, as CMake installs it, with the guest's paths.
	sed -e 's|@IIOUSB_SBINDIR@|/usr/bin|g' -e 's|@IIOUSB_SYSCONFDIR@|/etc|g' \
		-e 's|@IIOUSB_DOCDIR@|/usr/share/doc/iiousb|g' \
		"$top/systemd/iiousbd.service.in" > "$root/lib/systemd/system/iiousbd.service"
else
	# --debs DIR: the project's Debian packages (tests/packaging/build-debs.sh) for the
	# scenario to install with dpkg (debs_systemd.sh), and none of the rig's copies of the
	# project's files (its iiousbd, iiousb, /etc/iiousbd with the example configurations), so
	# that what dpkg installs and purges is all there is. Their libraries are in the root's
	# packages (the list above), their Depends registered.
	mkdir -p "$root/var/cache/iiousb-debs"
	for pkg in iiousbd iiousb iiousb-dkms; do
		deb=$(ls "$debs/${pkg}_"*.deb 2> /dev/null | head -n 1)
		[ -n "$deb" ] || fail "$debs: no ${pkg}_*.deb (tests/packaging/build-debs.sh $debs)"
		cp "$deb" "$root/var/cache/iiousb-debs/"
		echo "$prog: $(basename "$deb") in /var/cache/iiousb-debs" >&2
	done
	rm -rf "$root/usr/bin/iiousbd" "$root/usr/bin/iiousb" "$root/etc/iiousbd"
fi
# The scenario's units and drop-ins.
cp -a "$here/guest/systemd/." "$root/etc/systemd/system/"
install -m 755 "$here/guest/systemd-scenario" "$root/lib/iiousb/systemd-scenario"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$out"
