#include "iiod/CyclicTx.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "iiod/LibiioBlocks.h"
#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(Cyclic, "iiod")

Result<std::unique_ptr<CyclicTx>> CyclicTx::open(EventLoop &loop, LibiioBlocksOptions options)
{
    options.blocks = 1;
    if (auto r = check(options); !r)
        return r.takeError();
    std::unique_ptr<CyclicTx> c(new CyclicTx(loop, std::move(options)));
    if (auto r = c->setUp(); !r)
        return r.takeError();
    return c;
}

Result<void> CyclicTx::setUp()
{
    auto zero = openIio(proto::Direction::Tx, "writing the waveform to it again and again");
    if (!zero)
        return zero.takeError();
    if (auto r = mapBlocks(); !r)
        return r;
    auto done = [this](std::size_t, int s, std::uint64_t) { onDone(s); };
    auto port =
            *zero ? pipeline::makeIioDmabufPort(loop_, *iio_, blocks_, done, true)
                  : pipeline::makeIioFileioPort(loop_, *iio_, proto::Direction::Tx, blocks_, done);
    if (!port)
        return port.takeError();
    iioPort_ = std::move(*port);
    return {};
}

Result<void> CyclicTx::canPlay() const
{
    if (error_)
        return errnoError(error_, "The cyclic waveform of " + options_.device + " stopped");
    if (playing_)
        return makeError(-EBUSY,
                         "The cyclic buffer of " + options_.device + " already plays its waveform");
    return {};
}

Result<void> CyclicTx::play(std::string_view waveform)
{
    if (auto r = canPlay(); !r)
        return r;
    if (waveform.empty() || waveform.size() > options_.blockBytes ||
        waveform.size() % options_.sampleBytes)
        return makeError(-EINVAL, "A cyclic waveform of " + std::to_string(waveform.size()) +
                                          " bytes for a buffer of " +
                                          std::to_string(options_.blockBytes) + " bytes");
    pipeline::Block &b = blocks_.front();
    if (auto r = b.buf.beginCpuAccess(false, true); !r)
        return r;
    std::memcpy(b.cpu, waveform.data(), waveform.size());
    (void)b.buf.endCpuAccess(false, true);
    length_ = waveform.size();
    if (auto r = iio_->enable(); !r)
        return r;
    if (const int r = iioPort_->submit(0, length_); r < 0)
        return errnoError(r, "Failed to queue the cyclic waveform of " + options_.device);
    playing_ = true;
    const bool zero = iioPort_->mode() == proto::PortMode::ZeroCopy;
    LOG(Cyclic, Info) << what() << ": " << length_ << " bytes from " << b.buf.origin() << ", IIO "
                      << (zero ? "zero-copy" : "copy, written again and again");
    return {};
}

void CyclicTx::onDone(int status)
{
    // A cyclic DMABUF completes only when it is aborted (the buffer disabled, the device
    // gone); a fileio write completes each time it went in: write it again.
    if (status >= 0 && iioPort_->mode() != proto::PortMode::ZeroCopy) {
        status = iioPort_->submit(0, length_);
        if (status >= 0)
            return;
    }
    if (status >= 0)
        status = -EIO;
    playing_ = false;
    error_ = status;
    LOG(Cyclic, Error) << what() << ": the waveform stopped: " << errnoString(status);
}

} // namespace iiousb::iiod
