#!/usr/bin/env bash
# Run one scenario of the kernel test rig in a QEMU (TCG) VM on Debian's 6.12 kernel.
#
#   tests/vm/run.sh [options] SCENARIO [ARG...]
#
#   --speed hs|ss        dummy_hcd at high speed or SuperSpeed (default hs)
#   --udc patched|stock  our patched dummy_hcd or Debian's module (default patched)
#   --kernel stock|debug|irqtime  Debian's kernel, or the rig's debug kernel (lockdep,
#                        KASAN, DMA-API debugging; BUILD/debug-kernel, see
#                        kernel-patches/debug-kernel), or its irqtime kernel (no checking,
#                        interrupt time accounted apart; BUILD/irqtime-kernel, built by
#                        `cmake --build BUILD --target kmods-irqtime`; for bench/run.sh)
#   --modules fixed|unfixed  our modules with the kernel fixes (default) or with the
#                        rig's patches only (build.sh --rig-only), to reproduce the bugs
#   --expect-report RE   the scenario reproduces a kernel bug: pass only if a console
#                        line matches the extended regex RE (the oops/lockdep report);
#                        other kernel reports and a missing result are then accepted
#   --mem MIB            guest RAM (default 1024)
#   --smp N              guest CPUs (default 2)
#   --timeout SEC        hard limit for the whole VM run (default 300)
#   --build-dir DIR      CMake build dir with kmod/ and vm-guest/ (default: $IIOUSB_BUILD_DIR or ./build)
#   --no-build           do not run `cmake --build DIR --target vm-deps` first
#   --log FILE           also write the console to FILE
#   --rootfs busybox|systemd  the guest's userspace: the busybox initramfs with the
#                        rig's own init (default), or systemd as PID 1 on a root built
#                        from Debian's packages (mkrootfs-systemd.sh, cached)
#   --arch amd64|arm64   amd64 (default): the above in qemu-system-x86_64. arm64: Debian's
#                        arm64 kernel (arm64-kernel.sh fetches and caches it) in
#                        qemu-system-aarch64 -M virt -cpu cortex-a53, busybox initramfs,
#                        stock kernel and fixed modules only; --build-dir is the output of
#                        tests/cross/run.sh arm64 (kmod/, user/vm-guest/bin), or a build dir
#                        with it in cross-arm64/; without --no-build only the guest's
#                        programs are rebuilt (cmake --build DIR/user --target vm-guest)
#   --debs DIR           with --rootfs systemd: the project's packages from DIR in the
#                        guest's /var/cache/iiousb-debs, for the scenario to install with
#                        dpkg (iiousbd_*.deb, iiousb_*.deb, iiousb-dkms_*.deb;
#                        tests/packaging/build-debs.sh DIR)
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
kernel=stock
expect=
modules=fixed
rootfs=busybox
arch=amd64
debs=

usage() {
	sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--speed) speed=$2; shift 2 ;;
	--udc) udc=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--modules) modules=$2; shift 2 ;;
	--expect-report) expect=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--no-build) do_build=0; shift ;;
	--log) log=$2; shift 2 ;;
	--rootfs) rootfs=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--debs) debs=$2; shift 2 ;;
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
case $rootfs in busybox|systemd) ;; *) fail "--rootfs must be busybox or systemd, not '$rootfs'" ;; esac
case $arch in amd64|arm64) ;; *) fail "--arch must be amd64 or arm64, not '$arch'" ;; esac
[ -z "$debs" ] || [ "$rootfs" = systemd ] || fail "--debs needs --rootfs systemd"
[ -f "$here/scenarios/$scenario.sh" ] || fail "no scenario '$scenario' (tests/vm/scenarios/$scenario.sh)"
if [ "$arch" = amd64 ]; then
	qemu=(qemu-system-x86_64 -accel tcg -cpu max)
	console=ttyS0
else
	# cortex-a53: the boards' core (ZCU102); TCG emulates it faster than -cpu max.
	qemu=(qemu-system-aarch64 -M virt -cpu cortex-a53 -accel tcg)
	console=ttyAMA0
