# VM scenarios run by CTest.
#   iiousb_vm_test(test-name scenario [STOCK_KERNEL_ONLY] [run.sh options...])
#     -> vm.NAME on Debian's kernel and vm.debug.NAME on the debug kernel (lockdep with
#     PROVE_RCU, KASAN, DMA-API debugging, DMABUF_DEBUG: kernel-patches/README.md).
#     STOCK_KERNEL_ONLY where the debug kernel would check no kernel code that
#     another debug run does not already cover (Debian's own modules, userspace
#     error paths), to keep CI within its time.
#   iiousb_vm_regression(test-name scenario stock|debug REGEX [run.sh options...] [-- scenario args])
#     -> vm.regress.NAME: the modules without our fixes must reproduce the bug
#   iiousb_vm_arm64_test(test-name scenario [run.sh options...] [-- scenario args])
#     -> vm.arm64.NAME: on Debian's arm64 kernel (run.sh --arch arm64), after cross.arm64

iiousb_vm_test(smoke smoke STOCK_KERNEL_ONLY)

# Kernel test rig (issue 2): iio-sim over industrialio-buffer-dma
iiousb_vm_test(iio_dmabuf iio_dmabuf)
iiousb_vm_test(iio_fileio iio_fileio)
iiousb_vm_test(iio_hazards iio_hazards)

# dummy_hcd patches 0001-0005 and FunctionFS DMABUF (kernel-patches/README.md, "dummy_hcd patches")
iiousb_vm_test(ffs_dmabuf_hs ffs_dmabuf --speed hs)
iiousb_vm_test(ffs_dmabuf_ss ffs_dmabuf --speed ss)
iiousb_vm_test(ffs_dmabuf_stock ffs_dmabuf_stock STOCK_KERNEL_ONLY --udc stock)
iiousb_vm_test(ffs_hazards ffs_hazards)
iiousb_vm_test(udc_fifo_flush udc_fifo_flush)
iiousb_vm_test(udc_fifo_flush_stock udc_fifo_flush STOCK_KERNEL_ONLY --udc stock)
# 0002 against its original symptom, Debian's iiod over FunctionFS: no iio_info session fails
# without a stale reply in the FIFO, and with FUNCTIONFS_FIFO_FLUSH between sessions all
# succeed; on Debian's dummy_hcd some must fail.
iiousb_vm_test(udc_fifo_iiod udc_fifo_iiod STOCK_KERNEL_ONLY)
iiousb_vm_test(udc_fifo_iiod_stock udc_fifo_iiod STOCK_KERNEL_ONLY --udc stock)

# Kernel fixes (issue 6): each bug's reproducer passes with the fixed modules ...
iiousb_vm_test(kbug_iio_dmabuf_read kbug_iio_dmabuf_read)
iiousb_vm_test(kbug_iio_reorder kbug_iio_reorder)
iiousb_vm_test(kbug_iio_lockorder kbug_iio_lockorder)
# 0012 v2: two concurrent readers of one buffer wait for each other (v1 made the second EBUSY).
iiousb_vm_test(kbug_iio_readers kbug_iio_readers)
# 0013 v2: DETACH right after the disable aborted a transfer, then enable: fileio (v1 failed).
iiousb_vm_test(kbug_iio_detach_race kbug_iio_detach_race)
# Issue 11: DMABUF blocks queued when the IIO driver goes away (0014).
iiousb_vm_test(kbug_iio_removed kbug_iio_removed)
# Issue 14: an output DMABUF enqueued again while its block is queued (0015, IIO core).
iiousb_vm_test(kbug_iio_requeue kbug_iio_requeue)
# Non-blocking fileio reads racing the device's removal (0016, IIO core; seen in CI).
iiousb_vm_test(kbug_iio_read_removed kbug_iio_read_removed)
iiousb_vm_test(kbug_ffs_contend kbug_ffs_contend)
iiousb_vm_test(kbug_ffs_abort kbug_ffs_abort)
iiousb_vm_test(kbug_ffs_fence kbug_ffs_fence)
iiousb_vm_test(kbug_ffs_unbind kbug_ffs_unbind)
iiousb_vm_test(kbug_ffs_double kbug_ffs_double)
# Issue 14: DETACH cancels only the latest of two transfers of one DMABUF (0027).
iiousb_vm_test(kbug_ffs_double_detach kbug_ffs_double_detach)
iiousb_vm_test(kbug_ffs_double_in kbug_ffs_double_in)
# 0028: a transfer queued behind the IIO fence (USB_FFS_DMABUF_TRANSFER_AFTER_FENCES), its
# cancel paths and the callback racing DETACH and close.
iiousb_vm_test(ffs_chain ffs_chain)
# ... and reproduces it without them (bugs 1, 2, 6 on Debian's kernel; 3, 4, 5 need
# lockdep or KASAN, so the debug kernel).
iiousb_vm_regression(bug1_iio_dmabuf_read kbug_iio_dmabuf_read stock
                     "BUG: kernel NULL pointer dereference|general protection fault")
