// The daemon's configuration (docs/configuration.md) and its YAML loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/Result.h"
#include "protocol/Protocol.h"

namespace iiousb {

struct GadgetConfig {
    std::string name = "iiousb"; // configfs directory under usb_gadget/
    std::uint16_t vendorId = 0;
    std::uint16_t productId = 0;
    std::uint16_t bcdDevice = 0x0100;
    std::string manufacturer = "iiousb";
    std::string product = "iiousb";
    std::string serial; // empty: no serial number string
    unsigned maxPowerMa = 100;
    std::string udc; // empty: the first UDC no other gadget uses

    bool operator==(const GadgetConfig &) const = default;
};

struct FunctionFsConfig {
    std::string instance = "iiousb"; // usb_f_fs instance: functions/ffs.<instance>
    std::string mountPoint = "/run/iiousbd/ffs";

    bool operator==(const FunctionFsConfig &) const = default;
};

enum class ZeroCopy { Auto, Require, Off };
std::string_view zeroCopyName(ZeroCopy mode);

struct StreamConfig {
    std::string name;
    proto::Direction direction = proto::Direction::Rx;
    std::string device;                                          // IIO device id, name or label
    std::optional<std::vector<std::string>> channels;            // nullopt: all scan channels
    std::vector<std::pair<std::string, std::string>> attributes; // device attributes to set
    std::uint64_t blockSize = 1 << 20;
    unsigned blockCount = 4;
    std::string dmabufHeap = "/dev/dma_heap/system";
    ZeroCopy zeroCopy = ZeroCopy::Auto;

    bool operator==(const StreamConfig &) const = default;
};

struct Config {
    std::string path; // where it was loaded from (for messages)
    GadgetConfig gadget;
    FunctionFsConfig functionfs;
    std::vector<StreamConfig> streams;

    // Same settings (the path does not count).
    bool sameSettings(const Config &other) const
    {
        return gadget == other.gadget && functionfs == other.functionfs && streams == other.streams;
    }
};

// Limits checked by the loader.
inline constexpr std::size_t kMaxStreams = 15;
inline constexpr std::uint64_t kMaxBlockSize = 256ull << 20;
inline constexpr unsigned kMaxBlockCount = 64;

// Parses `text`; `path` names the source in messages ("path:line:column: key: what").
// Never throws; touches nothing outside memory.
Result<Config> parseConfig(std::string_view text, const std::string &path);

// Reads and parses a file. Error code -ENOENT etc. when it cannot be read, -EINVAL when it
// is not a valid configuration.
Result<Config> loadConfig(const std::string &path);

} // namespace iiousb
