#include "protocol/Protocol.h"

#include <algorithm>
#include <charconv>
#include <map>

namespace iiousb::proto {

namespace {

void setError(std::string *error, std::string message)
{
    if (error)
        *error = std::move(message);
}

std::string sanitize(std::string_view value)
{
    std::string out(value);
    for (char &c : out) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '=' || c == '\v' || c == '\f')
            c = '_';
    }
    if (out.empty())
        out = "-";
    return out;
}

std::string hexByte(std::uint8_t v)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "0x";
    s += digits[v >> 4];
    s += digits[v & 0xf];
    return s;
}

template <typename T>
bool parseUnsigned(std::string_view text, T &out, int base = 10)
{
    if (base == 16) {
        if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X'))
            return false;
        text.remove_prefix(2);
    }
    if (text.empty())
        return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
    return ec == std::errc() && ptr == text.data() + text.size();
}

std::vector<std::string_view> splitSpaces(std::string_view line)
{
    std::vector<std::string_view> words;
    std::size_t pos = 0;
    while (pos < line.size()) {
        while (pos < line.size() && line[pos] == ' ')
            pos++;
        std::size_t end = line.find(' ', pos);
        if (end == std::string_view::npos)
            end = line.size();
        if (end > pos)
            words.push_back(line.substr(pos, end - pos));
        pos = end;
    }
    return words;
}

// key=value words after the leading ones; later duplicates win.
std::map<std::string_view, std::string_view> keyValues(const std::vector<std::string_view> &words,
                                                       std::size_t first)
{
    std::map<std::string_view, std::string_view> kv;
    for (std::size_t i = first; i < words.size(); i++) {
        std::size_t eq = words[i].find('=');
        if (eq == std::string_view::npos)
            continue;
        kv[words[i].substr(0, eq)] = words[i].substr(eq + 1);
    }
    return kv;
}

void putLe(std::uint8_t *p, std::uint64_t v, std::size_t bytes)
{
    for (std::size_t i = 0; i < bytes; i++)
        p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t getLe(const std::uint8_t *p, std::size_t bytes)
{
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; i++)
        v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
}

} // namespace

std::string_view directionName(Direction dir)
{
    return dir == Direction::Rx ? "rx" : "tx";
}

std::optional<Direction> parseDirection(std::string_view name)
{
    if (name == "rx")
        return Direction::Rx;
    if (name == "tx")
        return Direction::Tx;
    return std::nullopt;
}

std::array<std::uint8_t, kCyclicDataSize> encodeCyclicLength(std::uint64_t bytes)
{
    std::array<std::uint8_t, kCyclicDataSize> out{};
    for (std::size_t i = 0; i < out.size(); i++)
        out[i] = static_cast<std::uint8_t>(bytes >> (8 * i));
    return out;
}

std::uint64_t decodeCyclicLength(std::span<const std::uint8_t, kCyclicDataSize> data)
{
    std::uint64_t v = 0;
    for (std::size_t i = data.size(); i-- > 0;)
        v = v << 8 | data[i];
    return v;
}