fi
command -v "${qemu[0]}" >/dev/null ||
	fail "${qemu[0]} missing (run tests/install-deps.sh; arm64: apt-get install qemu-system-arm)"

[ -d "$build" ] || fail "$build: no build directory (configure with cmake -B build first)"
build=$(cd "$build" && pwd)
if [ "$arch" = arm64 ]; then
	[ "$kernel" = stock ] || fail "--arch arm64: Debian's kernel only (no arm64 debug kernel)"
	[ "$modules" = fixed ] || fail "--arch arm64: the fixed modules only (tests/cross/run.sh builds those)"
	[ "$rootfs" = busybox ] || fail "--arch arm64: the busybox initramfs only"
	# A build dir with the cross build in it (CTest's cross.arm64 writes BUILD/cross-arm64).
	[ -d "$build/user" ] || [ ! -d "$build/cross-arm64/user" ] || build=$build/cross-arm64
	[ -d "$build/kmod/modules" ] && [ -d "$build/user" ] ||
		fail "$build: no arm64 cross build (kmod/modules, user/): tests/cross/run.sh --build-dir $build arm64"
	# The kernel of the ABI the modules were built against (tests/cross/run.sh's headers).
	kabi=$(ls -d "$build"/headers-6.12.* 2>/dev/null | sort -V | tail -n 1)
	kabi=${kabi##*/headers-}
	[ -n "$kabi" ] || fail "$build: no headers-<abi>/ from tests/cross/run.sh"
	kver=$kabi-arm64
	modroot=$("$here/arm64-kernel.sh" "$kabi") || fail "fetching Debian's arm64 kernel $kver failed"
	image=$modroot/boot/vmlinuz-$kver
	kmod=$build/kmod/modules
	if [ "$do_build" = 1 ]; then
		cmake --build "$build/user" --target vm-guest > "$build/vm-guest.log" 2>&1 ||
			fail "building the guest's programs failed (log in $build/vm-guest.log)"
		do_build=0
	fi
	build=$build/user
	[ -d "$build/vm-guest/bin" ] ||
		fail "$build/vm-guest/bin: no guest programs (tests/cross/run.sh arm64 builds them)"
else
	case $kernel in
	stock)
		kver=$("$here/kver.sh")
		image=/boot/vmlinuz-$kver
		modroot=
		kmod=$build/kmod/modules
		;;
	debug | irqtime)
		dk=$build/$kernel-kernel
		how="cmake -DIIOUSB_DEBUG_KERNEL=ON, then build"
		[ "$kernel" = debug ] || how="cmake --build $build --target kmods-irqtime"
		[ -f "$dk/release" ] || fail "$dk: no $kernel kernel ($how)"
		kver=$(cat "$dk/release")
		image=$dk/bzImage
		modroot=$dk/modroot
		kmod=$build/kmod-$kernel/modules
		;;
	*) fail "--kernel must be stock, debug or irqtime, not '$kernel'" ;;
	esac
fi
case $modules in
fixed) ;;
unfixed) kmod=${kmod%/modules}-unfixed/modules ;;
*) fail "--modules must be fixed or unfixed, not '$modules'" ;;
esac
[ -d "$kmod" ] || fail "$kmod: modules not built (cmake --build $build)"
if [ "$do_build" = 1 ]; then
	cmake --build "$build" --target vm-deps > "$build/vm-deps.log" 2>&1 ||
		fail "building the VM's modules and programs failed (cmake --build $build --target vm-deps; log in $build/vm-deps.log)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
initrd=$work/initramfs.cpio
if [ "$rootfs" = systemd ]; then
	"$here/mkrootfs-systemd.sh" --kver "$kver" --build-dir "$build" --out "$initrd" \
		--kmod "$kmod" ${modroot:+--modroot "$modroot"} ${debs:+--debs "$debs"}