iiousb_vm_regression(bug2_iio_reorder kbug_iio_reorder stock "session 2 out of order")
# Without 0010 and 0013 the buffer comes up in DMABUF mode after STOP, DETACH, enable, and
# the first read() dereferences the missing fileio block.
iiousb_vm_regression(bug1_iio_detach_race kbug_iio_detach_race stock
                     "BUG: kernel NULL pointer dereference|general protection fault")
iiousb_vm_regression(bug7_iio_removed kbug_iio_removed stock "DMABUF leak")
# Bug 8 (0015): the queued block's fence replaced and freed: the reservation object reads as
# idle (Debian's kernel), the block's completion revives the freed fence (debug kernel; the
# memory goes back after an RCU grace period, so the refcount check sees it, not KASAN).
iiousb_vm_regression(bug8_iio_requeue kbug_iio_requeue stock "fence lost")
# (No ';' in a regex here: CMake would split the argument there.)
iiousb_vm_regression(bug8_iio_requeue_debug kbug_iio_requeue debug "refcount_t: addition on 0")
# Bug 10 (0016): a non-blocking read() flushes the FIFO of a device being unregistered.
iiousb_vm_regression(bug10_iio_read_removed kbug_iio_read_removed stock
                     "BUG: kernel NULL pointer dereference|general protection fault")
# Bug 9 (0027): the first of two transfers of one DMABUF outlives DETACH.
iiousb_vm_regression(bug9_ffs_double_detach kbug_ffs_double_detach stock "outlived DETACH")
iiousb_vm_regression(bug6_ffs_unbind kbug_ffs_unbind stock
                     "BUG: kernel NULL pointer dereference|general protection fault")
iiousb_vm_regression(bug3_iio_lockorder kbug_iio_lockorder debug
                     "possible circular locking dependency detected")
# Bug 4: lockdep reports it when the reservation lock has a waiter at the moment f_fs
# unlocks it under eps_lock. kbug_ffs_contend arranges that every time (the abort loop,
# kbug_ffs_abort, hits it only now and then).
iiousb_vm_regression(bug4_ffs_contend kbug_ffs_contend debug "SOFTIRQ-safe -> SOFTIRQ-unsafe")
iiousb_vm_regression(bug5_ffs_fence kbug_ffs_fence debug "KASAN: slab-use-after-free")

# iiousbd foundation (issue 3)
iiousb_vm_test(daemon_bringup daemon_bringup)
iiousb_vm_test(daemon_restart daemon_restart)
iiousb_vm_test(daemon_bringup_ss daemon_bringup STOCK_KERNEL_ONLY --speed ss)
iiousb_vm_test(daemon_failures daemon_failures)
# iiousbd --check-system (issue 13): exit 0 with the patched dummy_hcd, 1 with Debian's (no
# scatter-gather); nothing left behind; a running stream left alone.
iiousb_vm_test(check_system check_system STOCK_KERNEL_ONLY)
iiousb_vm_test(check_system_stock check_system STOCK_KERNEL_ONLY --udc stock)
# Issue 11: a UDC that appears after the daemon, and one unloaded mid-stream and loaded again.
iiousb_vm_test(daemon_hotplug daemon_hotplug)
# IIO devices that probe late, go away mid-stream and come back under new ids (both modes).
# (The DMABUF that stayed listed after a round on the debug kernel was a kernel leak, fixed
# by 0014: kbug_iio_removed.)
iiousb_vm_test(daemon_iio_hotplug daemon_iio_hotplug)
iiousb_vm_test(daemon_iio_hotplug_copy daemon_iio_hotplug -- 1 copy)

