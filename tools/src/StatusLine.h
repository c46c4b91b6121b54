// The live one-line status on stderr (once a second) and the throughput bookkeeping behind
// it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace iiousb::tool {

struct Progress {
    std::string_view stream;
    std::string_view verb; // "rx" | "tx"
    double rate = 0;       // bytes per second over the last interval
    std::uint64_t total = 0;
    double seconds = 0;
    std::uint64_t errors = 0;
    std::string_view extra; // e.g. the verifier's status
};

// "rx0 rx  123.4 MB/s  total 1.23 GB  12.0 s  errors 0  verify ok"
std::string formatProgress(const Progress &progress);

// Bytes per second between ticks.
class RateMeter {
public:
    using Clock = std::chrono::steady_clock;

    explicit RateMeter(Clock::time_point start) : start_(start), last_(start) {}

    // Rate since the previous tick, given the running total.
    double tick(Clock::time_point now, std::uint64_t total);
    double average(Clock::time_point now, std::uint64_t total) const;
    double elapsed(Clock::time_point now) const;

private:
    Clock::time_point start_;
    Clock::time_point last_;
    std::uint64_t lastTotal_ = 0;
};

// On a terminal the line is rewritten in place; otherwise (a log, a pipe) each update is a
// line of its own.
class StatusLine {
public:
    explicit StatusLine(bool enabled);
    ~StatusLine() { clear(); }
    StatusLine(const StatusLine &) = delete;
    StatusLine &operator=(const StatusLine &) = delete;

    void show(std::string_view text);
    // Ends a line rewritten in place, so that the next output starts on a line of its own.
    void clear();

private:
    bool enabled_;
    bool tty_;
    bool pending_ = false;
};

} // namespace iiousb::tool
