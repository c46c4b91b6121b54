// The zero-copy data path of READBUF: an input device's buffer whose samples go from IIO
// DMABUF blocks straight to the pipe's IN endpoint (docs/libiio.md, "How it works").
//
// N blocks of the client's buffer size cycle IIO -> USB -> IIO, as in a native rx stream
// (pipeline/Ports.h): IIO fills a block (DMABUF enqueue, or fileio where the device cannot
// import DMABUFs), READBUF hands out the filled blocks oldest first, and a block's payload
// is sent with FUNCTIONFS_DMABUF_TRANSFER on the IN endpoint (or an AIO write of the mapped
// block where the UDC cannot import them); once sent, it is queued to IIO again. So the
// blocks are refilled while the host processes the previous one.
//
// A READBUF that is not a multiple of the block size takes a block in pieces: a piece that
// starts at the block's beginning is still one DMABUF transfer (of fewer bytes); one that
// starts inside the block is copied from the mapped block, since a DMABUF transfer always
// starts at offset 0, and from then on the USB side copies (the blocks are detached from
// the endpoint: CPU access to a block attached to it would sync its mapping the wrong way).
// libiio clients read whole buffers and never get there.
#pragma once

#include <cstdint>
#include <deque>
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

struct ZeroCopyRxOptions {
    std::string device;                // "iio:deviceN"
    std::vector<std::string> channels; // channel ids to enable ("voltage0")
    std::uint64_t sampleBytes = 0;     // one sample set with those channels
    std::uint64_t blockBytes = 0;      // the client's buffer: samples x sample set
    unsigned blocks = 4;
    std::string endpoint; // the pipe's IN endpoint file
    std::string heap = "/dev/dma_heap/system";
    ZeroCopy mode = ZeroCopy::Auto;
};

// Attaches a libiio buffer's blocks to one side under libiio.zero-copy `mode`: true when
// attached; false when the side copies (Off, or the kernel cannot import DMABUFs: logged as a
// "fallback" event, "<what>: <why>; <fallback>"); an error under Require or on any other
// failure. Shared by the zero-copy READBUF and the cyclic buffer.
Result<bool> attachLibiioSide(const std::vector<pipeline::Block> &blocks,
                              const std::function<int(int)> &attach, const std::string &side,
                              ZeroCopy mode, const std::string &what, const std::string &fallback);

class ZeroCopyRx {
public:
    // A part of a filled block handed out by take().
    struct Chunk {
        std::size_t block = 0;
        std::uint64_t offset = 0;
        std::uint64_t bytes = 0;
    };
    struct Events {
        std::function<void()> filled;         // a block is ready (hasData())
        std::function<void(int status)> sent; // a send() that returned nullopt ended
    };

    // Opens the IIO buffer (EBUSY naming the holder if another program has it), allocates
    // and attaches the blocks, enables the buffer and queues every block to IIO.
    static Result<std::unique_ptr<ZeroCopyRx>> open(EventLoop &loop, ZeroCopyRxOptions options,
                                                    Events events);
    ZeroCopyRx(const ZeroCopyRx &) = delete;
    ZeroCopyRx &operator=(const ZeroCopyRx &) = delete;
    // Aborts what is in flight on both sides (no event after this), frees everything.
    ~ZeroCopyRx();

    proto::PortMode iioMode() const { return iioPort_->mode(); }
    proto::PortMode usbMode() const { return usbPort_->mode(); }
    const std::string &origin() const { return blocks_.front().buf.origin(); }
    std::uint64_t blockBytes() const { return options_.blockBytes; }

    // An IIO error ends the buffer's data: every READBUF from then on gets it (-errno, 0 none).
    int error() const { return error_; }
    bool hasData() const { return !filled_.empty(); }
    // Up to `max` bytes of the oldest filled block (hasData() must be true).
    Chunk take(std::uint64_t max);
    // Sends a chunk on the IN endpoint: nullopt when it went as a transfer whose end comes
    // through Events::sent, else its bytes, copied, for the caller to write. 0 bytes with
    // an error: the transfer could not be queued.
    Result<std::optional<std::string>> send(const Chunk &chunk);

private:
    ZeroCopyRx(EventLoop &loop, ZeroCopyRxOptions options, Events events)
        : loop_(loop), options_(std::move(options)), events_(std::move(events))
    {}
    Result<void> setUp();
    // Attaches every block to one side: true, false when that side must copy (logged).
    Result<bool> attachAll(const std::function<int(int)> &attach, const std::string &side);
    void onIioDone(std::size_t block, int status);
    void onUsbDone(std::size_t block, int status);
    void release(std::size_t block);
    // Detaches the blocks from the endpoint and writes them from their mapping from now on.
    Result<void> usbToCopy();

    EventLoop &loop_;
    ZeroCopyRxOptions options_;
    Events events_;
    std::unique_ptr<iio::IioBuffer> iio_;
    std::optional<ffs::FfsEndpoint> endpoint_;
    std::vector<pipeline::Block> blocks_;
    std::unique_ptr<pipeline::Port> iioPort_;
    std::unique_ptr<pipeline::Port> usbPort_;
    std::deque<std::size_t> filled_; // filled by IIO, not all handed out yet
    std::uint64_t offset_ = 0;       // bytes of filled_.front() handed out
    std::vector<unsigned> sending_;  // per block: sends not ended yet
    std::vector<bool> handedOut_;    // per block: all of it taken since its fill
    int error_ = 0;
};

} // namespace iiousb::iiod