std::optional<Request> decodeRequest(const SetupPacket &setup, std::uint16_t interfaceNumber,
                                     std::size_t streamCount, std::string *error)
{
    if ((setup.requestType & 0x7f) != (kRequestTypeOut & 0x7f)) {
        setError(error, "not a vendor request to the interface (bmRequestType " +
                                hexByte(setup.requestType) + ")");
        return std::nullopt;
    }
    if (setup.index != interfaceNumber) {
        setError(error, "wIndex " + std::to_string(setup.index) + " is not interface " +
                                std::to_string(interfaceNumber));
        return std::nullopt;
    }
    const bool in = setup.requestType & 0x80;
    Request req;
    req.value = setup.value;
    req.length = setup.length;

    auto checkStream = [&](const char *name) {
        if (setup.value >= streamCount) {
            setError(error, std::string(name) + ": no stream " + std::to_string(setup.value) +
                                    " (" + std::to_string(streamCount) + " streams)");
            return false;
        }
        return true;
    };

    switch (setup.request) {
    case static_cast<std::uint8_t>(RequestCode::GetInfo):
        req.code = RequestCode::GetInfo;
        if (!in) {
            setError(error, "GET_INFO: wrong direction (OUT)");
            return std::nullopt;
        }
        if (setup.length == 0 || setup.length > kInfoMaxSlice) {
            setError(error, "GET_INFO: wLength " + std::to_string(setup.length) + " not in 1.." +
                                    std::to_string(kInfoMaxSlice));
            return std::nullopt;
        }
        return req;
    case static_cast<std::uint8_t>(RequestCode::Start):
    case static_cast<std::uint8_t>(RequestCode::Stop): {
        const bool start = setup.request == static_cast<std::uint8_t>(RequestCode::Start);
        const char *name = start ? "START" : "STOP";
        req.code = start ? RequestCode::Start : RequestCode::Stop;
        if (in) {
            setError(error, std::string(name) + ": wrong direction (IN)");
            return std::nullopt;
        }
        if (setup.length != 0) {
            setError(error,
                     std::string(name) + ": wLength " + std::to_string(setup.length) + " != 0");
            return std::nullopt;
        }
        if (start && (setup.value & kStartWithMetadata)) {
            req.metadata = true;
            req.value = setup.value & ~kStartWithMetadata;
        }
        if (req.value >= streamCount) {
            setError(error, std::string(name) + ": no stream " + std::to_string(req.value) + " (" +
                                    std::to_string(streamCount) + " streams)");
            return std::nullopt;
        }
        return req;
    }
    case static_cast<std::uint8_t>(RequestCode::StartCyclic):
        req.code = RequestCode::StartCyclic;
        if (in) {
            setError(error, "START_CYCLIC: wrong direction (IN)");
            return std::nullopt;
        }
        if (setup.length != kCyclicDataSize) {
            setError(error, "START_CYCLIC: wLength " + std::to_string(setup.length) +
                                    " != " + std::to_string(kCyclicDataSize));
            return std::nullopt;
        }
        if (!checkStream("START_CYCLIC"))
            return std::nullopt;
        return req;
    case static_cast<std::uint8_t>(RequestCode::GetStats):
        req.code = RequestCode::GetStats;
        if (!in) {
            setError(error, "GET_STATS: wrong direction (OUT)");
            return std::nullopt;
        }
        if (setup.length < kStatsMinSize) {
            setError(error, "GET_STATS: wLength " + std::to_string(setup.length) + " < " +
                                    std::to_string(kStatsMinSize));
            return std::nullopt;
        }
        if (!checkStream("GET_STATS"))
            return std::nullopt;
        return req;
    default:
        setError(error, "unknown bRequest " + hexByte(setup.request));
        return std::nullopt;
    }
}

SetupPacket encodeRequest(RequestCode code, std::uint16_t value, std::uint16_t length,
                          std::uint16_t interfaceNumber)
{
    SetupPacket setup;
    const bool in = code == RequestCode::GetInfo || code == RequestCode::GetStats;
    setup.requestType = in ? kRequestTypeIn : kRequestTypeOut;
    setup.request = static_cast<std::uint8_t>(code);
    setup.value = value;
    setup.index = interfaceNumber;
    setup.length = length;
    return setup;
}

std::string encodeInfo(const DeviceInfo &info)
{
    std::string out;
    out += "iiousb " + std::to_string(info.version) + "\n";
    out += "device serial=" + sanitize(info.serial) +
           " streams=" + std::to_string(info.streams.size());
    if (info.metaEndpoint)
        out += " meta-ep=" + hexByte(info.metaEndpoint) +
               " meta=" + std::to_string(info.metaVersion);
    out += "\n";
    for (std::size_t i = 0; i < info.streams.size(); i++) {
        const StreamInfo &s = info.streams[i];
        out += "stream " + std::to_string(i) + " name=" + sanitize(s.name) +
               " dir=" + std::string(directionName(s.dir)) + " ep=" + hexByte(s.endpoint) +
               " iio=" + sanitize(s.iio) + " block=" + std::to_string(s.blockBytes) +
               " blocks=" + std::to_string(s.blocks) + " rate=" + std::to_string(s.rate) +
               " sample-bytes=" + std::to_string(s.sampleBytes) +
               " channels=" + std::to_string(s.channels.size()) + "\n";
        for (std::size_t c = 0; c < s.channels.size(); c++) {
            out += "channel " + std::to_string(i) + " " + std::to_string(c) + " " +
                   sanitize(s.channels[c].id) + " " + sanitize(s.channels[c].format) + "\n";
        }
    }
    return out;
}

