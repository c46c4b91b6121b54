// DMABUFs: allocation from a dma-heap (udmabuf as the fallback), CPU access through mmap
// bracketed by DMA_BUF_IOCTL_SYNC, and sync_files exported from a DMABUF's fences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/Result.h"
#include "base/UniqueFd.h"

namespace iiousb::dmabuf {

class DmaBuf {
public:
    // `size` bytes from the dma-heap at `heapPath` (e.g. /dev/dma_heap/system); if that heap
    // does not exist, from /dev/udmabuf over a sealed memfd. The size is rounded up to pages.
    static Result<DmaBuf> allocate(const std::string &heapPath, std::size_t size);

    DmaBuf(DmaBuf &&other) noexcept;
    DmaBuf &operator=(DmaBuf &&other) noexcept;
    DmaBuf(const DmaBuf &) = delete;
    DmaBuf &operator=(const DmaBuf &) = delete;
    ~DmaBuf();

    int fd() const { return fd_.get(); }
    std::size_t size() const { return size_; }
    const std::string &origin() const { return origin_; } // "/dev/dma_heap/system", "udmabuf"

    // The CPU view (mapped on first use, read-write, shared).
    Result<std::uint8_t *> map();

    // Brackets for CPU access to the mapping (DMA_BUF_IOCTL_SYNC START/END).
    Result<void> beginCpuAccess(bool read, bool write);
    Result<void> endCpuAccess(bool read, bool write);

private:
    DmaBuf(UniqueFd fd, std::size_t size, std::string origin)
        : fd_(std::move(fd)), size_(size), origin_(std::move(origin))
    {}
    void unmap();

    UniqueFd fd_;
    std::size_t size_ = 0;
    std::string origin_;
    void *map_ = nullptr;
};

// A sync_file holding the fences a DMABUF has right now (DMA_BUF_IOCTL_EXPORT_SYNC_FILE).
class SyncFile {
public:
    // Exports every fence (DMA_BUF_SYNC_WRITE: a writer waits for readers and writers).
    // Export right after queueing a job: a later export may miss its fence.
    static Result<SyncFile> exportFrom(int dmabufFd);
    // Takes a sync_file descriptor a driver returned (FunctionFS DMABUF transfer with
    // uapi::kFfsDmabufTransferSyncFile).
    static SyncFile adopt(UniqueFd fd) { return SyncFile(std::move(fd)); }

    int fd() const { return fd_.get(); }

    // 1 when every fence signalled without error, 0 while one is pending, the first
    // fence's negative error otherwise (SYNC_IOC_FILE_INFO, per fence). `signalledNs`, if
    // given, gets the latest signal time of the fences (CLOCK_MONOTONIC ns; 0 if none).
    int status(std::uint64_t *signalledNs = nullptr) const;

private:
    explicit SyncFile(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

} // namespace iiousb::dmabuf
