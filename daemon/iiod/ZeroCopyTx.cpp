#include "iiod/ZeroCopyTx.h"

#include <algorithm>
#include <cerrno>

#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(ZeroCopyOut, "iiod")

namespace {

// The largest wMaxPacketSize of a bulk endpoint (SuperSpeed): a piece of a multiple of it
// ends where one of the client's packets ends at every speed.
constexpr std::uint64_t kPacketMultiple = 1024;

} // namespace

Result<std::unique_ptr<ZeroCopyTx>> ZeroCopyTx::open(EventLoop &loop, LibiioBlocksOptions options,
                                                     Events events)
{
    if (auto r = check(options); !r)
        return r.takeError();
    std::unique_ptr<ZeroCopyTx> z(new ZeroCopyTx(loop, std::move(options), std::move(events)));
    if (auto r = z->setUp(); !r)
        return r.takeError();
    return z;
}

Result<void> ZeroCopyTx::setUp()
{
    auto iioZero = openIio(proto::Direction::Tx);
    if (!iioZero)
        return iioZero.takeError();
    for (std::size_t i = 0; i < blocks_.size(); i++)
        free_.push_back(i);
    auto usbZero = usbZeroCopy();
    if (!usbZero)
        return usbZero.takeError();
    if (auto r = endpoint_->setNonBlocking(); !r)
        return r;
    if (!*iioZero || !*usbZero) {
        // A copy port moves the bytes through the blocks' mappings.
        if (auto r = mapBlocks(); !r)
            return r;
    }

    auto iioDone = [this](std::size_t b, int s, std::uint64_t) { onIioDone(b, s); };
    auto iioPort = *iioZero ? pipeline::makeIioDmabufPort(loop_, *iio_, blocks_, iioDone)
                            : pipeline::makeIioFileioPort(loop_, *iio_, proto::Direction::Tx,
                                                          blocks_, iioDone);
    if (!iioPort)
        return iioPort.takeError();
    iioPort_ = std::move(*iioPort);
    auto usbDone = [this](std::size_t b, int s, std::uint64_t n) { onUsbDone(b, s, n); };
    auto usbPort = *usbZero ? pipeline::makeUsbDmabufPort(loop_, *endpoint_, blocks_, usbDone,
                                                          pipeline::kOutTransferFlags)
                            : pipeline::makeUsbAioPort(loop_, *endpoint_, proto::Direction::Tx,
                                                       blocks_, usbDone);
    if (!usbPort)
        return usbPort.takeError();
    usbPort_ = std::move(*usbPort);
    LOG(ZeroCopyOut, Info) << what() << ": " << blocks_.size() << " x " << options_.blockBytes
                           << " bytes from " << origin() << ", USB "
                           << (*usbZero ? "zero-copy" : "copy") << ", IIO "
                           << (*iioZero ? "zero-copy" : "copy");
    return {};
}

Result<bool> ZeroCopyTx::usbZeroCopy()
{
    auto zero = openEndpoint();
    if (!zero || !*zero)
        return zero;
    if (pipeline::usbReportsShortTransfers(*endpoint_, options_.blockBytes))
        return true;
    // A WRITEBUF whose host sends less than it announced would otherwise pass the block's
    // stale rest on to the DAC: read, where each read says how much arrived.
    const std::string why = "the kernel's FunctionFS cannot report short DMABUF transfers "
                            "(no USB_FFS_DMABUF_TRANSFER_SHORT_NOT_OK and _SYNC_FILE, "
                            "kernel-patches 0024 and 0025)";
    if (options_.mode == ZeroCopy::Require)
        return makeError(-EOPNOTSUPP, what() + ": " + why + " and libiio.zero-copy is 'require'");
    LOG(ZeroCopyOut, Warning).field(log::kEvent, "fallback")
            << what() << ": " << why << "; copying on the USB side";
    for (std::size_t i = 0; i < blocks_.size(); i++) {
        if (const int r = endpoint_->detach(blocks_[i].buf.fd()); r < 0)
            return errnoError(r, "Failed to detach DMABUF " + std::to_string(i) + " from " +
                                         options_.endpoint);
    }
    return false;
}

std::uint64_t ZeroCopyTx::maxPiece(std::uint64_t remaining) const
{
    if (remaining <= options_.blockBytes)
        return remaining;
    if (options_.blockBytes % kPacketMultiple)
        return 0;
    return options_.blockBytes;
}

bool ZeroCopyTx::canReceive() const
{
    return !piece_ && !free_.empty() && !error_;
}

Result<void> ZeroCopyTx::receive(std::uint64_t bytes)
{
    if (error_)
        return errnoError(error_, "The DAC of " + options_.device + " failed");
    if (!canReceive())
        return makeError(-EBUSY, "No free block in the buffer of " + options_.device);
    if (bytes == 0 || bytes > options_.blockBytes || bytes % options_.sampleBytes)
        return makeError(-EINVAL, "A piece of " + std::to_string(bytes) + " bytes for blocks of " +
                                          std::to_string(options_.blockBytes) + " bytes");
    const std::size_t block = free_.front();
    if (const int r = usbPort_->submit(block, bytes); r < 0)
        return errnoError(r, "Failed to receive a block of " + options_.device);
    free_.erase(free_.begin());
    piece_ = bytes;
    return {};
}

void ZeroCopyTx::onUsbDone(std::size_t block, int status, std::uint64_t bytes)
{
    const std::uint64_t want = piece_.value_or(0);
    piece_.reset();
    Result<std::uint64_t> result = bytes;
    if (status < 0) {
        result = errnoError(status, "Failed to receive WRITEBUF data for " + options_.device);
    } else if (bytes != want) {
        // The host ended the transfer early (a short packet): the client sent less than the
        // WRITEBUF it announced, and its next bytes would be taken for data.
        result = makeError(-EREMOTEIO, "The host sent " + std::to_string(bytes) + " of " +
                                               std::to_string(want) + " bytes for " +
                                               options_.device);
    } else {
        if (!enabled_) {
            if (auto r = iio_->enable(); !r)
                result = r.takeError();
            else
                enabled_ = true;
        }
        if (result) {
            if (const int r = iioPort_->submit(block, bytes); r < 0)
                result = errnoError(r, "Failed to queue a block to " + options_.device);
        }
    }
    if (!result) {
        free_.push_back(block);
        if (result.error().code != -ESHUTDOWN && result.error().code != -ECONNRESET)
            LOG(ZeroCopyOut, Error) << result.error().message;
    }
    if (events_.received)
        events_.received(std::move(result));
}

void ZeroCopyTx::onIioDone(std::size_t block, int status)
{
    free_.push_back(block);
    if (status < 0 && !error_) {
        error_ = status;
        LOG(ZeroCopyOut, Error) << "libiio buffer of " << options_.device << ": block " << block
                                << " failed: " << errnoString(status);
    }
    if (events_.freed)
        events_.freed();
}

} // namespace iiousb::iiod
