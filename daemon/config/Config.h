// The daemon's configuration (docs/configuration.md) and its YAML loader.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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
    // The per-block metadata endpoint (docs/protocol.md, "Metadata"): one more bulk IN
    // endpoint after the streams' (the `metadata` key).
    bool metadata = true;

    bool operator==(const FunctionFsConfig &) const = default;
};

// The iiod-compatible interface for libiio clients (docs/libiio.md): a second FunctionFS
// function in the gadget, with its own instance and mount point.
enum class ZeroCopy { Auto, Require, Off };
std::string_view zeroCopyName(ZeroCopy mode);

struct LibiioConfig {
    bool enabled = false;
    unsigned pipes = 3; // pipe 0 for the context, one per concurrent buffer after it
    std::string instance = "iio";
    std::string mountPoint = "/run/iiousbd/iio";
    bool attributeWrites = true;  // WRITE of attributes
    bool debugAttributes = false; // debug attributes (direct_reg_access...) listed and usable
    // The sample data of READBUF (input devices): DMABUF blocks sent from IIO to the pipe's
    // IN endpoint without a copy, per side where the kernel can import them (auto).
    ZeroCopy zeroCopy = ZeroCopy::Auto;
    std::string dmabufHeap = "/dev/dma_heap/system";
    unsigned buffers = 4; // DMABUF blocks per opened buffer unless the client sets BUFFERS_COUNT
    // The IIO devices clients see, by id, name or label; nullopt: all. Names that match no
    // device are allowed (it may probe later).
    std::optional<std::vector<std::string>> devices = std::nullopt;

    bool operator==(const LibiioConfig &) const = default;
};

inline constexpr unsigned kMaxLibiioPipes = 8;

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
    // Progress watchdog: blocks queued on a side and none completed for this long (the
    // `stall-timeout` key, whole seconds); 0: off.
    std::chrono::milliseconds stallTimeout{5000};

    bool operator==(const StreamConfig &) const = default;
};

struct LimitsConfig {
    // Cap on the DMABUF memory of all streams together (block-size x block-count summed):
    // the `limits.dmabuf-memory` key, else a quarter of MemTotal. 0: no cap (MemTotal
    // unknown and no key).
    std::uint64_t dmabufMemory = 0;
    bool dmabufMemoryFromFile = false;

    bool operator==(const LimitsConfig &) const = default;
};

struct Config {
    std::string path; // where it was loaded from (for messages)
    GadgetConfig gadget;
    FunctionFsConfig functionfs;
    LibiioConfig libiio;
    LimitsConfig limits;
    std::vector<StreamConfig> streams;

    // Same settings (the path does not count).
    bool sameSettings(const Config &other) const
    {
        return gadget == other.gadget && functionfs == other.functionfs && libiio == other.libiio &&
               limits == other.limits && streams == other.streams;
    }
};

// What the loader checks a configuration against on the machine it runs on. local() reads
// the real machine; tests substitute their own.
struct SystemFacts {
    std::uint64_t memTotal = 0;    // bytes (MemTotal in /proc/meminfo); 0: unknown
    std::string memTotalSource;    // where memTotal came from, for messages
    std::uint64_t pageSize = 4096; // sysconf(_SC_PAGESIZE)
    // Why `path` cannot be the FunctionFS mount point, or "" if it can: it is missing, an
    // empty directory, or already a FunctionFS mount (a running daemon's, on reload).
    std::function<std::string(const std::string &path)> mountPointProblem;

    static SystemFacts local();
};

// Why `path` cannot be a FunctionFS mount point on this machine, or "" (SystemFacts::local()).
std::string localMountPointProblem(const std::string &path);

// Limits checked by the loader.
inline constexpr std::size_t kMaxStreams = 15;
inline constexpr std::uint64_t kMaxBlockSize = 256ull << 20;
inline constexpr unsigned kMaxBlockCount = 64;
inline constexpr unsigned kMaxStallTimeoutS = 3600;
// Every block is whole SuperSpeed packets (wMaxPacketSize 1024; 512 at high speed, 64 at
// full speed divide it), so an OUT transfer of one block ends without a zero-length packet.
inline constexpr std::uint64_t kBlockSizeUnit = 1024;
// Without limits.dmabuf-memory, the streams may take this fraction of MemTotal.
inline constexpr unsigned kDefaultDmabufMemoryDivisor = 4;

// Parses `text`; `path` names the source in messages ("path:line:column: key: what").
// Never throws; looks at the machine only through `facts`.
Result<Config> parseConfig(std::string_view text, const std::string &path,
                           const SystemFacts &facts);

// Reads and parses a file, checked against this machine. Error code -ENOENT etc. when it
// cannot be read, -EINVAL when it is not a valid configuration.
Result<Config> loadConfig(const std::string &path, const SystemFacts &facts = SystemFacts::local());

} // namespace iiousb
