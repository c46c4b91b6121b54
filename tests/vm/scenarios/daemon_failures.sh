# iiousbd's failure paths: a bring-up that fails at its last step (the UDC is another
# gadget's) or in the middle (the FunctionFS instance is taken, the mount point cannot be
# created, mount(2) fails) unwinds everything it did; a UDC that does not exist is waited
# for; a bad config at start exits 78 touching nothing (a mount point with files in it,
# /etc, and DMABUFs over the memory cap are such configs); a
# second daemon refuses to take over a running one's gadget; a stream whose IIO device is
# missing comes up failed (START stalled) beside a working one.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

# nothing_left WHAT: no gadget, no functionfs mount, no mount point created by us.
nothing_left() {
	[ ! -e "$DAEMON_GADGET" ] || die "$1 left $DAEMON_GADGET behind"
	! grep -q ' functionfs ' /proc/mounts || die "$1 left a functionfs mount"
	[ ! -e "$DAEMON_MOUNT" ] || die "$1 left the mount point $DAEMON_MOUNT"
}

# expect_exit STATUS LOG-PATTERN WHAT CONFIG: run iiousbd in the foreground (SIGTERM after
# 60 s: a daemon that takes the config and runs fails the check instead of hanging the VM).
expect_exit() {
	: > /tmp/run.log
	timeout 60 iiousbd --config "$4" > /tmp/run.log 2>&1
	rc=$?
	sed 's/^/  iiousbd| /' /tmp/run.log
	daemon_expect "$3: exit status" "$rc" "$1"
	grep -q "$2" /tmp/run.log || die "$3: no '$2' in the log"
}

daemon_setup

# --- No such UDC (yet): the daemon waits for it; SIGTERM leaves nothing ------------------
sed 's/^  udc: .*/  udc: no-such-udc.0/' "$DAEMON_CONF" > /tmp/bad-udc.yaml
: > /tmp/wait.log
iiousbd --config /tmp/bad-udc.yaml > /tmp/wait.log 2>&1 &
pid=$!
n=0
until grep -q "No UDC 'no-such-udc.0'.*: waiting for no-such-udc.0 to appear" /tmp/wait.log; do
	n=$((n + 1))
	[ $n -le 300 ] && kill -0 $pid 2> /dev/null || { cat /tmp/wait.log; die "no 'waiting for' line from a daemon without its UDC"; }
	sleep 0.1
done
[ -d "$DAEMON_GADGET" ] || die "the waiting daemon has no gadget"
daemon_expect "UDC of the waiting gadget" "$(cat "$DAEMON_GADGET/UDC")" ""
grep -q 'Ready: gadget waiting for a UDC' /tmp/wait.log || { cat /tmp/wait.log; die "no Ready line while waiting"; }
kill -TERM $pid
wait $pid
daemon_expect "exit status of the waiting daemon after SIGTERM" "$?" 0
sed 's/^/  iiousbd| /' /tmp/wait.log
nothing_left "a daemon waiting for its UDC"
log "no such UDC: the daemon waits for it (gadget set up, unbound), SIGTERM -> exit 0, nothing left"

# --- The FunctionFS instance belongs to another gadget: fails in the middle --------------
other=/sys/kernel/config/usb_gadget/other
mkdir -p "$other/functions/ffs.iiousb" || die "mkdir $other/functions/ffs.iiousb"
expect_exit 1 "Failed to create function ffs.iiousb" "instance taken" "$DAEMON_CONF"
nothing_left "a failed function creation"
daemon_expect "gadgets left" "$(ls /sys/kernel/config/usb_gadget)" other
rmdir "$other/functions/ffs.iiousb" "$other" || die "removing $other"
log "function creation failure: exit 1, our gadget unwound, the other gadget untouched"

# --- The FunctionFS mount fails: after the gadget and its function exist -----------------
# The mount point cannot be created (below a regular file).
: > /tmp/not-a-dir
sed 's|^  mount: .*|  mount: /tmp/not-a-dir/ffs|' "$DAEMON_CONF" > /tmp/bad-mount.yaml
expect_exit 1 "Failed to create the FunctionFS mount point /tmp/not-a-dir/ffs: Not a directory" \
	"mount point below a file" /tmp/bad-mount.yaml