std::optional<DeviceInfo> parseInfo(std::string_view text, std::string *error)
{
    DeviceInfo info;
    std::optional<std::size_t> streamCount;
    bool sawHeader = false;
    std::vector<std::size_t> channelCounts;
    unsigned lineNo = 0;

    auto fail = [&](const std::string &what) {
        setError(error, "line " + std::to_string(lineNo) + ": " + what);
        return std::nullopt;
    };

    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        lineNo++;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        const auto words = splitSpaces(line);
        if (words.empty())
            continue;

        if (!sawHeader) {
            if (words.size() < 2 || words[0] != "iiousb")
                return fail("expected 'iiousb VERSION' as the first line");
            if (!parseUnsigned(words[1], info.version))
                return fail("bad version '" + std::string(words[1]) + "'");
            if (info.version != kVersion)
                return fail("protocol version " + std::to_string(info.version) +
                            " is not supported (this is version " + std::to_string(kVersion) + ")");
            sawHeader = true;
            continue;
        }

        if (words[0] == "device") {
            auto kv = keyValues(words, 1);
            if (auto it = kv.find("serial"); it != kv.end())
                info.serial = std::string(it->second);
            std::size_t n = 0;
            auto it = kv.find("streams");
            if (it == kv.end() || !parseUnsigned(it->second, n))
                return fail("device line without a valid streams=N");
            streamCount = n;
            // Optional: a device without the metadata endpoint has neither.
            auto mep = kv.find("meta-ep");
            auto mv = kv.find("meta");
            if (mep != kv.end() && mv != kv.end()) {
                if (!parseUnsigned(mep->second, info.metaEndpoint, 16) ||
                    !(info.metaEndpoint & 0x80) || !parseUnsigned(mv->second, info.metaVersion))
                    return fail("device line with a bad meta-ep= or meta=");
            }
        } else if (words[0] == "stream") {
            StreamInfo s;
            if (words.size() < 2 || !parseUnsigned(words[1], s.index))
                return fail("stream line without an index");
            if (s.index != info.streams.size())
                return fail("stream " + std::to_string(s.index) + " out of order (expected " +
                            std::to_string(info.streams.size()) + ")");
            auto kv = keyValues(words, 2);
            auto get = [&](const char *key) -> std::optional<std::string_view> {
                auto it = kv.find(key);
                if (it == kv.end())
                    return std::nullopt;
                return it->second;
            };
            auto name = get("name");
            auto dir = get("dir");
            auto ep = get("ep");
            auto iio = get("iio");
            auto block = get("block");
            auto blocks = get("blocks");
            auto rate = get("rate");
            auto sampleBytes = get("sample-bytes");
            auto channels = get("channels");
            std::size_t nch = 0;
            if (!name || name->empty())
                return fail("stream " + std::to_string(s.index) + ": missing name=");
            s.name = std::string(*name);
            std::optional<Direction> d = dir ? parseDirection(*dir) : std::nullopt;
            if (!d)
                return fail("stream " + std::to_string(s.index) + ": dir= must be rx or tx");
            s.dir = *d;
            if (!ep || !parseUnsigned(*ep, s.endpoint, 16))
                return fail("stream " + std::to_string(s.index) + ": bad ep=");
            if (!iio)
                return fail("stream " + std::to_string(s.index) + ": missing iio=");
            s.iio = std::string(*iio);
            if (!block || !parseUnsigned(*block, s.blockBytes))
                return fail("stream " + std::to_string(s.index) + ": bad block=");
            if (!blocks || !parseUnsigned(*blocks, s.blocks))
                return fail("stream " + std::to_string(s.index) + ": bad blocks=");
            if (!rate || !parseUnsigned(*rate, s.rate))
                return fail("stream " + std::to_string(s.index) + ": bad rate=");
            if (!sampleBytes || !parseUnsigned(*sampleBytes, s.sampleBytes))
                return fail("stream " + std::to_string(s.index) + ": bad sample-bytes=");
            if (!channels || !parseUnsigned(*channels, nch))
                return fail("stream " + std::to_string(s.index) + ": bad channels=");
            info.streams.push_back(std::move(s));
            channelCounts.push_back(nch);
        } else if (words[0] == "channel") {
            unsigned stream = 0;
            ChannelInfo c;
            if (words.size() < 5 || !parseUnsigned(words[1], stream) ||
                !parseUnsigned(words[2], c.index))
                return fail("expected 'channel STREAM N ID FORMAT'");
            if (stream >= info.streams.size())
                return fail("channel of unknown stream " + std::to_string(stream));
            StreamInfo &s = info.streams[stream];
            if (c.index != s.channels.size())
                return fail("channel " + std::to_string(c.index) + " of stream " +
                            std::to_string(stream) + " out of order");
            c.id = std::string(words[3]);
            c.format = std::string(words[4]);
            s.channels.push_back(std::move(c));
        }
        // Other line kinds: ignored (added by later revisions).
    }

    lineNo = 0;
    if (!sawHeader)
        return fail("empty info text");
    if (!streamCount)
        return fail("no device line");
    if (*streamCount != info.streams.size())
        return fail("device says streams=" + std::to_string(*streamCount) + " but there are " +
                    std::to_string(info.streams.size()) + " stream lines");
    for (std::size_t i = 0; i < info.streams.size(); i++) {
        if (channelCounts[i] != info.streams[i].channels.size())
            return fail("stream " + std::to_string(i) +
                        " says channels=" + std::to_string(channelCounts[i]) + " but there are " +
                        std::to_string(info.streams[i].channels.size()) + " channel lines");
    }
    return info;
}

