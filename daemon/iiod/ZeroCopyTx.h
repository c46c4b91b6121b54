// The zero-copy data path of WRITEBUF: an output device's buffer whose samples go from the
// pipe's OUT endpoint straight into IIO DMABUF blocks (docs/libiio.md, "How it works").
//
// N blocks of the client's buffer size cycle USB -> IIO -> USB, as in a native tx stream
// (pipeline/Ports.h). A WRITEBUF's data (the client sends it after the "0\n" go-ahead, in one
// or more transfers of whole packets) is received into a free block with
// FUNCTIONFS_DMABUF_TRANSFER on the OUT endpoint, with SHORT_NOT_OK so that a host that sends
// less fails the transfer instead of passing the block's stale rest on; once received, the
// block is queued to the DAC (DMABUF enqueue, or fileio where the device cannot import
// DMABUFs) and the WRITEBUF is answered. So the DAC plays one block while the client sends
// the next. Where the UDC cannot import DMABUFs, or f_fs lacks SHORT_NOT_OK and SYNC_FILE
// (kernel-patches 0024, 0025), the data is read into the mapped block by AIO instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/Result.h"
#include "iiod/LibiioBlocks.h"

namespace iiousb::iiod {

class ZeroCopyTx : public LibiioBlocks {
public:
    struct Events {
        std::function<void()> freed; // a block came back from the DAC (or the DAC failed)
        // A receive() ended: the bytes now queued to the DAC, or why none were.
        std::function<void(Result<std::uint64_t>)> received;
    };

    // Opens the IIO buffer (EBUSY naming the holder if another program has it), allocates
    // and attaches the blocks (`options.endpoint`: the pipe's OUT endpoint). The buffer is
    // enabled with the first block queued to it.
    static Result<std::unique_ptr<ZeroCopyTx>> open(EventLoop &loop, LibiioBlocksOptions options,
                                                    Events events);

    // Bytes one receive() may take: the block size, or the transfers of whole packets a
    // longer WRITEBUF is cut into (a block size that is not a multiple of 1024 cannot be cut
    // where the client's packets end: 0 then).
    std::uint64_t maxPiece(std::uint64_t remaining) const;

    // The DAC failed (-errno; 0 none): every WRITEBUF from then on gets it.
    int error() const { return error_; }
    // A block is free and no receive() is pending.
    bool canReceive() const;
    // Receives `bytes` (1..blockBytes(), whole sample sets) from the OUT endpoint into a free
    // block, then queues it to the DAC; Events::received reports the end.
    Result<void> receive(std::uint64_t bytes);

private:
    ZeroCopyTx(EventLoop &loop, LibiioBlocksOptions options, Events events)
        : LibiioBlocks(loop, std::move(options)), events_(std::move(events))
    {}
    Result<void> setUp();
    // The USB side's port: DMABUF transfers with pipeline::kOutTransferFlags, else AIO reads
    // (false: the blocks are detached from the endpoint again, the fallback logged).
    Result<bool> usbZeroCopy();
    void onUsbDone(std::size_t block, int status, std::uint64_t bytes);
    void onIioDone(std::size_t block, int status);

    Events events_;
    std::vector<std::size_t> free_;      // blocks neither receiving nor with the DAC
    std::optional<std::uint64_t> piece_; // the bytes of the receive() in flight
    bool enabled_ = false;
    int error_ = 0;
};

} // namespace iiousb::iiod
