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

std::string StatusLine::update(std::string_view state, const Samples &streams,
                               Clock::time_point now)
{
    std::string line(state);
    std::map<std::string, Sample> next;
    for (std::size_t i = 0; i < streams.size(); i++) {
        const auto &[name, stats] = streams[i];
        line += i == 0 ? "; " : ", ";
        line += name;
        line += ' ';
        line += proto::stateName(stats.state);
        auto prev = previous_.find(name);
        if (stats.state == proto::StreamState::Running && prev != previous_.end() &&
            prev->second.bytes <= stats.bytes && now > prev->second.when) {
            line += ' ';
            line += formatRate(stats.bytes - prev->second.bytes, now - prev->second.when);
            line += " MB/s";
        }
        next[name] = Sample{now, stats.bytes};
    }
    previous_ = std::move(next);
    return line;
}

} // namespace iiousb
