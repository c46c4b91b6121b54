// iiousb USB control protocol, version 1 (docs/protocol.md): constants, the GET_INFO
// text, the GET_STATS record and the decoding of control requests.
//
// This library is shared by the daemon and the host tool: it depends on nothing but the
// C++ standard library, does no I/O and throws no exceptions of its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iiousb::proto {

// --- Interface --------------------------------------------------------------------------

inline constexpr unsigned kVersion = 1;
inline constexpr std::uint8_t kInterfaceClass = 0xff;    // vendor specific
inline constexpr std::uint8_t kInterfaceSubClass = 0x49; // 'I'
inline constexpr std::uint8_t kInterfaceProtocol = 0x01; // this protocol, version 1
inline constexpr std::string_view kInterfaceString = "iiousb";

// wMaxPacketSize of the bulk endpoints per speed, and the SuperSpeed burst.
inline constexpr std::uint16_t kBulkMaxPacketFullSpeed = 64;
inline constexpr std::uint16_t kBulkMaxPacketHighSpeed = 512;
inline constexpr std::uint16_t kBulkMaxPacketSuperSpeed = 1024;
inline constexpr std::uint8_t kSuperSpeedMaxBurst = 15;
// wMaxPacketSize of the metadata endpoint (interrupt IN) per speed.
inline constexpr std::uint16_t kMetaMaxPacketFullSpeed = 64;
inline constexpr std::uint16_t kMetaMaxPacketHighSpeed = 1024;
inline constexpr std::uint16_t kMetaMaxPacketSuperSpeed = 1024;

enum class Direction : std::uint8_t {
    Rx, // device -> host (ADC samples), bulk IN
    Tx, // host -> device (DAC samples), bulk OUT
};

std::string_view directionName(Direction dir); // "rx" | "tx"
std::optional<Direction> parseDirection(std::string_view name);

// The endpoint address the daemon asks for for stream `index` (numbers from 1 in stream order,
// bit 7 set for IN). The UDC may assign another: hosts use StreamInfo::endpoint (GET_INFO).
constexpr std::uint8_t endpointAddress(std::size_t index, Direction dir)
{
    return static_cast<std::uint8_t>((index + 1) | (dir == Direction::Rx ? 0x80 : 0x00));
}

// --- Control requests -------------------------------------------------------------------

inline constexpr std::uint8_t kRequestTypeIn = 0xc1;  // device-to-host | vendor | interface
inline constexpr std::uint8_t kRequestTypeOut = 0x41; // host-to-device | vendor | interface

enum class RequestCode : std::uint8_t {
    GetInfo = 0x01,
    Start = 0x02,
    Stop = 0x03,
    GetStats = 0x04,
    StartCyclic = 0x05, // data stage: le64 waveform bytes, then the waveform on the endpoint
};

inline constexpr std::uint16_t kInfoMaxSlice = 4096; // wLength limit of one GET_INFO
// GET_STATS: the record this version sends, and the smallest one a host may ask for and
// must accept (the version 1 record as first published; later fields are appended, and the
// device sends min(wLength, kStatsSize) bytes).
inline constexpr std::size_t kStatsSize = 72;
inline constexpr std::size_t kStatsMinSize = 64;
inline constexpr std::uint16_t kCyclicDataSize = 8; // START_CYCLIC data stage
// START's wValue: bit 15 asks for per-block metadata records on the metadata endpoint
// (GET_INFO's `meta-ep`); the stream index is in the bits below it.
inline constexpr std::uint16_t kStartWithMetadata = 0x8000;

// The START_CYCLIC data stage: the waveform's length in bytes, little-endian.
std::array<std::uint8_t, kCyclicDataSize> encodeCyclicLength(std::uint64_t bytes);
std::uint64_t decodeCyclicLength(std::span<const std::uint8_t, kCyclicDataSize> data);

// A SETUP packet in host byte order.
struct SetupPacket {
    std::uint8_t requestType = 0;
    std::uint8_t request = 0;
    std::uint16_t value = 0;
    std::uint16_t index = 0;
    std::uint16_t length = 0;
};

// A well-formed request of this protocol.
struct Request {
    RequestCode code = RequestCode::GetInfo;
    std::uint16_t value = 0;  // GET_INFO: byte offset; others: stream index
    std::uint16_t length = 0; // wLength
    bool metadata = false;    // START: kStartWithMetadata was set (not part of `value`)
    bool in() const { return code == RequestCode::GetInfo || code == RequestCode::GetStats; }
};

// Decodes a SETUP packet addressed to our interface (`interfaceNumber`, as the device sees
// it) on a device with `streamCount` streams. Returns nullopt for anything the protocol
// says to stall (wrong type/direction/recipient/index, unknown request, bad stream index,
// bad length) and, if `error` is not null, says why.
std::optional<Request> decodeRequest(const SetupPacket &setup, std::uint16_t interfaceNumber,
                                     std::size_t streamCount, std::string *error = nullptr);

// The SETUP packet a host sends for a request (wIndex = interfaceNumber).
SetupPacket encodeRequest(RequestCode code, std::uint16_t value, std::uint16_t length,
                          std::uint16_t interfaceNumber = 0);

// --- GET_INFO ---------------------------------------------------------------------------

struct ChannelInfo {
    unsigned index = 0; // position in scan order
    std::string id;     // IIO channel id, e.g. "voltage0"
    std::string format; // IIO scan element type, e.g. "le:s16/16>>0"
};

