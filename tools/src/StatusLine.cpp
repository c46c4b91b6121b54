#include "StatusLine.h"

#include <cstdio>

#include <unistd.h>

#include "Format.h"

namespace iiousb::tool {

std::string formatProgress(const Progress &p)
{
    char time[32];
    std::snprintf(time, sizeof(time), "%.1f s", p.seconds);
    std::string line;
    line += p.stream;
    line += ' ';
    line += p.verb;
    line += "  " + formatRate(p.rate) + "  total " + formatBytes(p.total) + "  " + time +
            "  errors " + std::to_string(p.errors);
    if (!p.extra.empty()) {
        line += "  ";
        line += p.extra;
    }
    return line;
}

double RateMeter::tick(Clock::time_point now, std::uint64_t total)
{
    const double dt = std::chrono::duration<double>(now - last_).count();
    const double rate = dt > 0 ? static_cast<double>(total - lastTotal_) / dt : 0;
    last_ = now;
    lastTotal_ = total;
    return rate;
}

double RateMeter::average(Clock::time_point now, std::uint64_t total) const
{
    const double dt = elapsed(now);
    return dt > 0 ? static_cast<double>(total) / dt : 0;
}

double RateMeter::elapsed(Clock::time_point now) const
{
    return std::chrono::duration<double>(now - start_).count();
}

StatusLine::StatusLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

void StatusLine::show(std::string_view text)
{
    if (!enabled_)
        return;
    if (tty_) {
        // Carriage return, the text, erase to the end of the line.
        std::fprintf(stderr, "\r%.*s\033[K", static_cast<int>(text.size()), text.data());
        pending_ = true;
    } else {
        std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
    }
    std::fflush(stderr);
}

void StatusLine::clear()
{
    if (pending_) {
        std::fputc('\n', stderr);
        std::fflush(stderr);
        pending_ = false;
    }
}

} // namespace iiousb::tool
