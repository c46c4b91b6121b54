#include "ffs/FfsEndpoint.h"

#include <cerrno>
#include <ctime>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <linux/usb/functionfs.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "base/KernelUapi.h"

namespace iiousb::ffs {

Result<FfsEndpoint> FfsEndpoint::open(const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd)
        return errnoError(errno, "Failed to open the endpoint " + path);
    return FfsEndpoint(std::move(fd), path);
}

Result<void> FfsEndpoint::setNonBlocking()
{
    int flags = fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        return errnoError(errno, "Failed to make " + path_ + " non-blocking");
    return {};
}

namespace {

Result<usb_endpoint_descriptor> readDescriptor(int fd, const std::string &path)
{
    usb_endpoint_descriptor desc{};
    if (ioctl(fd, FUNCTIONFS_ENDPOINT_DESC, &desc) < 0)
        return errnoError(errno, "Failed to read the endpoint descriptor of " + path);
    return desc;
}

} // namespace

Result<usb_endpoint_descriptor> FfsEndpoint::descriptor() const
{
    return readDescriptor(fd_.get(), path_);
}

Result<usb_endpoint_descriptor> FfsEndpoint::descriptorOf(const std::string &path)
{
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
        return errnoError(errno, "Failed to read the endpoint descriptor of " + path);
    return readDescriptor(fd.get(), path);
}

int FfsEndpoint::attach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kFfsDmabufAttach, &dmabufFd) < 0 ? -errno : 0;
}

int FfsEndpoint::detach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kFfsDmabufDetach, &dmabufFd) < 0 ? -errno : 0;
}

int FfsEndpoint::transfer(int dmabufFd, std::uint64_t length, std::uint32_t flags)
{
    uapi::FfsDmabufTransferReq req{};
    req.fd = dmabufFd;
    req.flags = flags;
    req.length = length;
    const int r = ioctl(fd_.get(), uapi::kFfsDmabufTransfer, &req);
    return r < 0 ? -errno : r;
}

// Linux AIO through its system calls (glibc has no wrappers; libaio is not needed for this).
namespace {

long ioSetup(unsigned n, aio_context_t *ctx)
{
    return syscall(SYS_io_setup, n, ctx);
}
long ioDestroy(aio_context_t ctx)
{
    return syscall(SYS_io_destroy, ctx);
}
long ioSubmit(aio_context_t ctx, long n, struct iocb **iocbs)
{
    return syscall(SYS_io_submit, ctx, n, iocbs);
}
long ioGetEvents(aio_context_t ctx, long minNr, long maxNr, struct io_event *events,
                 struct timespec *timeout)
{
    return syscall(SYS_io_getevents, ctx, minNr, maxNr, events, timeout);
}

} // namespace

Result<AioContext> AioContext::create(unsigned maxRequests)
{
    UniqueFd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!efd)
        return errnoError(errno, "Failed to create an eventfd");
    aio_context_t ctx = 0;
    if (ioSetup(maxRequests, &ctx) < 0)
        return errnoError(errno, "io_setup(" + std::to_string(maxRequests) + ") failed");
    return AioContext(ctx, std::move(efd));
}

AioContext::AioContext(AioContext &&other) noexcept
    : ctx_(std::exchange(other.ctx_, 0)), eventFd_(std::move(other.eventFd_))
{}

AioContext::~AioContext()
{
    if (ctx_)
        ioDestroy(ctx_);
}

int AioContext::submit(int fd, bool write, void *data, std::size_t length, std::uint64_t tag)
{
    struct iocb cb {};
    cb.aio_data = tag;
    cb.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    cb.aio_fildes = static_cast<std::uint32_t>(fd);
    cb.aio_buf = reinterpret_cast<std::uintptr_t>(data);
    cb.aio_nbytes = length;
    cb.aio_flags = IOCB_FLAG_RESFD;
    cb.aio_resfd = static_cast<std::uint32_t>(eventFd_.get());
    struct iocb *list[1] = {&cb};
    long r = ioSubmit(ctx_, 1, list);
    if (r < 0)
        return -errno;
    return r == 1 ? 0 : -EAGAIN;
}

std::vector<AioContext::Completion> AioContext::reap()
{
    std::uint64_t count = 0;
    (void)::read(eventFd_.get(), &count, sizeof(count));
    std::vector<Completion> done;
    struct io_event events[16];
    struct timespec zero {};
    for (;;) {
        long n = ioGetEvents(ctx_, 0, 16, events, &zero);
        if (n <= 0)
            break;
        for (long i = 0; i < n; i++)
            done.push_back({events[i].data, events[i].res});
        if (n < 16)
            break;
    }
    return done;
}

} // namespace iiousb::ffs
