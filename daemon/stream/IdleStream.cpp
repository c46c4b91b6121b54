#include "stream/IdleStream.h"

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Stream, "stream")

IdleStream::IdleStream(StreamConfig config, Result<iio::IioStreamDescription> description)
    : config_(std::move(config))
{
    if (description) {
        iio_ = std::move(*description);
    } else {
        failure_ = description.error().message;
        failureCode_ = description.error().code;
        state_ = proto::StreamState::Failed;
    }
}

proto::StreamInfo IdleStream::info() const
{
    proto::StreamInfo s;
    s.name = config_.name;
    s.dir = config_.direction;
    s.blockBytes = config_.blockSize;
    s.blocks = config_.blockCount;
    if (iio_) {
        s.iio = iio_->deviceName;
        s.rate = iio_->rate;
        s.sampleBytes = iio_->sampleBytes;
        for (std::size_t i = 0; i < iio_->channels.size(); i++)
            s.channels.push_back({static_cast<unsigned>(i), iio_->channels[i].id,
                                  proto::formatScanFormat(iio_->channels[i].format)});
    } else {
        s.iio = config_.device;
    }
    return s;
}

int IdleStream::start()
{
    if (!iio_) {
        LOG(Stream, Warning) << "Stream " << config_.name << " cannot start: " << failure_;
        return failureCode_ ? failureCode_ : -ENODEV;
    }
    if (state_ == proto::StreamState::Running)
        return 0;
    state_ = proto::StreamState::Running;
    startedAt_ = Clock::now();
    runningNs_ = 0;
    LOG(Stream, Info) << "Stream " << config_.name << " started";
    return 0;
}

void IdleStream::stop()
{
    if (state_ != proto::StreamState::Running)
        return;
    runningNs_ = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - startedAt_)
                    .count());
    state_ = proto::StreamState::Stopped;
    LOG(Stream, Info) << "Stream " << config_.name << " stopped";
}

proto::Stats IdleStream::stats() const
{
    proto::Stats s;
    s.state = state_;
    s.runningNs = runningNs_;
    if (state_ == proto::StreamState::Running)
        s.runningNs = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - startedAt_)
                        .count());
    return s;
}

} // namespace iiousb
