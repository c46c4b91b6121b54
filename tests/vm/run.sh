#!/usr/bin/env bash
# Run one scenario of the kernel test rig in a QEMU (TCG) VM on Debian's 6.12 kernel.
#
#   tests/vm/run.sh [options] SCENARIO [ARG...]
#
#   --speed hs|ss        dummy_hcd at high speed or SuperSpeed (default hs)
#   --udc patched|stock  our patched dummy_hcd or Debian's module (default patched)
#   --mem MIB            guest RAM (default 1024)
#   --smp N              guest CPUs (default 2)
#   --timeout SEC        hard limit for the whole VM run (default 300)
#   --build-dir DIR      CMake build dir with kmod/ and vm-guest/ (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not run `cmake --build DIR --target vm-deps` first
#   --log FILE           also write the console to FILE
#
# SCENARIO is tests/vm/scenarios/SCENARIO.sh, run as PID 1's child in the guest
# with ARGs. The exit status is the scenario's, or 1 if the guest printed a
# WARNING:, BUG:, Oops, KASAN or refcount_t line in dmesg, or 124 on timeout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
speed=hs
udc=patched
mem=1024
smp=2
timeout_s=300
build=${IIOUSB_BUILD_DIR:-$PWD/build}
do_build=1
log=

usage() {
	sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--speed) speed=$2; shift 2 ;;
	--udc) udc=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--log) log=$2; shift 2 ;;
	-h|--help) usage 0 ;;
	-*) echo "run.sh: unknown option '$1'" >&2; usage 2 >&2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "run.sh: no scenario given" >&2; usage 2 >&2; }
scenario=$1
shift
scen_args=$(IFS=,; echo "$*")

fail() { echo "run.sh: $*" >&2; exit 1; }
case $speed in hs|ss) ;; *) fail "--speed must be hs or ss, not '$speed'" ;; esac
case $udc in patched|stock) ;; *) fail "--udc must be patched or stock, not '$udc'" ;; esac
[ -f "$here/scenarios/$scenario.sh" ] || fail "no scenario '$scenario' (tests/vm/scenarios/$scenario.sh)"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 missing (run tests/install-deps.sh)"

kver=$("$here/kver.sh")
[ -d "$build" ] || fail "$build: no build directory (configure with cmake -B build first)"
build=$(cd "$build" && pwd)
if [ "$do_build" = 1 ]; then
	cmake --build "$build" --target vm-deps >/dev/null ||
		fail "building the VM's modules and programs failed (cmake --build $build --target vm-deps)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/mkinitramfs.sh" --kver "$kver" --build-dir "$build" --out "$work/initramfs.cpio"
[ -n "$log" ] || log=$work/console.log

append="console=ttyS0 panic=-1 loglevel=4 iiousb.scenario=$scenario iiousb.speed=$speed iiousb.udc=$udc"
[ -n "$scen_args" ] && append="$append iiousb.args=$scen_args"

echo "run.sh: $scenario (speed=$speed udc=$udc mem=${mem}M smp=$smp kernel=$kver timeout=${timeout_s}s)"
start=$(date +%s.%N)
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" -m "$mem" \
	-kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.cpio" -append "$append" \
	-nographic -no-reboot -nodefaults -serial stdio -monitor none \
	</dev/null 2>&1 | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

result=$(tr -d '\r' < "$log" | sed -n 's/^IIOUSB-VM-RESULT=\([0-9]*\)$/\1/p' | tail -n 1)
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run.sh: FAIL $scenario: VM timed out after ${timeout_s}s" >&2
	exit 124
fi
if [ -z "$result" ]; then
	echo "run.sh: FAIL $scenario: the guest did not report a result (qemu exit $qrc; crash or panic?)" >&2
	exit 1
fi
# Kernel reports anywhere on the console (they are printed as they happen, and
# once more in the dmesg dump at the end).
bad=$(tr -d '\r' < "$log" | grep -E 'WARNING:|BUG:|Oops|KASAN|refcount_t|possible circular locking|inconsistent lock state|DMA-API:|general protection fault' |
	grep -v '^run.sh:' | sort -u || true)
if [ -n "$bad" ]; then
	echo "run.sh: FAIL $scenario: kernel reported problems:" >&2
	echo "$bad" >&2
	exit 1
fi
printf 'run.sh: %s finished with status %s in %.1fs\n' "$scenario" "$result" "$elapsed"
exit "$result"
