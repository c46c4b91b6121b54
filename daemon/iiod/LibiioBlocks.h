// What the zero-copy READBUF (ZeroCopyRx) and WRITEBUF (ZeroCopyTx) paths share: N DMABUF
// blocks of the client's buffer size between a device's IIO buffer and one of the pipe's
// endpoint files, each side a pipeline port (zero-copy where it can import the blocks, a copy
// where it cannot: pipeline/Ports.h), and the tear-down order of a native stream.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"
#include "event/EventLoop.h"
#include "ffs/FfsEndpoint.h"
#include "iio/IioBuffer.h"
#include "pipeline/Ports.h"

namespace iiousb::iiod {

struct LibiioBlocksOptions {
    std::string device;                // "iio:deviceN"
    std::vector<std::string> channels; // channel ids to enable ("voltage0")
    std::uint64_t sampleBytes = 0;     // one sample set with those channels
    std::uint64_t blockBytes = 0;      // the client's buffer: samples x sample set
    unsigned blocks = 4;
    std::string endpoint; // the pipe's endpoint file of the data's direction (if any)
    std::string heap = "/dev/dma_heap/system";
    ZeroCopy mode = ZeroCopy::Auto;
};

// Attaches a libiio buffer's blocks to one side under libiio.zero-copy `mode`: true when
// attached; false when the side copies (Off, or the kernel cannot import DMABUFs: logged as a
// "fallback" event, "<what>: <why>; <fallback>"); an error under Require or on any other
// failure. Shared by the zero-copy READBUF and WRITEBUF and the cyclic buffer.
Result<bool> attachLibiioSide(const std::vector<pipeline::Block> &blocks,
                              const std::function<int(int)> &attach, const std::string &side,
                              ZeroCopy mode, const std::string &what, const std::string &fallback);

class LibiioBlocks {
public:
    LibiioBlocks(const LibiioBlocks &) = delete;
    LibiioBlocks &operator=(const LibiioBlocks &) = delete;

    proto::PortMode iioMode() const
    {
        return iioPort_ ? iioPort_->mode() : proto::PortMode::NotSetUp;
    }
    proto::PortMode usbMode() const
    {
        return usbPort_ ? usbPort_->mode() : proto::PortMode::NotSetUp;
    }
    std::uint64_t blockBytes() const { return options_.blockBytes; }
    const std::string &origin() const { return blocks_.front().buf.origin(); }

protected:
    // No blocks, a block of no bytes or not whole sample sets: EINVAL.
    static Result<void> check(const LibiioBlocksOptions &options);
    // `kind` names the buffer in messages: "<kind> of iio:deviceN".
    LibiioBlocks(EventLoop &loop, LibiioBlocksOptions options, std::string kind = "libiio buffer")
        : loop_(loop), options_(std::move(options)), kind_(std::move(kind))
    {}
    // Aborts what is in flight on both sides (no port event after this), frees everything.
    ~LibiioBlocks();

    // Opens the IIO buffer in direction `dir` (EBUSY naming the holder if another program
    // has it), allocates the blocks and attaches them to it: true if IIO imports them, false
    // if it copies (its fileio sized for them; `fallback` says how in the log).
    Result<bool> openIio(proto::Direction dir,
                         const std::string &fallback = "copying on that side");
    // Opens the endpoint file and attaches the blocks to it: true, or false if USB copies.
    Result<bool> openEndpoint();
    // Maps every block, for a copy port or CPU access.
    Result<void> mapBlocks();
    std::string what() const { return kind_ + " of " + options_.device; }

    EventLoop &loop_;
    LibiioBlocksOptions options_;
    std::unique_ptr<iio::IioBuffer> iio_;
    std::optional<ffs::FfsEndpoint> endpoint_;
    std::vector<pipeline::Block> blocks_;
    std::unique_ptr<pipeline::Port> iioPort_;
    std::unique_ptr<pipeline::Port> usbPort_;

private:
    Result<bool> attach(const std::function<int(int)> &attach, const std::string &side,
                        const std::string &fallback);

    std::string kind_;
};

} // namespace iiousb::iiod