std::string_view infoSlice(std::string_view text, std::uint16_t offset, std::uint16_t length)
{
    if (offset >= text.size())
        return {};
    return text.substr(offset, length);
}

std::optional<ScanFormat> parseScanFormat(std::string_view text)
{
    // [be|le]:[s|u]bits/storagebits[Xrepeat]>>shift
    ScanFormat f;
    if (text.size() < 4 || text[2] != ':')
        return std::nullopt;
    if (text.substr(0, 2) == "be")
        f.bigEndian = true;
    else if (text.substr(0, 2) != "le")
        return std::nullopt;
    text.remove_prefix(3);
    if (text.empty() || (text[0] != 's' && text[0] != 'u'))
        return std::nullopt;
    f.isSigned = text[0] == 's';
    text.remove_prefix(1);
    std::size_t slash = text.find('/');
    std::size_t shiftPos = text.find(">>");
    if (slash == std::string_view::npos || shiftPos == std::string_view::npos || shiftPos < slash)
        return std::nullopt;
    if (!parseUnsigned(text.substr(0, slash), f.bits))
        return std::nullopt;
    std::string_view storage = text.substr(slash + 1, shiftPos - slash - 1);
    std::size_t x = storage.find('X');
    if (x != std::string_view::npos) {
        if (!parseUnsigned(storage.substr(x + 1), f.repeat) || f.repeat == 0)
            return std::nullopt;
        storage = storage.substr(0, x);
    }
    if (!parseUnsigned(storage, f.storageBits) ||
        !parseUnsigned(text.substr(shiftPos + 2), f.shift))
        return std::nullopt;
    if (f.storageBits == 0 || f.storageBits % 8 != 0 || f.bits > f.storageBits ||
        f.shift >= f.storageBits)
        return std::nullopt;
    return f;
}

std::string formatScanFormat(const ScanFormat &f)
{
    std::string s = f.bigEndian ? "be:" : "le:";
    s += f.isSigned ? 's' : 'u';
    s += std::to_string(f.bits) + "/" + std::to_string(f.storageBits);
    if (f.repeat > 1)
        s += "X" + std::to_string(f.repeat);
    s += ">>" + std::to_string(f.shift);
    return s;
}

std::string_view stateName(StreamState state)
{
    switch (state) {
    case StreamState::Stopped:
        return "stopped";
    case StreamState::Running:
        return "running";
    case StreamState::Failed:
        return "failed";
    }
    return "unknown";
}

std::string_view portModeName(PortMode mode)
{
    switch (mode) {
    case PortMode::NotSetUp:
        return "none";
    case PortMode::ZeroCopy:
        return "zero-copy";
    case PortMode::Copy:
        return "copy";
    }
    return "unknown";
}