else
	# A scenario whose header says "# guest: python3" gets Debian's python3 and its libiio
	# bindings (only those: they add a few MB to the initramfs).
	py=
	! grep -q '^# guest: python3$' "$here/scenarios/$scenario.sh" || py=--python
	# Runs with the same inputs boot the same initramfs: it is kept in BUILD/vm-initramfs/
	# under a hash of mkinitramfs.sh's options and of the name, size and time of every file
	# it is made of (this directory's scripts and scenarios, the configurations, the guest
	# programs, the modules, busybox) and of dpkg's database (the system libraries, Debian's
	# modules). Building it took 3 to 8 s of every run; entries unused for 2 hours go.
	cache=$build/vm-initramfs
	mkdir -p "$cache"
	inputs=()
	for d in "$here" "$here/../../config" "$kmod" "$build/vm-guest/bin" \
		${modroot:+"$modroot/lib/modules/$kver" "$modroot/bin"}; do
		[ ! -d "$d" ] || inputs+=("$d") # (only the arm64 modroot has bin/)
	done
	key=$({
		echo "$kver $arch $py ${modroot:-} $kmod"
		find "${inputs[@]}" -type f -printf '%p %s %T@\n' | sort
		stat -L -c '%n %s %Y' /bin/busybox /var/lib/dpkg/status
	} | sha256sum | cut -c1-16)
	initrd=$cache/$key.cpio
	exec 8> "$cache/.lock-$key"
	flock 8
	# Touched first, so that another run's pruning leaves it from now on; checked after.
	touch -c "$initrd" "$cache/.lock-$key"
	if [ ! -s "$initrd" ]; then
		"$here/mkinitramfs.sh" --kver "$kver" --build-dir "$build" --out "$initrd.tmp" \
			--kmod "$kmod" ${modroot:+--modroot "$modroot"} --arch "$arch" $py
		mv "$initrd.tmp" "$initrd"
	fi
	exec 8>&-
	# (Runs side by side prune at the same time: a file another one removed first is no error.)
	find "$cache" -maxdepth 1 \( -name '*.cpio' -o -name '.lock-*' \) -mmin +120 -delete 2> /dev/null || true
fi
[ -n "$log" ] || log=$work/console.log

# watchdog_thresh=60: the soft-lockup detector fires after 120 s instead of 20 s. A TCG
# guest starved by a loaded host (two VMs on two cores plus builds) was reported stuck for
# 22 s in an initcall (jitterentropy's self-test) long before any code of ours ran.
append="console=$console panic=-1 loglevel=4 watchdog_thresh=60 iiousb.scenario=$scenario iiousb.speed=$speed iiousb.udc=$udc iiousb.arch=$arch"
if [ "$rootfs" = systemd ]; then
	append="$append rdinit=/lib/systemd/systemd systemd.unit=iiousb-vm.target systemd.show_status=error"
fi
[ -n "$scen_args" ] && append="$append iiousb.args=$scen_args"

echo "run.sh: $scenario (arch=$arch rootfs=$rootfs kernel=$kernel modules=$modules speed=$speed udc=$udc mem=${mem}M smp=$smp release=$kver timeout=${timeout_s}s)"
# console_has RE: a line of the console so far matches the extended regex RE. (Not
# `tr | grep -q`: under pipefail, grep quitting at the first match can fail the pipeline
# with tr's SIGPIPE once the console is larger than a pipe's buffer.)
console_has() {
	tr -d '\r' < "$log" | grep -E "$1" > /dev/null
}