# systemd service (issue 7): iiousbd.service under Debian's systemd as PID 1 (run.sh --rootfs
# systemd; the root is built from Debian's packages and cached by mkrootfs-systemd.sh):
# notify/READY only once bound, live STATUS, journal fields, watchdog restart, reload with a
# broken config, clean stop. Userspace only: Debian's kernel suffices.
iiousb_vm_test(systemd_service systemd_service STOCK_KERNEL_ONLY --rootfs systemd)
# The Debian packages (issue 13) under systemd: packaging.debs (the fixture "debs") builds
# them into BUILD/debs; the guest (mkrootfs-systemd.sh --debs: the root's packages
# registered in its dpkg database) installs iiousbd and iiousb with dpkg, enables and
# starts the packaged unit, streams, and checks that dpkg --purge leaves nothing behind.
iiousb_vm_test(debs_systemd debs_systemd STOCK_KERNEL_ONLY --rootfs systemd
               --debs ${CMAKE_BINARY_DIR}/debs)
set_tests_properties(vm.debs_systemd PROPERTIES FIXTURES_REQUIRED debs)

# host tool iiousb (issue 4): control requests against iiousbd; streaming against a
# FunctionFS stand-in (tool_ffs_source) until the daemon's pipeline moves data
iiousb_vm_test(tool_control tool_control STOCK_KERNEL_ONLY)
iiousb_vm_test(tool_stream tool_stream STOCK_KERNEL_ONLY --timeout 600)

# Data pipeline (issue 5): iiousbd streaming between iio-sim and the host tool.
# Arguments after "--": RX MiB verified word by word, TX MiB checked by the DAC (played, then
# both streams at once), the USB and IIO port modes GET_STATS must report, zero-copy setting.
# 1 GiB verified and 256 MiB played at high speed; the other speed and UDC a quarter of that
# (each took 75 to 110 s on a loaded machine with the full amounts).
iiousb_vm_test(stream_hs stream STOCK_KERNEL_ONLY --timeout 900 -- 1024 256)
iiousb_vm_test(stream_ss stream STOCK_KERNEL_ONLY --speed ss --timeout 900 -- 256 64)
# A UDC without scatter-gather: the USB side copies (FunctionFS AIO), the IIO side stays
# zero-copy.
iiousb_vm_test(stream_stock_udc stream STOCK_KERNEL_ONLY --udc stock --timeout 900
               -- 256 64 copy zero-copy)
iiousb_vm_test(stream_stock_udc_ss stream STOCK_KERNEL_ONLY --udc stock --speed ss --timeout 900
               -- 256 64 copy zero-copy)
# zero-copy: off, both sides copy (fileio and AIO).
iiousb_vm_test(stream_copy stream STOCK_KERNEL_ONLY --timeout 900 -- 256 64 copy copy off)
# The same paths under lockdep, KASAN and DMA-API debugging, with less data.
# (The debug kernel runs them 5-10 times slower.)
iiousb_vm_test(stream stream DEBUG_KERNEL_ONLY --timeout 900 -- 32 16)
iiousb_vm_test(stream_stock_udc stream DEBUG_KERNEL_ONLY --udc stock --timeout 900
               -- 8 4 copy zero-copy)