StatsRecord encodeStats(const Stats &s)
{
    StatsRecord r{};
    putLe(&r[0], kVersion, 2);
    putLe(&r[2], kStatsSize, 2);
    r[4] = static_cast<std::uint8_t>(s.state);
    r[5] = static_cast<std::uint8_t>(s.iio);
    r[6] = static_cast<std::uint8_t>(s.usb);
    r[7] = 0;
    putLe(&r[8], s.bytes, 8);
    putLe(&r[16], s.blocks, 8);
    putLe(&r[24], s.overruns, 8);
    putLe(&r[32], s.underruns, 8);
    putLe(&r[40], s.usbErrors, 8);
    putLe(&r[48], s.iioErrors, 8);
    putLe(&r[56], s.runningNs, 8);
    putLe(&r[64], s.shortTransfers, 8);
    return r;
}

std::optional<Stats> decodeStats(std::span<const std::uint8_t> r, std::string *error)
{
    if (r.size() < kStatsMinSize) {
        setError(error, "stats record of " + std::to_string(r.size()) + " bytes (expected " +
                                std::to_string(kStatsMinSize) + ")");
        return std::nullopt;
    }
    const auto version = getLe(&r[0], 2);
    const auto size = getLe(&r[2], 2);
    if (version != kVersion) {
        setError(error, "stats record version " + std::to_string(version) + " (expected " +
                                std::to_string(kVersion) + ")");
        return std::nullopt;
    }
    if (size < kStatsMinSize) {
        setError(error, "stats record says size " + std::to_string(size) +
                                " (expected >= " + std::to_string(kStatsMinSize) + ")");
        return std::nullopt;
    }
    if (r[4] > 2 || r[5] > 2 || r[6] > 2) {
        setError(error, "stats record with unknown state/mode values");
        return std::nullopt;
    }
    Stats s;
    s.state = static_cast<StreamState>(r[4]);
    s.iio = static_cast<PortMode>(r[5]);
    s.usb = static_cast<PortMode>(r[6]);
    s.bytes = getLe(&r[8], 8);
    s.blocks = getLe(&r[16], 8);
    s.overruns = getLe(&r[24], 8);
    s.underruns = getLe(&r[32], 8);
    s.usbErrors = getLe(&r[40], 8);
    s.iioErrors = getLe(&r[48], 8);
    s.runningNs = getLe(&r[56], 8);
    // Appended fields: present when both the record and what was received reach them.
    const std::size_t have = std::min<std::size_t>(r.size(), size);
    if (have >= 72)
        s.shortTransfers = getLe(&r[64], 8);
    return s;
}

MetaBytes encodeMeta(const MetaRecord &m)
{
    MetaBytes r{};
    putLe(&r[0], kMetaVersion, 2);
    putLe(&r[2], kMetaRecordSize, 2);
    r[4] = m.stream;
    r[5] = m.flags;
    putLe(&r[8], m.sequence, 8);
    putLe(&r[16], m.firstSample, 8);
    putLe(&r[24], m.lost, 8);
    putLe(&r[32], m.overruns, 8);
    putLe(&r[40], m.underruns, 8);
    putLe(&r[48], m.completionNs, 8);
    putLe(&r[56], m.bytes, 4);
    putLe(&r[60], m.lostMargin, 4);
    return r;
}

std::optional<MetaRecord> decodeMeta(std::span<const std::uint8_t> r, std::size_t *size,
                                     std::string *error)
{
    if (r.size() < kMetaRecordSize) {
        setError(error, "metadata record of " + std::to_string(r.size()) + " bytes (< " +
                                std::to_string(kMetaRecordSize) + ")");
        return std::nullopt;
    }
    const auto version = getLe(&r[0], 2);
    const auto recordSize = getLe(&r[2], 2);
    if (version != kMetaVersion || recordSize < kMetaRecordSize || recordSize > r.size()) {
        setError(error, "metadata record version " + std::to_string(version) + ", size " +
                                std::to_string(recordSize));
        return std::nullopt;
    }
    MetaRecord m;
    m.stream = r[4];
    m.flags = r[5];
    m.sequence = getLe(&r[8], 8);
    m.firstSample = getLe(&r[16], 8);
    m.lost = getLe(&r[24], 8);
    m.overruns = getLe(&r[32], 8);
    m.underruns = getLe(&r[40], 8);
    m.completionNs = getLe(&r[48], 8);
    m.bytes = static_cast<std::uint32_t>(getLe(&r[56], 4));
    m.lostMargin = static_cast<std::uint32_t>(getLe(&r[60], 4));
    if (size)
        *size = recordSize;
    return m;
}

} // namespace iiousb::proto
