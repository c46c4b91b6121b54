# Sourced by mkinitramfs.sh and mkrootfs-systemd.sh (with "$@" and $prog set): their
# common options. Sets kver, build, out, modroot, kmod, python, arch and debs, and defines
# fail().
#   --kver KVER --build-dir BUILD --out FILE [--modroot DIR] [--kmod DIR] [--python]
#   [--arch amd64|arm64] [--debs DIR]
# (--python: Debian's python3 with python3-libiio in the guest, tests/vm/guest-python.sh;
# --arch arm64: a root for the arm64 rig, mkinitramfs.sh only; --debs: the project's
# Debian packages in the root for dpkg to install there, systemd root only.)
# An unknown argument exits 2, a missing required one 1, both naming $prog.
kver=
build=
out=
modroot=
kmod=
python=0
arch=amd64
debs=
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--modroot) modroot=$2; shift 2 ;;
	--kmod) kmod=$2; shift 2 ;;
	--python) python=1; shift ;;
	--arch) arch=$2; shift 2 ;;
	--debs) debs=$2; shift 2 ;;
	*) echo "$prog: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
fail() { echo "$prog: $*" >&2; exit 1; }
[ -n "$kver" ] && [ -n "$build" ] && [ -n "$out" ] || fail "usage: --kver KVER --build-dir BUILD --out FILE"
case $arch in amd64|arm64) ;; *) fail "--arch must be amd64 or arm64, not '$arch'" ;; esac
