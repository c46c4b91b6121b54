# arm64 (ZCU102, Kuiper arm64): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(IIOUSB_CROSS_TRIPLET aarch64-linux-gnu)
set(IIOUSB_CROSS_PROCESSOR aarch64)
set(IIOUSB_CROSS_QEMU aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
