#!/usr/bin/env bash
# Soak and fault runs (issue 11): the long variants of the daemon fault scenarios, one VM
# after another with tests/vm/run.sh, then a summary table (scenario, arguments, kernel,
# result, wall time). CTest runs the same scenarios with short arguments; this is the
# hours-long proof, not a CI job.
#
#   tests/soak.sh [--build-dir DIR] [--kernel stock|debug] [--quick] [--only NAME] [--dry-run]
#
#   --build-dir DIR  CMake build dir (default ./build; configured and built if missing)
#   --kernel K       stock: Debian's kernel (default); debug: the rig's debug kernel
#                    (lockdep, KASAN), which exists only in a build configured with
#                    -DIIOUSB_DEBUG_KERNEL=ON (DIR/debug-kernel) and runs 2-10x slower
#   --quick          a short pass with the CI-sized arguments, to check the runner
#   --only NAME      run only the scenario NAME (may be repeated)
#   --dry-run        print the runs, run nothing
#
# The long runs (each a separate VM):
#   daemon_ep0_fault 1000 10000 10 1 3 256   1000 abandoned control transfers, 10 000 random SETUPs
#   stream_disconnect 100 unbind / 100 soft  100 host disconnects mid-stream per method
#   daemon_cycles 100 30 10                  100 START/STOP cycles, 10 SIGKILLs, a 30 s stall
#   daemon_hotplug 20 50                     20 UDC unbind/bind mid-stream + module reloads, 50 fresh binds
#   daemon_iio_busy                          once
#   daemon_iio_hotplug 20 / 20 copy          iio-sim unbound and bound again mid-stream, 20 times
#   stream_tx_short                          short and zero-length tx transfers, once
# Exit status: 0 if every run passed, 1 otherwise. Logs: DIR/soak/NAME.log.
set -uo pipefail
cd "$(dirname "$0")/.."

build=build
kernel=stock
quick=0
dry=0
only=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build=$2; shift 2 ;;
	--kernel) kernel=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--only) only+=("$2"); shift 2 ;;
	--dry-run) dry=1; shift ;;
	-h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
	esac
done
case "$kernel" in stock|debug) ;; *) echo "soak.sh: --kernel stock|debug" >&2; exit 2 ;; esac

if [ ! -d "$build" ]; then
	echo "soak.sh: configuring and building $build"
	cmake -B "$build" -DIIOUSB_WERROR=ON && cmake --build "$build" -j"$(nproc)" || exit 1
fi
if [ "$kernel" = debug ] && [ ! -e "$build/debug-kernel" ]; then
	echo "soak.sh: no $build/debug-kernel: configure with -DIIOUSB_DEBUG_KERNEL=ON and build" >&2
	exit 1
fi

# NAME|TIMEOUT|SCENARIO ARGS...
if [ $quick = 1 ]; then
	runs=(
		"daemon_ep0_fault|300|daemon_ep0_fault"
		"stream_disconnect|300|stream_disconnect 2 unbind"
		"stream_disconnect_soft|300|stream_disconnect 2 soft"
		"daemon_cycles|600|daemon_cycles 5 3 1"
		"daemon_hotplug|300|daemon_hotplug 2"
		"daemon_iio_busy|300|daemon_iio_busy"
		"daemon_iio_hotplug|300|daemon_iio_hotplug 1"
		"stream_tx_short|300|stream_tx_short"
	)
else
	runs=(
		"daemon_ep0_fault|900|daemon_ep0_fault 1000 10000 10 1 3 256"
		"stream_disconnect|3600|stream_disconnect 100 unbind"
		"stream_disconnect_soft|3600|stream_disconnect 100 soft"
		"daemon_cycles|3600|daemon_cycles 100 30 10"
		"daemon_hotplug|3600|daemon_hotplug 20 50"
		"daemon_iio_busy|300|daemon_iio_busy"
		"daemon_iio_hotplug|3600|daemon_iio_hotplug 20"
		"daemon_iio_hotplug_copy|3600|daemon_iio_hotplug 20 copy"
		"stream_tx_short|600|stream_tx_short"
	)
fi
if [ "$kernel" = debug ]; then
	# The debug kernel runs 2-10x slower.
	for i in "${!runs[@]}"; do
		IFS='|' read -r n t a <<< "${runs[$i]}"
		runs[$i]="$n|$((t * 4))|$a"
	done
fi

mkdir -p "$build/soak"
summary=()
fail=0
[ $dry = 1 ] || cmake --build "$build" --target vm-deps > "$build/soak/vm-deps.log" 2>&1 ||
	{ echo "soak.sh: building vm-deps failed: $build/soak/vm-deps.log" >&2; exit 1; }
for r in "${runs[@]}"; do
	IFS='|' read -r name timeout args <<< "$r"
	if [ ${#only[@]} -gt 0 ]; then
		sel=0
		for o in "${only[@]}"; do [ "$o" = "$name" ] && sel=1; done
		[ $sel = 1 ] || continue
	fi
	# shellcheck disable=SC2086
	cmd=(tests/vm/run.sh --build-dir "$build" --no-build --kernel "$kernel" --timeout "$timeout"
	     --log "$build/soak/$name.log" $args)
	echo "=== $(date -u +%H:%M:%S) ${cmd[*]}"
	if [ $dry = 1 ]; then
		continue
	fi
	t0=$(date +%s)
	"${cmd[@]}" > "$build/soak/$name.out" 2>&1
	rc=$?
	t=$(( $(date +%s) - t0 ))
	if [ $rc = 0 ] && grep -q ': PASS' "$build/soak/$name.out"; then
		res=PASS
	else
		res="FAIL($rc)"
		fail=1
		tail -20 "$build/soak/$name.out"
	fi
	echo "=== $res in ${t}s"
	summary+=("$(printf '%-24s %-40s %-6s %-9s %5ss' "$name" "$args" "$kernel" "$res" "$t")")
done

echo
printf '%-24s %-40s %-6s %-9s %6s\n' scenario args kernel result wall
for l in "${summary[@]}"; do echo "$l"; done
exit $fail
