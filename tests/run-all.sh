#!/usr/bin/env bash
# Set up a fresh Debian bookworm machine and run every test: installs the
# packages (tests/install-deps.sh, tests/cross/install-deps.sh), configures and builds
# into ./build, then runs CTest (unit tests, lint, the arm64/armhf cross builds, every
# QEMU VM scenario, and a few on Debian's arm64 kernel: vm.arm64.*, after cross.arm64).
# Extra arguments go to ctest.
#
# A test that fails is run once more, alone (the VM scenarios run under TCG on a
# shared machine, where timing can starve a guest): the run passes only if each
# one passes then, and the tests that needed the second try are listed loudly
# with their first failure's output above. A test that fails twice fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/install-deps.sh
tests/cross/install-deps.sh arm64 armhf
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIIOUSB_DEBUG_KERNEL=ON -DIIOUSB_WERROR=ON \
	-DIIOUSB_CROSS_TESTS=ON -DIIOUSB_ARM64_VM_TESTS=ON
cmake --build build -j"$(nproc)"
cd build
if ctest --output-on-failure -j"$(nproc)" "$@"; then
	exit 0
fi
# CTest lists the failed tests as "NUMBER:NAME" lines.
first=$(sed 's/^[0-9]*://' Testing/Temporary/LastTestsFailed.log 2>/dev/null | tr '\n' ' ' || true)
[ -n "$first" ] || exit 1
echo "=================================================================================="
echo "run-all: FAILED ON THE FIRST RUN (their output is above): $first"
echo "run-all: running them once more, one at a time"
echo "=================================================================================="
if ctest --output-on-failure --rerun-failed -j1 "$@"; then
	echo "run-all: FLAKY - failed once, passed when run again alone: $first"
	exit 0
fi
echo "run-all: FAILED TWICE: $(sed 's/^[0-9]*://' Testing/Temporary/LastTestsFailed.log | tr '\n' ' ')"
exit 1
