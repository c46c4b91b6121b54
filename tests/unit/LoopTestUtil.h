// Helpers for tests that run a real sd-event loop (EventLoop) by hand, and a log sink that
// keeps the records of a test.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <systemd/sd-event.h>

#include "event/EventLoop.h"
#include "log/Log.h"

namespace iiousb::test {

// Dispatches what is ready now, without waiting, until nothing is (at most `limit` rounds).
inline void runPending(EventLoop &loop, int limit = 10000)
{
    while (limit-- > 0 && sd_event_run(loop.get(), 0) > 0) {
    }
}

// Runs the loop (waiting for timers) for `d`.
inline void runFor(EventLoop &loop, std::chrono::milliseconds d)
{
    const auto end = std::chrono::steady_clock::now() + d;
    for (auto now = std::chrono::steady_clock::now(); now < end;
         now = std::chrono::steady_clock::now()) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(end - now);
        sd_event_run(loop.get(), static_cast<std::uint64_t>(left.count()));
    }
}

// Runs the loop until `done()` or `timeout`; whether `done()` came true.
inline bool runUntil(EventLoop &loop, const std::function<bool()> &done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5))
{
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= end)
            return false;
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(end - now);
        sd_event_run(loop.get(), static_cast<std::uint64_t>(left.count()));
    }
    return true;
}

struct LogRecord {
    log::Level level;
    std::string message;
    log::Fields fields;

    std::string field(std::string_view name) const
    {
        for (const auto &[k, v] : fields)
            if (k == name)
                return v;
        return {};
    }
};

// Keeps every log record while it lives.
class LogCapture {
public:
    LogCapture()
    {
        previous_ = log::setSink([this](const log::Record &r) {
            records.push_back(
                    {r.level, std::string(r.message), r.fields ? *r.fields : log::Fields()});
        });
    }
    ~LogCapture() { log::setSink(std::move(previous_)); }
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    // The records whose IIOUSB_EVENT is `event`.
    std::vector<LogRecord> events(std::string_view event) const
    {
        std::vector<LogRecord> out;
        for (const auto &r : records)
            if (r.field(log::kEvent) == event)
                out.push_back(r);
        return out;
    }

    std::vector<LogRecord> records;

private:
    log::Sink previous_;
};

} // namespace iiousb::test
