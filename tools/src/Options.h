// Command line of the host tool `iiousb`: parsing only, no device access, so that it can
// be unit tested.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "Expected.h"

namespace iiousb::tool {

enum class Command { Help, Version, List, Info, Capture, Play, Stats };

enum class VerifyMode {
    None,
    Full,   // every sample word against iio-sim's pattern, plus the block headers
    Header, // only the 16-byte block headers (cheap)
};

// capture -o / play -i: the file's format. Auto (play only, once parsed): a name ending in
// .sigmf-data or .sigmf-meta is a SigMF recording, an existing file is raw, and NAME is the
// recording NAME.sigmf-* when NAME.sigmf-meta exists (decided when the files are opened).
enum class FileFormat {
    Auto,
    Raw,   // the samples as the device sends them, nothing else
    Sigmf, // NAME.sigmf-data + NAME.sigmf-meta (tools/src/Sigmf.h)
};

// -n: a number of bytes or of samples (sample sets, i.e. scans); samples are turned into
// bytes once the stream's sample size is known.
struct Amount {
    enum class Unit { Bytes, Samples };
    std::uint64_t value = 0;
    Unit unit = Unit::Samples;

    std::uint64_t bytes(unsigned sampleBytes) const
    {
        return unit == Unit::Bytes ? value : value * sampleBytes;
    }
};

// A VID:PID filter for devices that do not carry the iiousb interface triple (or to pick
// among several).
struct UsbId {
    std::uint16_t vendor = 0;
    std::uint16_t product = 0;
};

struct Options {
    Command command = Command::Help;

    // Device selection (any command).
    std::string serial;         // -d SERIAL
    std::optional<UsbId> usbId; // --usb VID:PID
    bool quiet = false;         // -q: no live status line
    bool json = false;          // info/stats --json

    // capture / play / stats
    std::string stream; // name or index; empty for "all" (stats)
    // capture: STREAM[,STREAM...], one or more (split); several run in one process, one
    // libusb event loop, each to its own file: -o NAME with {} for the stream's name.
    std::vector<std::string> streams;
    std::string output = "-";    // capture -o
    std::string input;           // play -i
    std::optional<Amount> count; // -n
    double seconds = 0;          // -t: stop after this long (0: no limit)
    VerifyMode verify = VerifyMode::None;
    bool cyclic = false; // play --cyclic
    // --format; capture resolves Auto to Raw or Sigmf from the -o name.
    FileFormat format = FileFormat::Auto;
    bool complex = false; // capture --complex: record channel pairs as I/Q (SigMF)

    // Transfer tuning.
    unsigned transfers = 16;                 // -T: transfers in flight
    std::uint32_t transferSize = 256 * 1024; // -S: bytes per transfer
    bool devMem = true;                      // --no-dev-mem: plain heap buffers
    bool metadata = true;                    // capture --no-meta: no per-block records
    bool latency = false;                    // capture --latency: report per-block latency
    std::string metaLog;                     // capture/play --meta-log FILE: every record, CSV
};

inline constexpr unsigned kMaxTransfers = 1024;
inline constexpr std::uint32_t kTransferSizeGranule = 1024; // the SuperSpeed max packet
inline constexpr std::uint32_t kMaxTransferSize = 64u << 20;

// Parses argv[1...] (without the program name).
Expected<Options> parseOptions(std::span<const std::string_view> args);

// "4096", "16KiB", "1MB", "2M" (a plain number or k/M/G: samples; a B suffix: bytes,
// KiB/MiB/GiB binary, kB/MB/GB decimal).
Expected<Amount> parseAmount(std::string_view text);

// A byte size for -S: "262144", "256KiB", "256k" (k/M/G binary here).
Expected<std::uint64_t> parseByteSize(std::string_view text);

// A capture output or --meta-log name for one of several streams: every {} replaced by the
// stream's name ("cap-{}.bin" -> "cap-rx1.bin"); /dev/null stays.
std::string perStreamPath(std::string_view pattern, std::string_view stream);

// "0456:b673" (hex).
Expected<UsbId> parseUsbId(std::string_view text);

std::string usageText();

} // namespace iiousb::tool
