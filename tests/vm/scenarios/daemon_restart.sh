# iiousbd is SIGKILLed: its gadget (unbound by the kernel when ep0 closed) and its
# FunctionFS mount stay behind. A restart cleans them up and comes up again; SIGTERM then
# leaves nothing.
. /lib/iiousb/functions.sh
. /scenarios/_daemon.sh

daemon_setup
daemon_start
first=$DAEMON_BOUND_S
daemon_wait_host
daemon_probe info > /tmp/info1.txt || die "GET_INFO failed"

kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID"
log "iiousbd SIGKILLed (status $?)"
[ -d "$DAEMON_GADGET" ] || die "expected the killed daemon's gadget to stay behind"
grep -q " $DAEMON_MOUNT functionfs " /proc/mounts || die "expected the killed daemon's mount to stay behind"
log "left behind: $DAEMON_GADGET (UDC '$(cat "$DAEMON_GADGET/UDC")'), $(grep functionfs /proc/mounts)"

daemon_start
daemon_wait_host
grep -q "Cleaned up the stale gadget 'iiousb'" "$DAEMON_LOG" ||
	{ daemon_show_log; die "the restart did not report cleaning up the stale gadget"; }
mounts=$(grep -c ' functionfs ' /proc/mounts)
daemon_expect "functionfs mounts after the restart (native and libiio)" "$mounts" 2
daemon_probe info > /tmp/info2.txt || die "GET_INFO after the restart failed"
cmp /tmp/info1.txt /tmp/info2.txt || die "GET_INFO differs after the restart"
log "restart: stale gadget and mount cleaned up, gadget bound again in ${DAEMON_BOUND_S}s (first start ${first}s), GET_INFO answers"

daemon_stop_and_check_clean
daemon_show_log
log "daemon_restart: PASS"
