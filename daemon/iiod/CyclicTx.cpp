#include "iiod/CyclicTx.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "iiod/ZeroCopyRx.h"
#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(Cyclic, "iiod")

Result<std::unique_ptr<CyclicTx>> CyclicTx::open(EventLoop &loop, CyclicTxOptions options)
{
    if (options.bytes == 0 || options.sampleBytes == 0 || options.bytes % options.sampleBytes)
        return makeError(-EINVAL, "No cyclic block for the buffer of " + options.device);
    std::unique_ptr<CyclicTx> c(new CyclicTx(loop, std::move(options)));
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

    const std::string what = "cyclic libiio buffer of " + options_.device;
    auto zero = attachLibiioSide(
            blocks_, [this](int fd) { return iio_->attach(fd); }, "IIO device " + options_.device,
            options_.mode, what, "writing the waveform to it again and again");
    if (!zero)
        return zero.takeError();
    if (auto r = iio_->setNonBlocking(); !r)
        return r;
    if (!*zero) {
        if (auto r = pipeline::sizeFileio(*iio_, options_.bytes, options_.sampleBytes); !r)
            return r.takeError();
    }
    auto p = blocks_.front().buf.map();
    if (!p)
        return p.takeError();
    blocks_.front().cpu = *p;
    auto done = [this](std::size_t, int s, std::uint64_t) { onDone(s); };
    auto port =
            *zero ? pipeline::makeIioDmabufPort(loop_, *iio_, blocks_, done, true)
                  : pipeline::makeIioFileioPort(loop_, *iio_, proto::Direction::Tx, blocks_, done);
    if (!port)
        return port.takeError();
    port_ = std::move(*port);
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
    error_ = status;
    LOG(Cyclic, Error) << "cyclic libiio buffer of " << options_.device
                       << ": the waveform stopped: " << errnoString(status);
}

} // namespace iiousb::iiod
