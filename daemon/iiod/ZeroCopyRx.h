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
#include "iiod/LibiioBlocks.h"

namespace iiousb::iiod {

class ZeroCopyRx : public LibiioBlocks {
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
    // and attaches the blocks (`options.endpoint`: the pipe's IN endpoint), enables the
    // buffer and queues every block to IIO.
    static Result<std::unique_ptr<ZeroCopyRx>> open(EventLoop &loop, LibiioBlocksOptions options,
                                                    Events events);

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
    ZeroCopyRx(EventLoop &loop, LibiioBlocksOptions options, Events events)
        : LibiioBlocks(loop, std::move(options)), events_(std::move(events))
    {}
    Result<void> setUp();
    void onIioDone(std::size_t block, int status);
    void onUsbDone(std::size_t block, int status);
    void release(std::size_t block);
    // Detaches the blocks from the endpoint and writes them from their mapping from now on.
    Result<void> usbToCopy();

    Events events_;
    std::deque<std::size_t> filled_; // filled by IIO, not all handed out yet
    std::uint64_t offset_ = 0;       // bytes of filled_.front() handed out
    std::vector<unsigned> sending_;  // per block: sends not ended yet
    std::vector<bool> handedOut_;    // per block: all of it taken since its fill
    int error_ = 0;
};

} // namespace iiousb::iiod
