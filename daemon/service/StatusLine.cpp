#include "service/StatusLine.h"

#include <cstdio>

namespace iiousb {

std::string formatRate(std::uint64_t bytes, std::chrono::nanoseconds elapsed)
{
    if (elapsed.count() <= 0)
        return "0.0";
    const double mbps =
            static_cast<double>(bytes) * 1e3 / static_cast<double>(elapsed.count()); // B/ns -> MB/s
    char text[32];
    snprintf(text, sizeof(text), "%.1f", mbps);
    return text;
}

std::string StatusLine::rate(const std::string &key, std::uint64_t bytes, Clock::time_point now)
{
    std::string text;
    const auto prev = previous_.find(key);
    if (prev != previous_.end() && prev->second.bytes <= bytes && now > prev->second.when)
        text = " " + formatRate(bytes - prev->second.bytes, now - prev->second.when) + " MB/s";
    next_[key] = Sample{now, bytes};
    return text;
}

std::string StatusLine::update(std::string_view state, const Samples &streams,
                               Clock::time_point now, const Buffers &libiio)
{
    std::string line(state);
    next_.clear();
    for (std::size_t i = 0; i < streams.size(); i++) {
        const auto &[name, stats] = streams[i];
        line += i == 0 ? "; " : ", ";
        line += name;
        line += ' ';
        line += proto::stateName(stats.state);
        const std::string r = rate(name, stats.bytes, now);
        if (stats.state == proto::StreamState::Running)
            line += r;
    }
    for (std::size_t i = 0; i < libiio.size(); i++) {
        line += i == 0 ? "; libiio: " : ", ";
        line += libiio[i].text;
        line += rate("libiio " + libiio[i].key, libiio[i].bytes, now);
    }
    previous_ = std::move(next_);
    next_.clear();
    return line;
}

} // namespace iiousb
