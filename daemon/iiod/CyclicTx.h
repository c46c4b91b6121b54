// OPEN ... CYCLIC of an output device (`iio_writedev -c`, pyadi-iio's tx_cyclic_buffer): the
// client's one WRITEBUF is a waveform the DAC plays over and over until CLOSE.
//
// libiio's local backend does cyclic buffers only through ADI's legacy mmap block API (v0.24
// local.c local_open(): "Cyclic mode is only supported in high-speed mode", -EPERM), so iiod on
// a mainline kernel cannot. Here the waveform is one DMABUF block, enqueued once with
// IIO_BUFFER_DMABUF_CYCLIC (the buffer plays it until it is disabled); where the device cannot
// import DMABUFs (or libiio.zero-copy is off) it is written to the fileio buffer again each
// time the previous write went in. The USB side copies: the waveform comes in pieces through
// the pipe's OUT endpoint (the transport reads it) and is copied into the mapped block once.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/Result.h"
#include "iiod/LibiioBlocks.h"

namespace iiousb::iiod {

class CyclicTx : public LibiioBlocks {
public:
    // Opens the IIO buffer (EBUSY naming the holder if another program has it), allocates
    // the block (`options.blockBytes`, the client's buffer; `blocks` and `endpoint` are not
    // used) and attaches it where the device can import DMABUFs. Nothing plays yet.
    static Result<std::unique_ptr<CyclicTx>> open(EventLoop &loop, LibiioBlocksOptions options);

    std::uint64_t capacity() const { return options_.blockBytes; }
    // Whether play() may be called: -EBUSY once the waveform plays (it takes one), the error
    // with which it stopped playing (the device failed or went away) once it stopped.
    Result<void> canPlay() const;
    // Copies the waveform (1..capacity() bytes, whole sample sets) into the block, enables
    // the buffer and starts playing it.
    Result<void> play(std::string_view waveform);

private:
    CyclicTx(EventLoop &loop, LibiioBlocksOptions options)
        : LibiioBlocks(loop, std::move(options), "cyclic libiio buffer")
    {}
    Result<void> setUp();
    void onDone(int status);

    std::uint64_t length_ = 0; // the waveform's bytes
    bool playing_ = false;
    int error_ = 0; // -errno: the waveform stopped playing
};

} // namespace iiousb::iiod
