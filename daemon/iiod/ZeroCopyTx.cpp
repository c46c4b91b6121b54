#include "iiod/ZeroCopyTx.h"

#include <algorithm>
#include <cerrno>

#include "iiod/ZeroCopyRx.h"
#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(ZeroCopyOut, "iiod")

namespace {

// The largest wMaxPacketSize of a bulk endpoint (SuperSpeed): a piece of a multiple of it
// ends where one of the client's packets ends at every speed.
constexpr std::uint64_t kPacketMultiple = 1024;

} // namespace

Result<std::unique_ptr<ZeroCopyTx>> ZeroCopyTx::open(EventLoop &loop, ZeroCopyTxOptions options,
                                                     Events events)
{
    if (options.blocks == 0 || options.blockBytes == 0 || options.sampleBytes == 0 ||
        options.blockBytes % options.sampleBytes)
        return makeError(-EINVAL, "No blocks for the buffer of " + options.device);
    std::unique_ptr<ZeroCopyTx> z(new ZeroCopyTx(loop, std::move(options), std::move(events)));
    if (auto r = z->setUp(); !r)
        return r.takeError();
    return z;
}

ZeroCopyTx::~ZeroCopyTx()
{
    // As a native stream's tear-down (docs/kernel-notes.md): the ports (their sync_files)
    // first, the IIO buffer disabled (aborts its queued blocks), then closing the endpoint
    // aborts the USB transfer and detaches the DMABUFs, closing the IIO buffer the rest.
    usbPort_.reset();
    iioPort_.reset();
    if (iio_)
        iio_->disable();
    endpoint_.reset();
    iio_.reset();
    blocks_.clear();
}

Result<void> ZeroCopyTx::setUp()
{
    auto buf = iio::IioBuffer::open(options_.device, options_.channels, proto::Direction::Tx);
    if (!buf)
        return buf.takeError();
    iio_ = std::move(*buf);
    for (unsigned i = 0; i < options_.blocks; i++) {
        auto b = dmabuf::DmaBuf::allocate(options_.heap,
                                          static_cast<std::size_t>(options_.blockBytes));
        if (!b)
            return b.takeError();
        blocks_.push_back({std::move(*b), nullptr});
        free_.push_back(i);
    }
    const std::string what = "libiio buffer of " + options_.device;
    auto iioZero = attachLibiioSide(
            blocks_, [this](int fd) { return iio_->attach(fd); }, "IIO device " + options_.device,
            options_.mode, what, "copying on that side");
    if (!iioZero)
        return iioZero.takeError();
    if (auto r = iio_->setNonBlocking(); !r)
        return r;
    if (!*iioZero) {
        if (auto r = pipeline::sizeFileio(*iio_, options_.blockBytes, options_.sampleBytes); !r)
            return r.takeError();
    }
    auto ep = ffs::FfsEndpoint::open(options_.endpoint);
    if (!ep)
        return ep.takeError();
    endpoint_.emplace(std::move(*ep));
    auto usbZero = usbZeroCopy();
    if (!usbZero)
        return usbZero.takeError();
    if (auto r = endpoint_->setNonBlocking(); !r)
        return r;
    if (!*iioZero || !*usbZero) {
        // A copy port moves the bytes through the blocks' mappings.
        for (auto &b : blocks_) {
            auto p = b.buf.map();
            if (!p)
                return p.takeError();
            b.cpu = *p;
        }
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
    LOG(ZeroCopyOut, Info) << what << ": " << blocks_.size() << " x " << options_.blockBytes
                           << " bytes from " << blocks_.front().buf.origin() << ", USB "
                           << (*usbZero ? "zero-copy" : "copy") << ", IIO "
                           << (*iioZero ? "zero-copy" : "copy");
    return {};
}

Result<bool> ZeroCopyTx::usbZeroCopy()
{
    const std::string what = "libiio buffer of " + options_.device;
    auto zero = attachLibiioSide(
            blocks_, [this](int fd) { return endpoint_->attach(fd); }, options_.endpoint,
            options_.mode, what, "copying on that side");
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
        return makeError(-EOPNOTSUPP, what + ": " + why + " and libiio.zero-copy is 'require'");
    LOG(ZeroCopyOut, Warning).field(log::kEvent, "fallback")
            << what << ": " << why << "; copying on the USB side";
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
