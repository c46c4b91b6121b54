#include "iiod/CyclicTx.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(Cyclic, "iiod")

Result<std::unique_ptr<CyclicTx>> CyclicTx::open(EventLoop &loop, CyclicTxOptions options,
                                                 Failed failed)
{
    if (options.bytes == 0 || options.sampleBytes == 0 || options.bytes % options.sampleBytes)
        return makeError(-EINVAL, "No cyclic block for the buffer of " + options.device);
    std::unique_ptr<CyclicTx> c(new CyclicTx(loop, std::move(options), std::move(failed)));
    if (auto r = c->setUp(); !r)
        return r.takeError();
    return c;
}

CyclicTx::~CyclicTx()
{
    // The port (its sync_file) first, then the disable aborts the cyclic block; closing the
    // buffer detaches it.
    port_.reset();
    if (iio_)
        iio_->disable();
    iio_.reset();
    blocks_.clear();
}

Result<void> CyclicTx::setUp()
{
    auto buf = iio::IioBuffer::open(options_.device, options_.channels, proto::Direction::Tx);
    if (!buf)
        return buf.takeError();
    iio_ = std::move(*buf);
    auto b = dmabuf::DmaBuf::allocate(options_.heap, static_cast<std::size_t>(options_.bytes));
    if (!b)
        return b.takeError();
    blocks_.push_back({std::move(*b), nullptr});

    bool zero = false;
    if (options_.mode != ZeroCopy::Off) {
        const std::string side = "IIO device " + options_.device;
        auto r = pipeline::attachBlocks(
                blocks_, [this](int fd) { return iio_->attach(fd); }, side);
        if (!r)
            return r.takeError();
        zero = *r == 0;
        if (!zero) {
            const std::string why = side + " cannot import DMABUFs (" + errnoString(*r) + ")";
            if (options_.mode == ZeroCopy::Require)
                return makeError(*r, why + " and libiio.zero-copy is 'require'");
            LOG(Cyclic, Warning).field(log::kEvent, "fallback")
                    << "cyclic libiio buffer of " << options_.device << ": " << why
                    << "; writing the waveform to it again and again";
        }
    }
    if (auto r = iio_->setNonBlocking(); !r)
        return r;
    if (!zero) {
        const std::uint64_t samples =
                std::min(options_.bytes, pipeline::kMaxFileioBlock) / options_.sampleBytes;
        if (auto r = iio_->setLength(2 * std::max<std::uint64_t>(samples, 1)); !r)
            return r;
    }
    auto p = blocks_.front().buf.map();
    if (!p)
        return p.takeError();
    blocks_.front().cpu = *p;
    auto done = [this](std::size_t, int s, std::uint64_t) { onDone(s); };
    auto port =
            zero ? pipeline::makeIioDmabufPort(loop_, *iio_, blocks_, done, true)
                 : pipeline::makeIioFileioPort(loop_, *iio_, proto::Direction::Tx, blocks_, done);
    if (!port)
        return port.takeError();
    port_ = std::move(*port);
    return {};
}

Result<void> CyclicTx::play(std::string_view waveform)
{
    if (playing_)
        return makeError(-EBUSY,
                         "The cyclic buffer of " + options_.device + " already plays its waveform");
    if (waveform.empty() || waveform.size() > options_.bytes ||
        waveform.size() % options_.sampleBytes)
        return makeError(-EINVAL, "A cyclic waveform of " + std::to_string(waveform.size()) +
                                          " bytes for a buffer of " +
                                          std::to_string(options_.bytes) + " bytes");
    pipeline::Block &b = blocks_.front();
    if (auto r = b.buf.beginCpuAccess(false, true); !r)
        return r;
    std::memcpy(b.cpu, waveform.data(), waveform.size());
    (void)b.buf.endCpuAccess(false, true);
    length_ = waveform.size();
    if (auto r = iio_->enable(); !r)
        return r;
    if (const int r = port_->submit(0, length_); r < 0)
        return errnoError(r, "Failed to queue the cyclic waveform of " + options_.device);
    playing_ = true;
    const bool zero = port_->mode() == proto::PortMode::ZeroCopy;
    LOG(Cyclic, Info) << "cyclic libiio buffer of " << options_.device << ": " << length_
                      << " bytes from " << b.buf.origin() << ", IIO "
                      << (zero ? "zero-copy" : "copy, written again and again");
    return {};
}

void CyclicTx::onDone(int status)
{
    // A cyclic DMABUF completes only when it is aborted (the buffer disabled, the device
    // gone); a fileio write completes each time it went in: write it again.
    if (status >= 0 && port_->mode() != proto::PortMode::ZeroCopy) {
        status = port_->submit(0, length_);
        if (status >= 0)
            return;
    }
    if (status >= 0)
        status = -EIO;
    playing_ = false;
    LOG(Cyclic, Error) << "cyclic libiio buffer of " << options_.device
                       << ": the waveform stopped: " << errnoString(status);
    if (failed_)
        failed_(status);
}

} // namespace iiousb::iiod