nothing_left "a failed mount point"
[ -f /tmp/not-a-dir ] && [ ! -s /tmp/not-a-dir ] || die "/tmp/not-a-dir was changed"
log "mount point below a file: exit 1, gadget unwound, no mount"
# mount(2) itself fails on the mount point the daemon created, with two new parents: the
# namespace may hold no more mounts (fs.mount-max); the daemon removes all three again.
sed 's|^  mount: .*|  mount: /tmp/new-parent/sub/ffs|' "$DAEMON_CONF" > /tmp/new-mount.yaml
max=$(cat /proc/sys/fs/mount-max)
wc -l < /proc/self/mounts > /proc/sys/fs/mount-max || die "setting fs.mount-max"
mkdir -p /tmp/probe-mnt
! mount -t tmpfs probe /tmp/probe-mnt 2> /dev/null ||
	die "fs.mount-max $(cat /proc/sys/fs/mount-max) does not stop mounts"
rmdir /tmp/probe-mnt
expect_exit 1 "Failed to mount FunctionFS instance 'iiousb' on /tmp/new-parent/sub/ffs: No space left on device" \
	"mount(2) failure" /tmp/new-mount.yaml
echo "$max" > /proc/sys/fs/mount-max
nothing_left "a failed mount"
[ ! -e /tmp/new-parent ] || die "a failed mount left the directories it created: $(find /tmp/new-parent)"
[ -z "$(ls /sys/kernel/config/usb_gadget)" ] || die "gadgets left: $(ls /sys/kernel/config/usb_gadget)"
log "mount(2) failure (fs.mount-max): exit 1, gadget and the created directories unwound"

# --- A broken config: exit 78, nothing touched -------------------------------------------
printf 'gadget:\n  vid: 0x1d6b\n  pid: 0x0104\nstreams:\n  - {name: rx0, direction: up, device: x}\n' > /tmp/bad.yaml
expect_exit 78 '/tmp/bad.yaml:5:28: streams\[0\].direction: expected rx or tx, got .up.' \
	"bad config" /tmp/bad.yaml
iiousbd --check-config /tmp/bad.yaml > /tmp/check.out 2>&1
daemon_expect "--check-config status" "$?" 78
nothing_left "a bad config"
log "bad config: exit 78 with file:line:column ($(cat /tmp/check.out))"
# FunctionFS would hide a directory's files: a mount point with files in it is refused at
# load, before anything is touched.
sed 's|^  mount: .*|  mount: /etc|' "$DAEMON_CONF" > /tmp/etc-mount.yaml
ls -A /etc > /tmp/etc-before.txt
expect_exit 78 "/tmp/etc-mount.yaml:17:10: functionfs.mount: '/etc' is a directory with files in it" \
	"mount point /etc" /tmp/etc-mount.yaml
grep -q ' /etc functionfs ' /proc/mounts && die "FunctionFS was mounted on /etc"
ls -A /etc | cmp -s - /tmp/etc-before.txt || die "/etc changed"
[ -z "$(ls /sys/kernel/config/usb_gadget)" ] || die "gadgets left: $(ls /sys/kernel/config/usb_gadget)"
log "mount point /etc: exit 78 at load with file:line:column, /etc untouched, no gadget"

# --- DMABUF memory over the cap: exit 78 at load, nothing touched -------------------------
# The default cap is 1/4 of MemTotal (the VM has about 1 GiB): 64 blocks of 16 MiB per stream
# are refused at the first stream, and so is the default config under an explicit 4 MiB cap.
sed 's/block-count: 4/block-count: 64/; s/block-size: 1M/block-size: 16M/' "$DAEMON_CONF" > /tmp/big.yaml
expect_exit 78 "/tmp/big.yaml:[0-9]*:[0-9]*: streams\[0\]: the DMABUFs of streams\[0\] take [0-9.]* [MG]iB (block-size x block-count, summed), more than the .* allowed (the default: 1/4 of MemTotal .* from /proc/meminfo" \
	"1 GiB of DMABUFs" /tmp/big.yaml