iiousb_vm_test(stream_copy stream DEBUG_KERNEL_ONLY --timeout 900 -- 8 4 copy copy off)
iiousb_vm_test(stream_disconnect stream_disconnect --timeout 900 -- 2)
# Per-block metadata (issue 15): gaps of a free-running ADC announced at the right blocks,
# counts within the device's margin, latency; without metadata the same gaps fail --verify.
iiousb_vm_test(stream_meta stream_meta STOCK_KERNEL_ONLY --timeout 600)
# The debug kernel moves a block several times slower: a slower ADC, so that gaps come from
# the stalls and not from every block.
iiousb_vm_test(stream_meta stream_meta DEBUG_KERNEL_ONLY --timeout 600 -- 50000)
# Several rx streams at once (issue 15, "Scale"): iio-sim with adcs=2, one `iiousb capture
# rx0,rx1 --verify=header` for 4 s (one host process, both streams' metadata on the one
# metadata endpoint); both move data, headers and records complete, and iiousbd's RSS
# without DMABUF mappings is at most 8 MiB idle and streaming (a size goal, not a timing).
# About 12 s; 22 s on the debug kernel (two ADCs' DMA workers and fences at once under
# lockdep and KASAN).
iiousb_vm_test(stream_multi stream_multi)
# soft_connect disconnect/connect: needs dummy_hcd 0003 (Debian's module never enumerates again).
iiousb_vm_test(stream_disconnect_soft stream_disconnect --timeout 900 -- 2 soft)
iiousb_vm_test(stream_require stream_require STOCK_KERNEL_ONLY --udc stock)
# One owner per IIO buffer (issue 11): another program holds the ADC; START of rx0 fails
# naming it and disturbs nothing, tx0 streams, rx0 works once the other program is gone.
iiousb_vm_test(daemon_iio_busy daemon_iio_busy)
# (IIO cyclic DMABUFs are exercised on the debug kernel by iio_dmabuf.)
iiousb_vm_test(stream_cyclic stream_cyclic STOCK_KERNEL_ONLY --timeout 900)
# Short and zero-length tx transfers never reach the DAC, on the zero-copy USB path (f_fs
# 0024's SHORT_NOT_OK) and the copy path (stock dummy_hcd);
# cyclic ZLP; the error budget. On Debian's f_fs (--modules unfixed: no 0024) the daemon's
# probe finds no SHORT_NOT_OK and copies on the USB side. The zero-copy case runs on both
# kernels (debug kernel: 46 s in the VM).
iiousb_vm_test(stream_tx_short stream_tx_short --timeout 600)
iiousb_vm_test(stream_tx_short_copy stream_tx_short STOCK_KERNEL_ONLY --udc stock --timeout 600
               -- copy)
iiousb_vm_test(stream_tx_short_noflag stream_tx_short STOCK_KERNEL_ONLY --modules unfixed
               --timeout 600 -- copy)
iiousb_vm_test(demo demo STOCK_KERNEL_ONLY -- 8)

# No host can wedge iiousbd (issue 11): while rx0 and then tx0 stream, ep0_fault abandons
# control transfers after their SETUP went out and leaves ep0 silent for 3 s, then sends
# random SETUPs; neither stream may stop for more than a second (f_fs blocks ep0's data and
# status stages until the host completes the transfer), the capture verifies, the DAC counts
# every byte, fds and DMABUFs return to the baseline. About 40 s of scenario; arguments
# ABANDON RANDOM SECONDS SEED HOLD TX_MIB RATE (the issue's long run with 10 000 random
# SETUPs: tests/vm/run.sh --timeout 900 daemon_ep0_fault 1000 10000 10 1 3 256). Daemon
# behaviour on Debian's f_fs and dummy_hcd; on the debug kernel (the rig's patched f_fs under
# lockdep and KASAN) with fewer transfers, and 192 MiB of playback (24 s at the DAC's
# 1 MS/s): on a loaded machine the TX phase's abandons and hold took 17 s, longer than the
# 12 s of 96 MiB.
iiousb_vm_test(daemon_ep0_fault daemon_ep0_fault STOCK_KERNEL_ONLY)
iiousb_vm_test(daemon_ep0_fault daemon_ep0_fault DEBUG_KERNEL_ONLY --timeout 900 -- 50 400 5 1 3 192)
# START/STOP cycles, host programs killed mid-stream, a stalled host (issue 11): 20 cycles
# of a verified 1 MiB capture plus raw START/STOP of both streams, two SIGKILLed captures and
# plays each followed by a session verified from its first byte (the DAC counts the play
# exactly), a 5 s SIGSTOPped capture that must count overruns; fds and DMABUFs back to the
# baseline. Arguments CYCLES STALL_S KILLS TX_BYTES; the long run is in tests/soak.sh. On the
# debug kernel with fewer cycles: the restart and stop paths under lockdep and KASAN.
iiousb_vm_test(daemon_cycles daemon_cycles STOCK_KERNEL_ONLY --timeout 600)
iiousb_vm_test(daemon_cycles daemon_cycles DEBUG_KERNEL_ONLY --timeout 900 -- 4 3 1 2097152)
# The progress watchdog (issue 11): rx0 with stall-timeout 2; iio-sim-adc's DMA stalled
# (sim_stall): iio-stalled and a restart, then rx0 moves again and a capture verifies; stalled
# for good: failed after 3 restarts, START works once it is cleared; a SIGSTOPped capture:
# usb-idle and usb-resumed, no restart. Arguments T HOST_STALL_S. On the debug kernel T is 3:
# a loaded guest there once saw the first iio-stalled 3 s late, with the ADC still stalled.
iiousb_vm_test(daemon_stall daemon_stall STOCK_KERNEL_ONLY --timeout 300)
iiousb_vm_test(daemon_stall daemon_stall DEBUG_KERNEL_ONLY --timeout 900 -- 3 6)
# No such dma-heap: the blocks come from udmabuf, still zero-copy on both sides.
iiousb_vm_test(stream_udmabuf stream STOCK_KERNEL_ONLY -- 64 16 zero-copy zero-copy auto
               /dev/dma_heap/none)
