// The stream of the foundation: it knows its IIO description and keeps state and counters
// as START/STOP change them, but moves no data (the DMABUF pipeline replaces it).
#pragma once

#include <chrono>
#include <optional>

#include "base/Result.h"
#include "iio/IioContext.h"
#include "stream/Stream.h"

namespace iiousb {

class IdleStream : public Stream {
public:
    // `description` is the IIO device found for the stream, or the error that says why
    // there is none (the stream is then Failed and cannot start).
    IdleStream(StreamConfig config, Result<iio::IioStreamDescription> description);

    const StreamConfig &config() const override { return config_; }
    proto::StreamInfo info() const override;
    int start() override;
    void stop() override;
    proto::Stats stats() const override;

    const std::string &failure() const { return failure_; }

private:
    using Clock = std::chrono::steady_clock;

    StreamConfig config_;
    std::optional<iio::IioStreamDescription> iio_;
    std::string failure_;
    int failureCode_ = 0;
    proto::StreamState state_ = proto::StreamState::Stopped;
    Clock::time_point startedAt_{};
    std::uint64_t runningNs_ = 0; // of the last run, once stopped
};

} // namespace iiousb