nothing_left "DMABUFs over the default cap"
{ printf 'limits:\n  dmabuf-memory: 4M\n'; cat "$DAEMON_CONF"; } > /tmp/cap.yaml
expect_exit 78 "/tmp/cap.yaml:[0-9]*:[0-9]*: streams\[1\]: the DMABUFs of streams\[0..1\] take 8 MiB (block-size x block-count, summed), more than the 4 MiB allowed (limits.dmabuf-memory at line 2)" \
	"8 MiB of DMABUFs under a 4 MiB cap" /tmp/cap.yaml
nothing_left "DMABUFs over limits.dmabuf-memory"
[ -z "$(ls /sys/kernel/config/usb_gadget)" ] || die "gadgets left: $(ls /sys/kernel/config/usb_gadget)"
log "memory cap: 1 GiB over the default cap and 8 MiB over a 4 MiB cap refused at load (exit 78, file:line:column), nothing set up"

# --- A missing IIO device: the gadget comes up, that stream is failed ---------------------
sed 's/device: iio-sim-adc/device: no-such-adc/' "$DAEMON_CONF" > /tmp/missing.yaml
daemon_start /tmp/missing.yaml
daemon_wait_host
daemon_probe info > /tmp/info.txt || die "GET_INFO failed"
sed 's/^/  info| /' /tmp/info.txt
daemon_expect "failed stream line" "$(grep '^stream 0 ' /tmp/info.txt)" \
	"stream 0 name=rx0 dir=rx ep=0x81 iio=no-such-adc block=1048576 blocks=4 rate=0 sample-bytes=0 channels=0"
daemon_expect "START of the failed stream" "$(daemon_probe start 0)" STALL
daemon_probe stats 0 | grep -q ' state=failed ' || die "stream 0 is not failed: $(daemon_probe stats 0)"
if [ "$DAEMON_SIM" = 1 ]; then
	daemon_expect "START of the working stream" "$(daemon_probe start 1)" ok
	daemon_expect "STOP of the working stream" "$(daemon_probe stop 1)" ok
fi
grep -q "Stream rx0 failed: No IIO device 'no-such-adc'" "$DAEMON_LOG" ||
	{ daemon_show_log; die "the missing device is not logged"; }
log "missing IIO device: gadget up, rx0 failed (START stalled), tx0 works"

# --- A second daemon does not take over the running one's gadget --------------------------
expect_exit 1 "is another iiousbd running" "second daemon" "$DAEMON_CONF"
daemon_probe info > /tmp/info2.txt && cmp /tmp/info.txt /tmp/info2.txt ||
	die "the first daemon's gadget was disturbed"
log "second daemon: refused (exit 1), the running gadget untouched"

# --- The UDC belongs to another gadget: fails at the last step, unwinds everything --------
udc=$(cat "$DAEMON_GADGET/UDC")
# (Without the libiio function: its instance and mount point are the running daemon's.)
sed -e "s/^  udc: .*/  udc: $udc/" -e 's/^  name: iiousb$/  name: iiousb2/' \
	-e 's/^  instance: .*/  instance: iiousb2/' -e 's|^  mount: .*|  mount: /run/iiousbd2/ffs|' \
	-e 's/^  enabled: true$/  enabled: false/' "$DAEMON_CONF" > /tmp/taken-udc.yaml
expect_exit 1 "UDC '$udc' is used by gadget 'iiousb'" "UDC taken" /tmp/taken-udc.yaml
[ ! -e /sys/kernel/config/usb_gadget/iiousb2 ] || die "a failed bind left gadget iiousb2"
[ "$(grep -c ' functionfs ' /proc/mounts)" = 2 ] || die "a failed bind left a functionfs mount (the running daemon has 2): $(grep functionfs /proc/mounts)"
[ ! -e /run/iiousbd2 ] || die "a failed bind left /run/iiousbd2"
daemon_probe info > /tmp/info3.txt && cmp /tmp/info.txt /tmp/info3.txt ||
	die "the first daemon's gadget was disturbed by the failed bind"
log "UDC taken by another gadget: exit 1, gadget, mount and mount point unwound, the other untouched"

daemon_stop_and_check_clean
daemon_show_log
log "daemon_failures: PASS"
