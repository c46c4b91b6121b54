// The metadata endpoint (docs/protocol.md, "Metadata"): one interrupt IN endpoint per interface
// that carries a small record for every block of the streams a host started with
// proto::kStartWithMetadata. Records are queued in memory and written with Linux AIO, so
// that the event loop never waits for the host; each transfer is one short USB packet
// (at most wMaxPacketSize - 64 bytes of whole records, one record at full speed), so a
// host read of wMaxPacketSize bytes ends with every transfer.
//
// Records still queued when the channel is destroyed are dropped: its transfers are cancelled
// and the endpoint's FIFO flushed, so a later channel on the same endpoint starts clean.
//
// A host that asked for metadata and does not read it cannot hold the streams up: beyond
// kMaxQueued records the oldest are dropped (counted, logged once); the host sees the gap in
// the records' sequence numbers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Result.h"
#include "event/EventLoop.h"
#include "ffs/FfsEndpoint.h"
#include "protocol/Protocol.h"

namespace iiousb {

// What a stream hands its records to.
class MetaSink {
public:
    virtual ~MetaSink() = default;
    virtual void push(const proto::MetaRecord &record) = 0;
};

class MetaChannel : public MetaSink {
public:
    // Opens the endpoint file `path` of an enabled function (its wMaxPacketSize is read from
    // the descriptor the host got).
    static Result<std::unique_ptr<MetaChannel>> open(EventLoop &loop, const std::string &path);
    ~MetaChannel() override;
    MetaChannel(const MetaChannel &) = delete;
    MetaChannel &operator=(const MetaChannel &) = delete;

    void push(const proto::MetaRecord &record) override;

    std::size_t recordsPerTransfer() const { return perTransfer_; }
    std::uint64_t sent() const { return sent_; }
    std::uint64_t dropped() const { return dropped_; }

    static constexpr std::size_t kMaxQueued = 4096;
    static constexpr std::size_t kInFlight = 4;

private:
    MetaChannel(ffs::FfsEndpoint endpoint, ffs::AioContext aio, std::size_t perTransfer);
    void flush();
    void onCompletions();

    struct Transfer {
        std::vector<std::uint8_t> data;
        std::size_t records = 0;
        bool busy = false;
    };

    ffs::FfsEndpoint endpoint_;
    std::size_t perTransfer_;
    std::deque<proto::MetaBytes> queue_;
    std::array<Transfer, kInFlight> transfers_;
    std::uint64_t sent_ = 0;
    std::uint64_t dropped_ = 0;
    bool failed_ = false;
    std::optional<ffs::AioContext> aio_; // reset first: cancels and waits for the transfers
    EventSourcePtr watch_;
};

} // namespace iiousb
