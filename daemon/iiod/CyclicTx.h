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
#include <string>
#include <string_view>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"
#include "event/EventLoop.h"
#include "iio/IioBuffer.h"
#include "pipeline/Ports.h"

namespace iiousb::iiod {

struct CyclicTxOptions {
    std::string device;                // "iio:deviceN"
    std::vector<std::string> channels; // channel ids to enable ("voltage0")
    std::uint64_t sampleBytes = 0;     // one sample set with those channels
    std::uint64_t bytes = 0;           // the client's buffer: samples x sample set
    std::string heap = "/dev/dma_heap/system";
    ZeroCopy mode = ZeroCopy::Auto;
};

class CyclicTx {
public:
    // Opens the IIO buffer (EBUSY naming the holder if another program has it), allocates
    // the block and attaches it where the device can import DMABUFs. Nothing plays yet.
    static Result<std::unique_ptr<CyclicTx>> open(EventLoop &loop, CyclicTxOptions options);
    CyclicTx(const CyclicTx &) = delete;
    CyclicTx &operator=(const CyclicTx &) = delete;
    // Stops the waveform (the buffer disabled) and frees everything; no event after this.
    ~CyclicTx();

    std::uint64_t capacity() const { return options_.bytes; }
    proto::PortMode iioMode() const { return port_->mode(); }
    // Whether play() may be called: -EBUSY once the waveform plays (it takes one), the error
    // with which it stopped playing (the device failed or went away) once it stopped.
    Result<void> canPlay() const;
    // Copies the waveform (1..capacity() bytes, whole sample sets) into the block, enables
    // the buffer and starts playing it.
    Result<void> play(std::string_view waveform);

private:
    CyclicTx(EventLoop &loop, CyclicTxOptions options) : loop_(loop), options_(std::move(options))
    {}
    Result<void> setUp();
    void onDone(int status);

    EventLoop &loop_;
    CyclicTxOptions options_;
    std::unique_ptr<iio::IioBuffer> iio_;
    std::vector<pipeline::Block> blocks_;
    std::unique_ptr<pipeline::Port> port_;
    std::uint64_t length_ = 0; // the waveform's bytes
    bool playing_ = false;
    int error_ = 0; // -errno: the waveform stopped playing
};

} // namespace iiousb::iiod
