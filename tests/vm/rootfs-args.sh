# Sourced by mkinitramfs.sh and mkrootfs-systemd.sh (with "$@" and $prog set): their
# common options. Sets kver, build, out, modroot and kmod, and defines fail().
#   --kver KVER --build-dir BUILD --out FILE [--modroot DIR] [--kmod DIR]
# An unknown argument exits 2, a missing required one 1, both naming $prog.
kver=
build=
out=
modroot=
kmod=
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--modroot) modroot=$2; shift 2 ;;
	--kmod) kmod=$2; shift 2 ;;
	*) echo "$prog: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
fail() { echo "$prog: $*" >&2; exit 1; }
[ -n "$kver" ] && [ -n "$build" ] && [ -n "$out" ] || fail "usage: --kver KVER --build-dir BUILD --out FILE"
