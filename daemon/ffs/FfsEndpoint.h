// A FunctionFS data endpoint file (epN): DMABUF attach/detach/transfer, and Linux AIO for
// the copy path (FunctionFS queues AIO requests without blocking the caller; completions are
// reported on an eventfd the event loop watches).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include <linux/aio_abi.h>
#include <linux/usb/ch9.h>

#include "base/Result.h"
#include "base/UniqueFd.h"

namespace iiousb::ffs {

class FfsEndpoint {
public:
    // Opens blocking (an O_NONBLOCK open fails with EAGAIN while f_fs is busy); call
    // setNonBlocking() after the DMABUFs are attached (ATTACH on an O_NONBLOCK file returns
    // EBUSY when the DMABUF's reservation lock is contended).
    static Result<FfsEndpoint> open(const std::string &path);

    int fd() const { return fd_.get(); }
    const std::string &path() const { return path_; }
    Result<void> setNonBlocking();

    // The descriptor the host got for this endpoint (FUNCTIONFS_ENDPOINT_DESC: its address
    // and wMaxPacketSize as the UDC assigned them; valid once the function is enabled).
    Result<usb_endpoint_descriptor> descriptor() const;
    // The same for the endpoint file `path`, opened and closed without blocking (the
    // streams may hold it open).
    static Result<usb_endpoint_descriptor> descriptorOf(const std::string &path);

    // 0 or a negative errno (EPERM: the UDC cannot do scatter-gather, no DMABUF import).
    int attach(int dmabufFd);
    int detach(int dmabufFd);
    // `flags`: uapi::kFfsDmabufTransfer* flags. 0 (with kFfsDmabufTransferSyncFile: the
    // transfer's sync_file fd, which the caller owns) or a negative errno.
    int transfer(int dmabufFd, std::uint64_t length, std::uint32_t flags = 0);

private:
    FfsEndpoint(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    UniqueFd fd_;
    std::string path_;
};

// A Linux AIO context whose completions signal an eventfd.
class AioContext {
public:
    static Result<AioContext> create(unsigned maxRequests);
    AioContext(AioContext &&other) noexcept;
    AioContext &operator=(AioContext &&) = delete;
    AioContext(const AioContext &) = delete;
    AioContext &operator=(const AioContext &) = delete;
    // Cancels what is in flight and waits for it (io_destroy).
    ~AioContext();

    int eventFd() const { return eventFd_.get(); }

    // Queues a read (`write` false) or write of `length` bytes at `data` on `fd`; `tag` comes
    // back with the completion. 0 or a negative errno.
    int submit(int fd, bool write, void *data, std::size_t length, std::uint64_t tag);

    struct Completion {
        std::uint64_t tag;
        std::int64_t result; // bytes or a negative errno
    };
    // Completions that are ready (call when eventFd() is readable).
    std::vector<Completion> reap();

private:
    AioContext(aio_context_t ctx, UniqueFd eventFd) : ctx_(ctx), eventFd_(std::move(eventFd)) {}
    aio_context_t ctx_ = 0;
    UniqueFd eventFd_;
};

} // namespace iiousb::ffs
