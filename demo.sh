#!/usr/bin/env bash
# The main job on the embedded default: sets a fresh Debian bookworm machine up (packages,
# build, kernel modules), boots the test VM (Debian's 6.12 kernel, the patched dummy_hcd as
# the board's USB controller, iio-sim as its ADC and DAC) and runs iiousbd with the default
# configuration (config/iiousbd.yaml) while the host tool `iiousb` lists the device and
# captures the simulated ADC with a live MB/s line, verifying every sample.
#   ./demo.sh [SECONDS] [hs|ss]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
speed=${2:-hs}
tests/install-deps.sh
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
# The VM's whole console (its kernel log included, which the guest dumps after the
# scenario) goes to a file; the terminal shows the scenario up to its result and run.sh's
# verdict, and the kernel log only when the run failed.
console=$PWD/build/demo-console.log
set +e
tests/vm/run.sh --no-build --build-dir build --speed "$speed" --timeout $((seconds + 240)) \
	--log "$console" demo "$seconds" | tests/vm/console-filter.pl
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	echo "demo.sh: FAILED (status $rc); the guest's kernel log:"
	tr -d '\r' < "$console" | sed -n '/^==== IIOUSB DMESG BEGIN/,/^==== IIOUSB DMESG END/p'
fi
echo "demo.sh: the VM's full console, kernel log included: $console"
exit "$rc"
