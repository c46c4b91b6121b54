# Shared part of the Debian multiarch cross tool chain files (included by
# aarch64-linux-gnu.cmake and arm-linux-gnueabihf.cmake, which set IIOUSB_CROSS_TRIPLET
# and IIOUSB_CROSS_PROCESSOR first).
#
# Compilers: crossbuild-essential-<arch> (gcc/g++-<triplet>). Libraries: Debian's
# lib*-dev:<arch> packages installed with multiarch into /usr/lib/<triplet>, except
# yaml-cpp's, which is not co-installable with the build machine's libyaml-cpp-dev;
# tests/cross/install-deps.sh unpacks its pkg-config file and link into
# /usr/local/lib/<triplet>. Unit tests run under qemu-user (qemu-user-static).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${IIOUSB_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${IIOUSB_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${IIOUSB_CROSS_TRIPLET}-g++)

# Headers are architecture independent and shared (/usr/include); libraries and
# pkg-config files come from the target's multiarch directories only.
set(CMAKE_LIBRARY_ARCHITECTURE ${IIOUSB_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /usr/${IIOUSB_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/local/lib/${IIOUSB_CROSS_TRIPLET}/pkgconfig:/usr/lib/${IIOUSB_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Target binaries that the build runs (GoogleTest's test discovery, CTest) go through
# qemu-user, with the target's multiarch loader and libraries (/lib/<triplet>, libc6:<arch>).
# Not with `-L /usr/<triplet>`: the cross tool chain's own libc there (2.36-8cross1) makes
# the first pthread_create() spin forever under Debian 12's qemu-user 7.2, while the
# multiarch libc6:<arch> (2.36-9+deb12u*) works.
find_program(IIOUSB_QEMU_USER qemu-${IIOUSB_CROSS_QEMU}-static qemu-${IIOUSB_CROSS_QEMU})
if(IIOUSB_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${IIOUSB_QEMU_USER})
endif()
