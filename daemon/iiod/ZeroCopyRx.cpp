#include "iiod/ZeroCopyRx.h"

#include <algorithm>
#include <cerrno>

#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(ZeroCopy, "iiod")

Result<std::unique_ptr<ZeroCopyRx>> ZeroCopyRx::open(EventLoop &loop, LibiioBlocksOptions options,
                                                     Events events)
{
    if (auto r = check(options); !r)
        return r.takeError();
    std::unique_ptr<ZeroCopyRx> z(new ZeroCopyRx(loop, std::move(options), std::move(events)));
    if (auto r = z->setUp(); !r)
        return r.takeError();
    return z;
}

Result<void> ZeroCopyRx::setUp()
{
    auto iioZero = openIio(proto::Direction::Rx);
    if (!iioZero)
        return iioZero.takeError();
    sending_.assign(blocks_.size(), 0);
    handedOut_.assign(blocks_.size(), false);
    auto usbZero = openEndpoint();
    if (!usbZero)
        return usbZero.takeError();
    if (auto r = endpoint_->setNonBlocking(); !r)
        return r;
    // Pieces that start inside a block are copied from its mapping (see the header).
    if (auto r = mapBlocks(); !r)
        return r;

    auto iioDone = [this](std::size_t b, int s, std::uint64_t) { onIioDone(b, s); };
    auto usbDone = [this](std::size_t b, int s, std::uint64_t) { onUsbDone(b, s); };
    auto iioPort = *iioZero ? pipeline::makeIioDmabufPort(loop_, *iio_, blocks_, iioDone)
                            : pipeline::makeIioFileioPort(loop_, *iio_, proto::Direction::Rx,
                                                          blocks_, iioDone);
    if (!iioPort)
        return iioPort.takeError();
    iioPort_ = std::move(*iioPort);
    auto usbPort = *usbZero ? pipeline::makeUsbDmabufPort(
                                      loop_, *endpoint_, blocks_, usbDone,
                                      pipeline::usbInTransferFlags(*endpoint_, options_.blockBytes))
                            : pipeline::makeUsbAioPort(loop_, *endpoint_, proto::Direction::Rx,
                                                       blocks_, usbDone);
    if (!usbPort)
        return usbPort.takeError();
    usbPort_ = std::move(*usbPort);
    if (auto r = iio_->enable(); !r)
        return r;
    for (std::size_t i = 0; i < blocks_.size(); i++) {
        if (int r = iioPort_->submit(i, options_.blockBytes); r < 0)
            return errnoError(r, "Failed to queue block " + std::to_string(i) + " to " +
                                         options_.device);
    }
    LOG(ZeroCopy, Info) << what() << ": " << blocks_.size() << " x " << options_.blockBytes
                        << " bytes from " << origin() << ", IIO "
                        << (*iioZero ? "zero-copy" : "copy") << ", USB "
                        << (*usbZero ? "zero-copy" : "copy");
    return {};
}

void ZeroCopyRx::onIioDone(std::size_t block, int status)
{
    if (status < 0) {
        if (!error_)
            LOG(ZeroCopy, Error) << "libiio buffer of " << options_.device << ": block " << block
                                 << " failed: " << errnoString(status);
        error_ = status;
    } else {
        filled_.push_back(block);
        handedOut_[block] = false;
    }
    if (events_.filled)
        events_.filled();
}

ZeroCopyRx::Chunk ZeroCopyRx::take(std::uint64_t max)
{
    Chunk c;
    c.block = filled_.front();
    c.offset = offset_;
    c.bytes = std::min(max, options_.blockBytes - offset_);
    offset_ += c.bytes;
    sending_[c.block]++;
    if (offset_ == options_.blockBytes) {
        filled_.pop_front();
        offset_ = 0;
        handedOut_[c.block] = true;
    }
    return c;
}

Result<void> ZeroCopyRx::usbToCopy()
{
    // No transfer of ours is in flight here: the pipe sends one payload at a time.
    usbPort_.reset();
    for (std::size_t i = 0; i < blocks_.size(); i++) {
        if (const int r = endpoint_->detach(blocks_[i].buf.fd()); r < 0)
            return errnoError(r, "Failed to detach DMABUF " + std::to_string(i) + " from " +
                                         options_.endpoint);
    }
    auto port = pipeline::makeUsbAioPort(
            loop_, *endpoint_, proto::Direction::Rx, blocks_,
            [this](std::size_t b, int s, std::uint64_t) { onUsbDone(b, s); });
    if (!port)
        return port.takeError();
    usbPort_ = std::move(*port);
    LOG(ZeroCopy, Notice).hostTriggered()
            << "libiio buffer of " << options_.device
            << ": READBUF in pieces that start inside a block; the USB side copies from now on";
    return {};
}

Result<std::optional<std::string>> ZeroCopyRx::send(const Chunk &c)
{
    // A piece inside a block is copied from the block's mapping. CPU access to a DMABUF
    // syncs every attachment in the access's direction (the system heap's
    // begin_cpu_access), which the DMA API forbids for the endpoint's DMA_TO_DEVICE mapping
    // (DMA-API debugging: "syncs DMA memory with different direction"): the endpoint lets
    // go of the blocks first.
    if (c.offset > 0 && usbPort_->mode() == proto::PortMode::ZeroCopy) {
        if (auto r = usbToCopy(); !r) {
            release(c.block);
            return r.takeError();
        }
    }
    if (c.offset == 0) {
        const int r = usbPort_->submit(c.block, c.bytes);
        if (r < 0) {
            release(c.block);
            return errnoError(r, "Failed to send a block of " + options_.device);
        }
        return std::optional<std::string>();
    }
    pipeline::Block &b = blocks_[c.block];
    (void)b.buf.beginCpuAccess(true, false);
    std::string bytes(reinterpret_cast<const char *>(b.cpu + c.offset),
                      static_cast<std::size_t>(c.bytes));
    (void)b.buf.endCpuAccess(true, false);
    release(c.block);
    return std::optional<std::string>(std::move(bytes));
}

void ZeroCopyRx::onUsbDone(std::size_t block, int status)
{
    release(block);
    if (events_.sent)
        events_.sent(status);
}

void ZeroCopyRx::release(std::size_t block)
{
    if (sending_[block] > 0)
        sending_[block]--;
    if (sending_[block] > 0 || !handedOut_[block] || error_)
        return;
    handedOut_[block] = false;
    if (int r = iioPort_->submit(block, options_.blockBytes); r < 0) {
        error_ = r;
        LOG(ZeroCopy, Error) << "libiio buffer of " << options_.device << ": failed to queue block "
                             << block << " again: " << errnoString(r);
    }
}

} // namespace iiousb::iiod
