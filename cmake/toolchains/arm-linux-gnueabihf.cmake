# armhf (Pluto's Zynq-7000, Kuiper armhf): cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-linux-gnueabihf.cmake
set(IIOUSB_CROSS_TRIPLET arm-linux-gnueabihf)
set(IIOUSB_CROSS_PROCESSOR armv7l)
set(IIOUSB_CROSS_QEMU arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