# One boot of the VM, console to "$log"; sets qrc.
boot_once() {
	: > "$log"
	set +e
	# The console goes through tee on fd 7; its pid is kept to wait for its last lines.
	exec 7> >(tee "$log")
	local teepid=$!
	timeout -k 10 "$timeout_s" "${qemu[@]}" -smp "$smp" -m "$mem" \
		-kernel "$image" -initrd "$initrd" -append "$append" \
		-nographic -no-reboot -nodefaults -serial stdio -monitor none \
		</dev/null >&7 2>&1 7>&- &
	qpid=$!
	if [ -n "$expect" ]; then
		# A reproduced bug often leaves the guest hung: once the expected report is
		# on the console, give it a few seconds to print the trace and stop the VM.
		while kill -0 "$qpid" 2>/dev/null; do
			if console_has "$expect"; then
				sleep 5
				kill "$qpid" 2>/dev/null
				break
			fi
			sleep 1
		done
	fi
	wait "$qpid"
	qrc=$?
	# tee ends once it has written the console's last lines.
	exec 7>&-
	wait "$teepid"
	set -e
}

start=$(date +%s.%N)
# A kernel that dies before /init prints its first line has run none of our
# code (no module of ours is loaded yet). Under multi-threaded TCG this has
# been seen once in ~50 boots of Debian's kernel: "Oops: int3" in
# sched_clock_cpu while another vCPU was live-patching a static branch
# (cross-vCPU code modification is not coherent in TCG's translation cache).
# Such a boot is retried, loudly; a crash after /init started never is.
attempt=1
while :; do
	boot_once
	if console_has 'iiousb-vm: scenario=' ||
		! console_has 'Oops|Kernel panic|BUG:' ||
		[ "$attempt" -ge 3 ]; then
		break
	fi
	echo "run.sh: WARNING: boot $attempt of $scenario: the kernel crashed before /init ran" \
		"(no project code had run yet): retrying" >&2
	tr -d '\r' < "$log" | grep -E 'Oops|RIP:|Kernel panic' | head -n 4 | sed 's/^/run.sh:   /' >&2
	attempt=$((attempt + 1))
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

# The whole console without its carriage returns, once, for what follows.
console_txt=$work/console.txt
tr -d '\r' < "$log" > "$console_txt"
result=$(sed -n 's/^IIOUSB-VM-RESULT=\([0-9]*\)$/\1/p' "$console_txt" | tail -n 1)
# Kernel reports anywhere on the console (they are printed as they happen, and
# once more in the dmesg dump at the end).
report_re='WARNING:|BUG:|Oops|KASAN|refcount_t|possible circular locking|lock order detected|inconsistent lock state|DMA-API: [^ ]+ [^ ]+: |general protection fault|Kernel panic'
bad=$(grep -E "$report_re" "$console_txt" | grep -v '^run.sh:' | sort -u || true)
if [ -n "$expect" ]; then
	if console_has "$expect"; then
		echo "run.sh: $scenario reproduced the expected kernel report /$expect/ (scenario status ${result:-none})"
		exit 0
	fi
	echo "run.sh: FAIL $scenario: expected a kernel report matching /$expect/, none seen" >&2
	exit 1
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run.sh: FAIL $scenario: VM timed out after ${timeout_s}s" >&2
	exit 124
fi
if [ -z "$result" ]; then
	echo "run.sh: FAIL $scenario: the guest did not report a result (qemu exit $qrc; crash or panic?)" >&2
	exit 1
fi
if [ -n "$bad" ]; then
	echo "run.sh: FAIL $scenario: kernel reported problems:" >&2
	echo "$bad" >&2
	exit 1
fi
if [ "$result" != 0 ]; then
	# The kernel's log comes last on the console and can be long (the debug kernel's): a
	# recap of what failed, for a reader who sees only the output's tail (CI's summary).
	echo "run.sh: recap of $scenario: its last steps, its FAIL lines, the daemon's last lines"
	{
		# (Each may match nothing: set -e must not end the group there.)
		grep -E '^\[[0-9]+\.[0-9]{2}\] ' "$console_txt" | tail -n 8 || true
		grep -E '^(FAIL|iiousb-vm: scenario finished)' "$console_txt" || true
		grep -E '^  iiousbd\| ' "$console_txt" | tail -n 25 || true
	} | sed 's/^/run.sh: | /'
fi
printf 'run.sh: %s finished with status %s in %.1fs\n' "$scenario" "$result" "$elapsed"
exit "$result"
