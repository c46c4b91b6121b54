#!/usr/bin/env bash
# Download Debian packages from the machine's apt sources and unpack them into a directory
# (dpkg-deb -x: nothing is installed, no maintainer script runs):
#   tests/fetch-debs.sh [--register] DIR PACKAGE[:ARCH][=VERSION]...
# Used for what the rigs and cross builds need from Debian without installing it: the
# systemd VM root, the arm64 kernel and busybox, another architecture's kernel headers,
# libyaml-cpp-dev's pkg-config file. Exit status 1, naming the packages, when the download
# fails (unknown package, version or architecture: apt-get update, dpkg --add-architecture).
#
# --register (the systemd VM root, whose dpkg installs the project's packages): also record
# the packages as installed in DIR's dpkg database, DIR/var/lib/dpkg, as dpkg would after
# installing them (their maintainer scripts still do not run): a status entry per package
# (its control fields with "Status: install ok installed" and its conffiles with the md5sums
# of the unpacked files), info/PKG.list (the paths of the data member, as dpkg-deb -c lists
# them), the other files of the control area (md5sums, conffiles, maintainer scripts,
# triggers, shlibs...) as info/PKG.*, the trigger interests (triggers/File and
# triggers/NAME) and an empty available, diversions and statoverride. PKG is NAME:ARCH for
# Multi-Arch: same packages (dpkg's multiarch database layout, info/format 1). A package
# already in DIR's status is an error.
set -euo pipefail
register=0
if [ "${1:-}" = --register ]; then
	register=1
	shift
fi
dir=${1:?usage: fetch-debs.sh [--register] DIR PACKAGE...}
shift
[ $# -gt 0 ] || { echo "fetch-debs: no packages given" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/debs"
# (As root, apt drops privileges to _apt for downloads unless told otherwise; _apt cannot
# write to a directory made by mktemp.)
if ! (cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >&2); then
	echo "fetch-debs: apt-get download $* failed" >&2
	exit 1
fi
mkdir -p "$dir"
for deb in "$tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir"
done
[ "$register" = 1 ] || exit 0

# --- --register: DIR's dpkg database ----------------------------------------------------------
db=$dir/var/lib/dpkg
mkdir -p "$db"/{info,updates,triggers,alternatives}
echo 1 > "$db/info/format"
# (An empty triggers/Unincorp: without it, dpkg takes the database for one from before
# triggers existed and marks every trigger interest of every package pending.)
touch "$db"/{status,available,diversions,statoverride,triggers/File,triggers/Unincorp}
for deb in "$tmp"/debs/*.deb; do
	pkg=$(dpkg-deb -f "$deb" Package)
	if grep -qx "Package: $pkg" "$db/status"; then
		echo "fetch-debs: $pkg is already in $db/status" >&2
		exit 1
	fi
	name=$pkg
	[ "$(dpkg-deb -f "$deb" Multi-Arch)" != same ] || name=$pkg:$(dpkg-deb -f "$deb" Architecture)
	ctl=$tmp/control/$name
	mkdir -p "$ctl"
	dpkg-deb -e "$deb" "$ctl"
	# The status entry: the control fields, Status after Package, then Conffiles.
	{
		awk 'NR == 1 && /^Package:/ { print; print "Status: install ok installed"; next } { print }' \
			"$ctl/control"
		if [ -s "$ctl/conffiles" ]; then
			echo "Conffiles:"
			while read -r f; do
				case $f in /*) ;; *) continue ;; esac	# (flags such as remove-on-upgrade)
				[ -f "$dir$f" ] || continue
				echo " $f $(md5sum < "$dir$f" | cut -d' ' -f1)"
			done < "$ctl/conffiles"
		fi
		echo
	} >> "$db/status"
	head -n 1 "$ctl/control" | grep -q '^Package:' ||
		{ echo "fetch-debs: $deb: the control file does not start with Package:" >&2; exit 1; }
	# The file list, as dpkg writes it: "/." for the root, no "./" and no trailing "/".
	dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' \
		> "$db/info/$name.list"
	for f in "$ctl"/*; do
		[ "$(basename "$f")" = control ] || cp -p "$f" "$db/info/$name.$(basename "$f")"
	done
	# Trigger interests: file triggers in triggers/File ("PATH PKG[/noawait]"), explicit ones
	# in triggers/NAME ("PKG[/noawait]").
	if [ -f "$ctl/triggers" ]; then
		while read -r directive trigger _; do
			case $directive in
			interest|interest-await) who=$pkg ;;
			interest-noawait) who=$pkg/noawait ;;
			*) continue ;;
			esac
			case $trigger in
			/*) echo "$trigger $who" >> "$db/triggers/File" ;;
			*) echo "$who" >> "$db/triggers/$trigger" ;;
			esac
		done < "$ctl/triggers"
	fi
done
