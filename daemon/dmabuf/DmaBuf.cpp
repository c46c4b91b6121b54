#include "dmabuf/DmaBuf.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

namespace iiousb::dmabuf {

namespace {

Result<UniqueFd> allocateFromHeap(const std::string &heapPath, std::size_t size)
{
    UniqueFd heap(::open(heapPath.c_str(), O_RDONLY | O_CLOEXEC));
    if (!heap)
        return errnoError(errno, "Failed to open the dma-heap " + heapPath);
    struct dma_heap_allocation_data data {};
    data.len = size;
    data.fd_flags = O_RDWR | O_CLOEXEC;
    if (ioctl(heap.get(), DMA_HEAP_IOCTL_ALLOC, &data) < 0)
        return errnoError(errno,
                          "Failed to allocate " + std::to_string(size) + " bytes from " + heapPath);
    return UniqueFd(static_cast<int>(data.fd));
}

Result<UniqueFd> allocateUdmabuf(std::size_t size)
{
    UniqueFd memfd(memfd_create("iiousb-block", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!memfd)
        return errnoError(errno, "Failed to create a memfd for udmabuf");
    if (ftruncate(memfd.get(), static_cast<off_t>(size)) < 0)
        return errnoError(errno, "Failed to size the udmabuf memfd");
    if (fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK) < 0)
        return errnoError(errno, "Failed to seal the udmabuf memfd");
    UniqueFd dev(::open("/dev/udmabuf", O_RDWR | O_CLOEXEC));
    if (!dev)
        return errnoError(errno, "Failed to open /dev/udmabuf");
    struct udmabuf_create create {};
    create.memfd = static_cast<__u32>(memfd.get());
    create.flags = UDMABUF_FLAGS_CLOEXEC;
    create.offset = 0;
    create.size = size;
    int fd = ioctl(dev.get(), UDMABUF_CREATE, &create);
    if (fd < 0)
        return errnoError(errno, "Failed to create a " + std::to_string(size) + "-byte udmabuf");
    return UniqueFd(fd);
}

} // namespace

Result<DmaBuf> DmaBuf::allocate(const std::string &heapPath, std::size_t size)
{
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    size = (size + page - 1) / page * page;
    if (access(heapPath.c_str(), F_OK) == 0) {
        auto fd = allocateFromHeap(heapPath, size);
        if (!fd)
            return fd.takeError();
        return DmaBuf(std::move(*fd), size, heapPath);
    }
    auto fd = allocateUdmabuf(size);
    if (!fd)
        return makeError(fd.error().code,
                         "No dma-heap " + heapPath + ", and udmabuf failed: " + fd.error().message);
    return DmaBuf(std::move(*fd), size, "udmabuf");
}

DmaBuf::DmaBuf(DmaBuf &&other) noexcept
    : fd_(std::move(other.fd_)), size_(other.size_), origin_(std::move(other.origin_)),
      map_(std::exchange(other.map_, nullptr))
{}

DmaBuf &DmaBuf::operator=(DmaBuf &&other) noexcept
{
    if (this != &other) {
        unmap();
        fd_ = std::move(other.fd_);
        size_ = other.size_;
        origin_ = std::move(other.origin_);
        map_ = std::exchange(other.map_, nullptr);
    }
    return *this;
}

DmaBuf::~DmaBuf()
{
    unmap();
}

void DmaBuf::unmap()
{
    if (map_)
        munmap(map_, size_);
    map_ = nullptr;
}

Result<std::uint8_t *> DmaBuf::map()
{
    if (!map_) {
        void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
        if (p == MAP_FAILED)
            return errnoError(errno, "Failed to map a DMABUF");
        map_ = p;
    }
    return static_cast<std::uint8_t *>(map_);
}

namespace {

Result<void> syncCpu(int fd, std::uint64_t flags)
{
    struct dma_buf_sync sync {};
    sync.flags = flags;
    while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0) {
        if (errno != EINTR && errno != EAGAIN)
            return errnoError(errno, "DMA_BUF_IOCTL_SYNC failed");
    }
    return {};
}

std::uint64_t accessFlags(bool read, bool write)
{
    return (read ? DMA_BUF_SYNC_READ : 0) | (write ? DMA_BUF_SYNC_WRITE : 0);
}

} // namespace

Result<void> DmaBuf::beginCpuAccess(bool read, bool write)
{
    return syncCpu(fd_.get(), DMA_BUF_SYNC_START | accessFlags(read, write));
}

Result<void> DmaBuf::endCpuAccess(bool read, bool write)
{
    return syncCpu(fd_.get(), DMA_BUF_SYNC_END | accessFlags(read, write));
}

Result<SyncFile> SyncFile::exportFrom(int dmabufFd)
{
    struct dma_buf_export_sync_file exp {};
    exp.flags = DMA_BUF_SYNC_WRITE;
    exp.fd = -1;
    if (ioctl(dmabufFd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &exp) < 0)
        return errnoError(errno, "Failed to export a sync_file from a DMABUF");
    return SyncFile(UniqueFd(exp.fd));
}

int SyncFile::status(std::uint64_t *signalledNs) const
{
    if (signalledNs)
        *signalledNs = 0;
    // The combined status of a fence array can read 1 while a member failed: ask per fence.
    // One ioctl for the usual few fences (the kernel refuses a smaller array with EINVAL:
    // then ask how many first).
    constexpr std::size_t kFew = 4;
    std::array<struct sync_fence_info, kFew> few{};
    std::vector<struct sync_fence_info> many;
    struct sync_fence_info *fences = few.data();
    struct sync_file_info info {};
    info.num_fences = kFew;
    info.sync_fence_info = reinterpret_cast<std::uintptr_t>(few.data());
    if (ioctl(fd_.get(), SYNC_IOC_FILE_INFO, &info) < 0) {
        if (errno != EINVAL)
            return -errno;
        info = {};
        if (ioctl(fd_.get(), SYNC_IOC_FILE_INFO, &info) < 0)
            return -errno;
        if (info.num_fences == 0)
            return info.status;
        many.resize(info.num_fences);
        fences = many.data();
        info = {};
        info.num_fences = static_cast<__u32>(many.size());
        info.sync_fence_info = reinterpret_cast<std::uintptr_t>(many.data());
        if (ioctl(fd_.get(), SYNC_IOC_FILE_INFO, &info) < 0)
            return -errno;
    }
    const std::size_t n = std::min<std::size_t>(info.num_fences, many.empty() ? kFew : many.size());
    int result = 1;
    for (std::size_t i = 0; i < n; i++) {
        if (signalledNs && fences[i].timestamp_ns > *signalledNs)
            *signalledNs = fences[i].timestamp_ns;
        if (fences[i].status < 0)
            return fences[i].status;
        if (fences[i].status == 0)
            result = 0;
    }
    return result;
}

} // namespace iiousb::dmabuf
