# The programs the VM guest runs, in BUILD/vm-guest/bin (mkinitramfs.sh copies them with
# their libraries): included by tests/vm/CMakeLists.txt, and by the top-level CMakeLists.txt
# when only they are wanted (IIOUSB_VM_GUEST with IIOUSB_VM_TESTS off: the arm64 rig's cross
# build, tests/cross/run.sh). Target vm-guest builds them all.

# Every tests/vm/progs/*.c is a program the guest runs, named after its file.
set(IIOUSB_GUEST_BINDIR ${CMAKE_BINARY_DIR}/vm-guest/bin)
file(GLOB guest_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/progs/*.c)
set(guest_programs)
foreach(src IN LISTS guest_sources)
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/progs/common)
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
  target_link_libraries(${name} PRIVATE PkgConfig::LIBUSB pthread)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${IIOUSB_GUEST_BINDIR})
  list(APPEND guest_programs ${name})
endforeach()
# libiio_duplex is a libiio client (RX and TX from one context).
pkg_check_modules(VM_LIBIIO REQUIRED IMPORTED_TARGET libiio)
target_link_libraries(libiio_duplex PRIVATE PkgConfig::VM_LIBIIO)
add_custom_target(vm-guest ALL DEPENDS ${guest_programs})

# Other parts of the project add their binaries to the guest with
# iiousb_guest_binary(target): they are copied into vm-guest/bin after linking. (The
# function runs in the caller's scope: it cannot use this file's variables.)
function(iiousb_guest_binary target)
  add_custom_command(
    TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/vm-guest/bin
    COMMAND ${CMAKE_COMMAND} -E copy_if_different $<TARGET_FILE:${target}>
            ${CMAKE_BINARY_DIR}/vm-guest/bin/
    VERBATIM)
  add_dependencies(vm-guest ${target})
endfunction()
