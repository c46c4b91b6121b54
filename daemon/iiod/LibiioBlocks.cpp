#include "iiod/LibiioBlocks.h"

#include <cerrno>

#include "log/Log.h"

namespace iiousb::iiod {

IIOUSB_LOG_CATEGORY(Blocks, "iiod")

Result<bool> attachLibiioSide(const std::vector<pipeline::Block> &blocks,
                              const std::function<int(int)> &attach, const std::string &side,
                              ZeroCopy mode, const std::string &what, const std::string &fallback)
{
    if (mode == ZeroCopy::Off)
        return false;
    auto r = pipeline::attachBlocks(blocks, attach, side);
    if (!r)
        return r.takeError();
    if (*r == 0)
        return true;
    const std::string why = side + " cannot import DMABUFs (" + errnoString(*r) + ")";
    if (mode == ZeroCopy::Require)
        return makeError(*r, why + " and libiio.zero-copy is 'require'");
    LOG(Blocks, Warning).field(log::kEvent, "fallback") << what << ": " << why << "; " << fallback;
    return false;
}

Result<void> LibiioBlocks::check(const LibiioBlocksOptions &options)
{
    if (options.blocks == 0 || options.blockBytes == 0 || options.sampleBytes == 0 ||
        options.blockBytes % options.sampleBytes)
        return makeError(-EINVAL, "No blocks for the buffer of " + options.device);
    return {};
}

LibiioBlocks::~LibiioBlocks()
{
    // As a native stream's tear-down (docs/kernel-notes.md): the ports (their sync_files)
    // first, the IIO buffer disabled (aborts its queued blocks), then closing the endpoint
    // aborts the USB transfers and detaches the DMABUFs, closing the IIO buffer the rest.
    usbPort_.reset();
    iioPort_.reset();
    if (iio_)
        iio_->disable();
    endpoint_.reset();
    iio_.reset();
    blocks_.clear();
}

Result<bool> LibiioBlocks::attach(const std::function<int(int)> &attach, const std::string &side,
                                  const std::string &fallback)
{
    return attachLibiioSide(blocks_, attach, side, options_.mode, what(), fallback);
}

Result<bool> LibiioBlocks::openIio(proto::Direction dir, const std::string &fallback)
{
    auto buf = iio::IioBuffer::open(options_.device, options_.channels, dir);
    if (!buf)
        return buf.takeError();
    iio_ = std::move(*buf);
    for (unsigned i = 0; i < options_.blocks; i++) {
        auto b = dmabuf::DmaBuf::allocate(options_.heap,
                                          static_cast<std::size_t>(options_.blockBytes));
        if (!b)
            return b.takeError();
        blocks_.push_back({std::move(*b), nullptr});
    }
    auto zero = attach([this](int fd) { return iio_->attach(fd); }, "IIO device " + options_.device,
                       fallback);
    if (!zero)
        return zero.takeError();
    if (auto r = iio_->setNonBlocking(); !r)
        return r.takeError();
    if (!*zero) {
        if (auto r = pipeline::sizeFileio(*iio_, options_.blockBytes, options_.sampleBytes); !r)
            return r.takeError();
    }
    return *zero;
}

Result<bool> LibiioBlocks::openEndpoint()
{
    auto ep = ffs::FfsEndpoint::open(options_.endpoint);
    if (!ep)
        return ep.takeError();
    endpoint_.emplace(std::move(*ep));
    return attach([this](int fd) { return endpoint_->attach(fd); }, options_.endpoint,
                  "copying on that side");
}

Result<void> LibiioBlocks::mapBlocks()
{
    for (auto &b : blocks_) {
        auto p = b.buf.map();
        if (!p)
            return p.takeError();
        b.cpu = *p;
    }
    return {};
}

} // namespace iiousb::iiod
