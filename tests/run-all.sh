#!/usr/bin/env bash
# Set up a fresh Debian bookworm machine and run every test: installs the
# packages (tests/install-deps.sh), configures and builds into ./build, then runs
# CTest (unit tests and every QEMU VM scenario). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/install-deps.sh
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIIOUSB_DEBUG_KERNEL=ON -DIIOUSB_WERROR=ON
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
