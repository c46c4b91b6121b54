// The text systemd shows as "Status:" (sd_notify STATUS=): the service's state and, per
// stream, its state and throughput in MB/s (10^6 bytes per second) computed from the
// difference between this sample of Stream::stats().bytes and the previous one; then the
// buffers libiio clients have open, each with its data path and throughput.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/Protocol.h"

namespace iiousb {

class StatusLine {
public:
    using Clock = std::chrono::steady_clock;
    using Samples = std::vector<std::pair<std::string, proto::Stats>>;
    // A libiio client's open buffer: `key` tells it from the others, `text` is what is shown
    // ("iio:device0 in (IIO zero-copy, USB zero-copy)"), `bytes` what it moved since OPEN.
    struct Buffer {
        std::string key;
        std::string text;
        std::uint64_t bytes = 0;
    };
    using Buffers = std::vector<Buffer>;

    // "STATE; rx0 running 12.3 MB/s, tx0 stopped; libiio: iio:device0 in (IIO zero-copy, USB
    // zero-copy) 35.1 MB/s" (the libiio part only with buffers open). A stream's or buffer's
    // rate is shown once there is an earlier sample of it with fewer or equal bytes (a
    // restarted stream whose counter went back shows no rate until the next sample).
    std::string update(std::string_view state, const Samples &streams, Clock::time_point now,
                       const Buffers &libiio = {});

    // Forget the previous samples (a new session starts its counters from zero).
    void reset() { previous_.clear(); }

private:
    // " 12.3 MB/s" against the previous sample of `key`, or nothing; records this one.
    std::string rate(const std::string &key, std::uint64_t bytes, Clock::time_point now);

    struct Sample {
        Clock::time_point when;
        std::uint64_t bytes = 0;
    };
    std::map<std::string, Sample> previous_;
    std::map<std::string, Sample> next_; // the samples of the update() in progress
};

// "12.3": bytes over `elapsed` in MB/s, one decimal.
std::string formatRate(std::uint64_t bytes, std::chrono::nanoseconds elapsed);

} // namespace iiousb
