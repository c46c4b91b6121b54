#include "Format.h"

#include <cstdio>

namespace iiousb::tool {

namespace {

std::string scaled(double value, double base, const char *const *units, int count)
{
    int u = 0;
    while (value >= base && u < count - 1) {
        value /= base;
        ++u;
    }
    char buf[32];
    if (u == 0)
        std::snprintf(buf, sizeof(buf), "%.0f %s", value, units[0]);
    else
        std::snprintf(buf, sizeof(buf),
                      value < 10    ? "%.2f %s"
                      : value < 100 ? "%.1f %s"
                                    : "%.0f %s",
                      value, units[u]);
    return buf;
}

} // namespace

std::string formatBytes(std::uint64_t bytes)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    return scaled(static_cast<double>(bytes), 1000.0, units, 6);
}

std::string formatBytesBinary(std::uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    return scaled(static_cast<double>(bytes), 1024.0, units, 6);
}

std::string formatRate(double bytesPerSecond)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f MB/s", bytesPerSecond / 1e6);
    return buf;
}

std::string jsonString(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    out += '"';
    return out;
}

} // namespace iiousb::tool
