#!/usr/bin/env bash
# Download Debian packages from the machine's apt sources and unpack them into a directory
# (dpkg-deb -x: nothing is installed, no maintainer script runs):
#   tests/fetch-debs.sh DIR PACKAGE[:ARCH][=VERSION]...
# Used for what the rigs and cross builds need from Debian without installing it: the
# systemd VM root, the arm64 kernel and busybox, another architecture's kernel headers,
# libyaml-cpp-dev's pkg-config file. Exit status 1, naming the packages, when the download
# fails (unknown package, version or architecture: apt-get update, dpkg --add-architecture).
set -euo pipefail
dir=${1:?usage: fetch-debs.sh DIR PACKAGE...}
shift
[ $# -gt 0 ] || { echo "fetch-debs: no packages given" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# (As root, apt drops privileges to _apt for downloads unless told otherwise; _apt cannot
# write to a directory made by mktemp.)
if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$@" >&2); then
	echo "fetch-debs: apt-get download $* failed" >&2
	exit 1
fi
mkdir -p "$dir"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$dir"
done