struct StreamInfo {
    unsigned index = 0;
    std::string name;
    Direction dir = Direction::Rx;
    std::uint8_t endpoint = 0; // endpoint address, e.g. 0x81
    std::string iio;           // IIO device name
    std::uint64_t blockBytes = 0;
    unsigned blocks = 0;
    std::uint64_t rate = 0; // sampling_frequency in Hz, 0 if none
    unsigned sampleBytes = 0;
    std::vector<ChannelInfo> channels;
};

struct DeviceInfo {
    unsigned version = kVersion;
    std::string serial;
    std::vector<StreamInfo> streams;
    // The metadata endpoint (bulk IN, `meta-ep=`), 0 when the device has none, and the
    // version of its records (`meta=`).
    std::uint8_t metaEndpoint = 0;
    unsigned metaVersion = 0;
};

// The info text. Whitespace and '=' in values (names, serial) are replaced by '_' so that
// every line stays `key=value` separated by single spaces.
std::string encodeInfo(const DeviceInfo &info);

// Parses an info text. Unknown line kinds and unknown keys are ignored (forward compatible);
// a wrong version, a missing or malformed known field, or counts that do not match the
// lines are errors (described in `error` if not null).
std::optional<DeviceInfo> parseInfo(std::string_view text, std::string *error = nullptr);

// The reply to GET_INFO(offset, length): at most `length` bytes from `offset` (empty past
// the end). A reply shorter than `length` ends the text.
std::string_view infoSlice(std::string_view text, std::uint16_t offset, std::uint16_t length);

// An IIO scan element type as sysfs prints it: "le:s12/16>>4", "be:u32/32X2>>0".
struct ScanFormat {
    bool bigEndian = false;
    bool isSigned = false;
    unsigned bits = 0;        // real bits
    unsigned storageBits = 0; // bits in memory
    unsigned shift = 0;
    unsigned repeat = 1;
    unsigned bytes() const { return storageBits / 8 * repeat; }
};
std::optional<ScanFormat> parseScanFormat(std::string_view text);
std::string formatScanFormat(const ScanFormat &format);

// --- GET_STATS --------------------------------------------------------------------------

enum class StreamState : std::uint8_t { Stopped = 0, Running = 1, Failed = 2 };
enum class PortMode : std::uint8_t { NotSetUp = 0, ZeroCopy = 1, Copy = 2 };

std::string_view stateName(StreamState state); // "stopped" | "running" | "failed"
std::string_view portModeName(PortMode mode);  // "none" | "zero-copy" | "copy"

struct Stats {
    StreamState state = StreamState::Stopped;
    PortMode iio = PortMode::NotSetUp;
    PortMode usb = PortMode::NotSetUp;
    std::uint64_t bytes = 0;
    std::uint64_t blocks = 0;
    std::uint64_t overruns = 0;
    std::uint64_t underruns = 0;
    std::uint64_t usbErrors = 0;
    std::uint64_t iioErrors = 0;
    std::uint64_t runningNs = 0;
    // tx: transfers that were not exactly one block (short or zero-length), dropped. 0 when
    // the record ends before it (a device from before it, or a 64-byte request).
    std::uint64_t shortTransfers = 0;

    bool operator==(const Stats &) const = default;
};

using StatsRecord = std::array<std::uint8_t, kStatsSize>;

StatsRecord encodeStats(const Stats &stats);

// Decodes a record of at least 64 bytes with version 1 and a record size >= 64 (bigger
// records from later versions are accepted, extra fields ignored; fields past the end of
// `record` or past its record size read 0). Unknown state or mode values are errors.
std::optional<Stats> decodeStats(std::span<const std::uint8_t> record,
                                 std::string *error = nullptr);

// --- Per-block metadata ------------------------------------------------------------------

// One record per block on the metadata endpoint (docs/protocol.md, "Metadata"), for the
// streams started with kStartWithMetadata. Little-endian, kMetaRecordSize bytes.
inline constexpr unsigned kMetaVersion = 1;
inline constexpr std::size_t kMetaRecordSize = 64;

// MetaRecord::flags
inline constexpr std::uint8_t kMetaGap = 0x01;         // sample sets were lost before this block
inline constexpr std::uint8_t kMetaLostUnknown = 0x02; // ... how many is unknown (no rate)
inline constexpr std::uint8_t kMetaTime = 0x04;        // completionNs is the IIO fence's time
inline constexpr std::uint8_t kMetaUsbLoss = 0x08;     // the gap is blocks that failed on USB
inline constexpr std::uint8_t kMetaTx = 0x10;          // a tx block (else rx)

struct MetaRecord {
    std::uint8_t stream = 0;
    std::uint8_t flags = 0;
    std::uint64_t sequence = 0;     // block number since START, in the order data moves
    std::uint64_t firstSample = 0;  // index of the block's first sample set since START
    std::uint64_t lost = 0;         // sample sets lost right before this block
    std::uint64_t overruns = 0;     // so far (GET_STATS)
    std::uint64_t underruns = 0;    // so far (GET_STATS)
    std::uint64_t completionNs = 0; // CLOCK_MONOTONIC when IIO completed the block
    std::uint32_t bytes = 0;
    std::uint32_t lostMargin = 0; // `lost` is within this many sample sets of the truth

    bool operator==(const MetaRecord &) const = default;
};

using MetaBytes = std::array<std::uint8_t, kMetaRecordSize>;
MetaBytes encodeMeta(const MetaRecord &record);
// Version 1 records of at least kMetaRecordSize bytes (a longer record size is accepted,
// the rest ignored: the caller steps by the size returned in `size`).
std::optional<MetaRecord> decodeMeta(std::span<const std::uint8_t> bytes,
                                     std::size_t *size = nullptr, std::string *error = nullptr);

} // namespace iiousb::proto
