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
exec tests/vm/run.sh --no-build --build-dir build --speed "$speed" --timeout $((seconds + 240)) \
	demo "$seconds"
