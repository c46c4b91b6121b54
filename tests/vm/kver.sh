#!/bin/sh
# Print the release of the Debian 6.12 kernel the VM rig uses: $IIOUSB_KVER if
# set, else the newest 6.12 amd64 kernel with image, modules and headers installed.
if [ -n "${IIOUSB_KVER:-}" ]; then
	echo "$IIOUSB_KVER"
	exit 0
fi
for h in $(ls -d /usr/src/linux-headers-6.12.*-amd64 2>/dev/null | sort -rV); do
	k=${h#/usr/src/linux-headers-}
	case $k in *-rt-amd64|*-cloud-amd64) continue ;; esac
	if [ -f "/boot/vmlinuz-$k" ] && [ -d "/lib/modules/$k/kernel" ]; then
		echo "$k"
		exit 0
	fi
done
echo "kver.sh: no Debian 6.12 kernel with image, modules and headers installed" \
	"(run tests/install-deps.sh)" >&2
exit 1