iiousb_vm_test(stream_udmabuf stream DEBUG_KERNEL_ONLY --timeout 900 -- 8 4 zero-copy zero-copy
               auto /dev/dma_heap/none)

# libiio clients (issue 12): Debian's iio_info, iio_attr, iio_readdev and iio_writedev against
# iiousbd's libiio interface: READBUF and WRITEBUF zero-copy (DMABUF blocks on the IN and OUT
# endpoints), the USB side copied where the UDC cannot import DMABUFs (Debian's dummy_hcd) and,
# for WRITEBUF, where f_fs cannot fail a short OUT transfer (Debian's f_fs, no 0024/0025),
# libiio's copy with libiio.zero-copy off.
# The variants, and the debug kernel's run, with 5 sessions in a row instead of 20 and 16 MiB
# unpaced instead of 64 (the 20 sessions took 95 s of the debug run's 230 on a loaded machine).
iiousb_vm_test(libiio_basic libiio_basic STOCK_KERNEL_ONLY --timeout 600)
iiousb_vm_test(libiio_basic libiio_basic DEBUG_KERNEL_ONLY --timeout 600
               -- zero-copy auto zero-copy 5 16)
iiousb_vm_test(libiio_basic_ss libiio_basic STOCK_KERNEL_ONLY --speed ss --timeout 600
               -- zero-copy auto zero-copy 5 16)
iiousb_vm_test(libiio_basic_copy libiio_basic STOCK_KERNEL_ONLY --udc stock --timeout 600
               -- copy auto copy 5 16)
iiousb_vm_test(libiio_basic_off libiio_basic STOCK_KERNEL_ONLY --timeout 600
               -- zero-copy off zero-copy 5 16)
iiousb_vm_test(libiio_basic_noflag libiio_basic STOCK_KERNEL_ONLY --modules unfixed --timeout 600
               -- zero-copy auto copy 5 16)
# Python clients (python3-libiio, what pyadi-iio uses) in a guest that carries python3.
iiousb_vm_test(libiio_python libiio_python STOCK_KERNEL_ONLY)
# libiio.devices: a device left out is not in the context and answers -ENODEV.
iiousb_vm_test(libiio_devices libiio_devices STOCK_KERNEL_ONLY)

# The arm64 rig (issue 13; IIOUSB_ARM64_VM_TESTS, on in tests/run-all.sh): Debian's arm64 6.12
# kernel in qemu-system-aarch64 (virt, cortex-a53, TCG) with our modules and the guest's
# programs from the cross.arm64 build (its fixture). That kernel has no dma-heaps: iiousbd and
# the test programs allocate with udmabuf, still zero-copy on both sides. About 3 minutes of
# VM time in all; the long runs stay on amd64.
iiousb_vm_arm64_test(smoke smoke)
iiousb_vm_arm64_test(iio_dmabuf iio_dmabuf)
iiousb_vm_arm64_test(ffs_dmabuf_hs ffs_dmabuf --speed hs)
iiousb_vm_arm64_test(ffs_dmabuf_stock ffs_dmabuf_stock --udc stock)
iiousb_vm_arm64_test(stream stream -- 256 64)
iiousb_vm_arm64_test(stream_disconnect stream_disconnect -- 2)
iiousb_vm_arm64_test(demo demo -- 8)
# iiousbd --check-system on the board's architecture: the allocator line names udmabuf.
iiousb_vm_arm64_test(check_system check_system)
