// Text helpers shared by the tool's outputs: human-readable sizes and rates, JSON strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace iiousb::tool {

// Decimal units as in "MB/s": "512 B", "1.50 kB", "12.3 MB", "1.02 GB".
std::string formatBytes(std::uint64_t bytes);
// Binary units: "512 B", "1.50 KiB", "12.0 MiB".
std::string formatBytesBinary(std::uint64_t bytes);
// "123.4 MB/s"
std::string formatRate(double bytesPerSecond);
// A JSON string literal with quotes and escapes.
std::string jsonString(std::string_view text);

} // namespace iiousb::tool
