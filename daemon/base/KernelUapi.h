// Kernel interfaces newer than the build machine's linux-libc-dev (Debian bookworm ships
// 6.1 headers): FunctionFS DMABUF (Linux 6.9, include/uapi/linux/usb/functionfs.h) and IIO
// DMABUF (Linux 6.11, include/uapi/linux/iio/buffer.h). Values as in those headers; the
// running kernel decides at run time whether they work.
#pragma once

#include <cstdint>

#include <linux/ioctl.h>

namespace iiousb::uapi {

struct FfsDmabufTransferReq {
    int fd;
    std::uint32_t flags;
    std::uint64_t length;
} __attribute__((packed));

inline constexpr unsigned long kFfsDmabufAttach = _IOW('g', 131, int);
inline constexpr unsigned long kFfsDmabufDetach = _IOW('g', 132, int);
inline constexpr unsigned long kFfsDmabufTransfer = _IOW('g', 133, FfsDmabufTransferReq);
// FfsDmabufTransferReq::flags: a transfer that completes with fewer bytes than asked for
// fails its fence with EREMOTEIO. Not upstream: kernel-patches/linux-6.12/0024; kernels
// without it refuse the flag with EINVAL before looking at the fd.
inline constexpr std::uint32_t kFfsDmabufTransferShortNotOk = 1u << 0;
// The TRANSFER returns a sync_file fd holding the transfer's own fence (kernel-patches 0025):
// exporting the DMABUF's fences afterwards misses one that already signalled, and its error.
inline constexpr std::uint32_t kFfsDmabufTransferSyncFile = 1u << 1;
// The transfer waits in the kernel, not in the ioctl, for the DMABUF's conflicting fences (an
// IN endpoint: its writers, e.g. the IIO block filling it) and is queued once they signal; if
// one fails, so does the transfer, with its error (kernel-patches 0028).
inline constexpr std::uint32_t kFfsDmabufTransferAfterFences = 1u << 2;

struct IioDmabuf {
    std::uint32_t fd;
    std::uint32_t flags;
    std::uint64_t bytesUsed;
};

inline constexpr std::uint32_t kIioDmabufCyclic = 1u << 0;
// The ENQUEUE returns a sync_file fd holding the transfer's own fence (kernel-patches 0017,
// the IIO side of 0025): no export per block, and a block that completes before an export
// could take its fence keeps its status and time. Kernels without it: EINVAL.
inline constexpr std::uint32_t kIioDmabufSyncFile = 1u << 1;

inline constexpr unsigned long kIioBufferGetFd = _IOWR('i', 0x91, int);
inline constexpr unsigned long kIioDmabufAttach = _IOW('i', 0x92, int);
inline constexpr unsigned long kIioDmabufDetach = _IOW('i', 0x93, int);
inline constexpr unsigned long kIioDmabufEnqueue = _IOW('i', 0x94, IioDmabuf);

} // namespace iiousb::uapi
