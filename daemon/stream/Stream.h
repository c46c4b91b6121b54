// A stream: one configured flow of samples between an IIO device and one bulk endpoint.
//
// The control protocol (control/) drives streams only through this interface, so another
// protocol (an iiod-compatible personality) can drive the same streams, and the data
// pipeline (zero-copy DMABUF or copy) implements it without the protocol knowing.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>

#include "config/Config.h"
#include "protocol/Protocol.h"
#include "stream/MetaChannel.h"

namespace iiousb {

class Stream {
public:
    virtual ~Stream() = default;

    virtual const StreamConfig &config() const = 0;
    const std::string &name() const { return config().name; }

    // The stream's GET_INFO description. `endpoint` is filled in by the owner of the USB
    // function (the address the UDC assigned).
    virtual proto::StreamInfo info() const = 0;

    // Starts moving data. 0, or a negative errno when the stream cannot start (its state is
    // then Failed and stats() says so). Starting a running stream restarts it: what was in
    // flight is dropped and the counters start again.
    virtual int start() = 0;

    // Starts like start(), and hands `sink` one record per block (docs/protocol.md,
    // "Metadata") as stream `index` until the stream stops. `sink` must outlive the run.
    virtual int startWithMetadata(MetaSink &sink, std::uint8_t index)
    {
        (void)sink;
        (void)index;
        return -EOPNOTSUPP;
    }
    // Running and sending records (startWithMetadata()).
    virtual bool sendsMetadata() const { return false; }

    // tx streams: receive one waveform of `bytes` from the host, then play it again and again
    // (IIO_BUFFER_DMABUF_CYCLIC) until stop(). 0 or a negative errno.
    virtual int startCyclic(std::uint64_t bytes)
    {
        (void)bytes;
        return -EOPNOTSUPP;
    }

    // Stops; data in flight is dropped. Stopping a stopped stream does nothing.
    virtual void stop() = 0;

    virtual proto::Stats stats() const = 0;

    // The host went away or deconfigured the interface (DISABLE, UNBIND, bus reset): stop.
    virtual void usbDisabled() { stop(); }
};

} // namespace iiousb
