#include "config/Config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <unistd.h>

#include <sys/stat.h>
#include <sys/statfs.h>

#include <yaml-cpp/yaml.h>

namespace iiousb {

namespace {

// Thrown inside this file only; parseConfig() turns it into an Error.
struct ConfigError {
    std::string message;
};

bool isNameChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

// FUNCTIONFS_MAGIC, private to drivers/usb/gadget/function/f_fs.c (6.12).
constexpr long kFunctionFsMagic = 0xa647361;

// "256 MiB", or exact with a rounded figure: "1004580 KiB (about 981.0 MiB)".
std::string formatSize(std::uint64_t bytes)
{
    if (bytes != 0 && bytes % (1ull << 30) == 0)
        return std::to_string(bytes >> 30) + " GiB";
    if (bytes != 0 && bytes % (1ull << 20) == 0)
        return std::to_string(bytes >> 20) + " MiB";
    std::string exact = bytes != 0 && bytes % 1024 == 0 ? std::to_string(bytes >> 10) + " KiB"
                                                        : std::to_string(bytes) + " bytes";
    if (bytes < (1ull << 20))
        return exact;
    const bool giga = bytes >= (1ull << 30);
    char about[48];
    snprintf(about, sizeof(about), " (about %.1f %s)",
             static_cast<double>(bytes) / static_cast<double>(giga ? 1ull << 30 : 1ull << 20),
             giga ? "GiB" : "MiB");
    return exact + about;
}

class Parser {
public:
    Parser(const std::string &path, const SystemFacts &facts) : path_(path), facts_(facts) {}

    Config parse(const YAML::Node &root);

private:
    [[noreturn]] void fail(const YAML::Mark &mark, const std::string &key,
                           const std::string &what) const
    {
        std::ostringstream s;
        s << path_;
        if (!mark.is_null())
            s << ':' << mark.line + 1 << ':' << mark.column + 1;
        s << ": ";
        if (!key.empty())
            s << key << ": ";
        s << what;
        throw ConfigError{s.str()};
    }

    static std::string describe(const YAML::Node &node)
    {
        switch (node.Type()) {
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "'" + node.Scalar() + "'";
        default:
            return "nothing";
        }
    }

    // Checks that `node` is a mapping whose keys are all in `allowed` and unique.
    void checkMap(const YAML::Node &node, const std::string &key,
                  const std::vector<std::string> &allowed) const
    {
        if (!node.IsMap())
            fail(where(node, key), key, "expected a mapping, got " + describe(node));
        std::set<std::string> seen;
        for (const auto &item : node) {
            const YAML::Node &k = item.first;
            if (!k.IsScalar())
                fail(k.Mark(), key, "expected a plain key, got " + describe(k));
            const std::string name = k.Scalar();
            const std::string full = key.empty() ? name : key + "." + name;
            if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                std::string list;
                for (const auto &a : allowed)
                    list += (list.empty() ? "" : ", ") + a;
                fail(k.Mark(), full, "unknown key (expected one of: " + list + ")");
            }
            if (!seen.insert(name).second)
                fail(k.Mark(), full, "duplicate key");
            keyMarks_[full] = k.Mark();
        }
    }

    // Where to point for a value: an empty (null) value has no useful mark of its own
    // (yaml-cpp puts it at the next token), so point at its key.
    YAML::Mark where(const YAML::Node &node, const std::string &key) const
    {
        if (node.IsNull()) {
            if (auto it = keyMarks_.find(key); it != keyMarks_.end())
                return it->second;
        }
        return node.Mark();
    }

    void require(const YAML::Node &map, const std::string &mapKey, const char *name,
                 const std::string &expected) const
    {
        if (!map[name])
            fail(map.Mark(), mapKey.empty() ? std::string(name) : mapKey + "." + name,
                 "missing (expected " + expected + ")");
    }

    std::string scalar(const YAML::Node &node, const std::string &key,
                       const std::string &expected) const
    {
        if (!node.IsScalar())
            fail(where(node, key), key, "expected " + expected + ", got " + describe(node));
        return node.Scalar();
    }

    std::string string(const YAML::Node &node, const std::string &key, std::size_t maxLen,
                       bool allowEmpty = false) const
    {
        const std::string expected = "a string of at most " + std::to_string(maxLen) + " bytes";
        std::string s = scalar(node, key, expected);
        if ((!allowEmpty && s.empty()) || s.size() > maxLen)
            fail(where(node, key), key, "expected " + expected + ", got '" + s + "'");
        return s;
    }

    std::string name(const YAML::Node &node, const std::string &key, std::size_t maxLen) const
    {
        const std::string expected =
                "a name of 1.." + std::to_string(maxLen) + " characters from A-Z a-z 0-9 _ - .";
        std::string s = scalar(node, key, expected);
        if (s.empty() || s.size() > maxLen || !std::all_of(s.begin(), s.end(), isNameChar) ||
            s == "." || s == "..")
            fail(where(node, key), key, "expected " + expected + ", got '" + s + "'");
        return s;
    }

    std::string absolutePath(const YAML::Node &node, const std::string &key) const
    {
        const std::string expected = "an absolute path";
        std::string s = scalar(node, key, expected);
        if (s.size() < 2 || s[0] != '/' || s.find("/../") != std::string::npos ||
            s.ends_with("/..") || s.find('\0') != std::string::npos)
            fail(where(node, key), key, "expected " + expected + " (not '/'), got '" + s + "'");
        return s;
    }

    static bool parseInteger(std::string_view text, std::uint64_t &out)
    {
        int base = 10;
        if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
            base = 16;
            text.remove_prefix(2);
        }
        if (text.empty())
            return false;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
        return ec == std::errc() && ptr == text.data() + text.size();
    }

    std::uint64_t integer(const YAML::Node &node, const std::string &key, std::uint64_t min,
                          std::uint64_t max, bool hex = false) const
    {
        std::ostringstream e;
        e << "an integer " << min << ".." << max;
        if (hex)
            e << " (0x" << std::hex << max << ")";
        const std::string expected = e.str();
        if (!node.IsScalar() || node.Tag() == "!")
            fail(where(node, key), key,
                 "expected " + expected + ", got " + (node.IsScalar() ? "the quoted string " : "") +
                         describe(node));
        std::uint64_t v = 0;
        if (!parseInteger(node.Scalar(), v) || v < min || v > max)
            fail(where(node, key), key, "expected " + expected + ", got " + describe(node));
        return v;
    }

    // An integer with an optional binary suffix: 4096, 64K, 64KiB, 1M, 1MiB.
    // `giga` also allows G and GiB.
    std::uint64_t size(const YAML::Node &node, const std::string &key, std::uint64_t min,
                       std::uint64_t max, bool giga = false) const
    {
        const std::string expected = "a size in bytes " + std::to_string(min) + ".." +
                                     std::to_string(max) + " (suffixes K, KiB, M, MiB" +
                                     (giga ? ", G, GiB" : "") + " allowed)";
        std::string s = scalar(node, key, expected);
        std::uint64_t mult = 1;
        std::string_view num = s;
        for (auto [suffix, m] : {std::pair<std::string_view, std::uint64_t>{"KiB", 1024},
                                 {"MiB", 1 << 20},
                                 {"GiB", 1 << 30},
                                 {"K", 1024},
                                 {"M", 1 << 20},
                                 {"G", 1 << 30}}) {
            if (!giga && suffix.starts_with('G'))
                continue;
            if (num.ends_with(suffix)) {
                num.remove_suffix(suffix.size());
                mult = m;
                break;
            }
        }
        std::uint64_t v = 0;
        if (!parseInteger(num, v) || v > max / mult || v * mult < min)
            fail(where(node, key), key, "expected " + expected + ", got " + describe(node));
        return v * mult;
    }

    // 'all' (nullopt) or a non-empty list of distinct items, each checked by `item`.
    template <typename Item>
    std::optional<std::vector<std::string>>
    allOrList(const YAML::Node &node, const std::string &key, const std::string &items,
              const std::string &what, Item item) const
    {
        const std::string expected = "'all' or a list of " + items;
        if (node.IsScalar()) {
            if (node.Scalar() != "all")
                fail(where(node, key), key, "expected " + expected + ", got " + describe(node));
            return std::nullopt;
        }
        if (!node.IsSequence())
            fail(where(node, key), key, "expected " + expected + ", got " + describe(node));
        if (node.size() == 0)
            fail(where(node, key), key, "expected " + expected + ", got an empty list");
        std::vector<std::string> list;
        for (std::size_t i = 0; i < node.size(); i++) {
            const std::string ik = key + "[" + std::to_string(i) + "]";
            std::string v = item(node[i], ik);
            if (std::find(list.begin(), list.end(), v) != list.end())
                fail(node[i].Mark(), ik, what + " '" + v + "' listed twice");
            list.push_back(std::move(v));
        }
        return list;
    }

    GadgetConfig parseGadget(const YAML::Node &node);
    FunctionFsConfig parseFunctionFs(const YAML::Node &node);
    LibiioConfig parseLibiio(const YAML::Node &node, const FunctionFsConfig &ffs);
    bool boolean(const YAML::Node &node, const std::string &key) const;
    ZeroCopy zeroCopy(const YAML::Node &node, const std::string &key) const;
    LimitsConfig parseLimits(const YAML::Node &node);
    StreamConfig parseStream(const YAML::Node &node, const std::string &key);
    void checkDmabufMemory(const Config &c, const YAML::Node &streams) const;

    const std::string &path_;
    const SystemFacts &facts_;
    mutable std::map<std::string, YAML::Mark> keyMarks_; // full key -> mark of the key
};

GadgetConfig Parser::parseGadget(const YAML::Node &node)
{
    const std::string k = "gadget";
    checkMap(node, k,
             {"name", "vid", "pid", "bcd-device", "manufacturer", "product", "serial", "max-power",
              "udc"});
    require(node, k, "vid", "the USB vendor ID, an integer 0..65535 (0xffff)");
    require(node, k, "pid", "the USB product ID, an integer 0..65535 (0xffff)");
    GadgetConfig g;
    if (node["name"])
        g.name = name(node["name"], k + ".name", 64);
    g.vendorId = static_cast<std::uint16_t>(integer(node["vid"], k + ".vid", 0, 0xffff, true));
    g.productId = static_cast<std::uint16_t>(integer(node["pid"], k + ".pid", 0, 0xffff, true));
    if (node["bcd-device"])
        g.bcdDevice = static_cast<std::uint16_t>(
                integer(node["bcd-device"], k + ".bcd-device", 0, 0xffff, true));
    // String descriptors hold at most 126 UTF-16 code units.
    if (node["manufacturer"])
        g.manufacturer = string(node["manufacturer"], k + ".manufacturer", 126);
    if (node["product"])
        g.product = string(node["product"], k + ".product", 126);
    if (node["serial"])
        g.serial = string(node["serial"], k + ".serial", 126);
    if (node["max-power"])
        g.maxPowerMa = static_cast<unsigned>(integer(node["max-power"], k + ".max-power", 0, 900));
    if (node["udc"]) {
        g.udc = name(node["udc"], k + ".udc", 64);
        if (g.udc == "auto")
            g.udc.clear();
    }
    return g;
}

FunctionFsConfig Parser::parseFunctionFs(const YAML::Node &node)
{
    const std::string k = "functionfs";
    checkMap(node, k, {"instance", "mount", "metadata"});
    FunctionFsConfig f;
    // usb_f_fs limits instance names to 39 characters (MAX_INST_NAME_LEN - 1).
    if (node["instance"])
        f.instance = name(node["instance"], k + ".instance", 39);
    if (node["metadata"])
        f.metadata = boolean(node["metadata"], k + ".metadata");
    if (node["mount"])
        f.mountPoint = absolutePath(node["mount"], k + ".mount");
    return f;
}

bool Parser::boolean(const YAML::Node &node, const std::string &key) const
{
    const std::string v = scalar(node, key, "true or false");
    if (v == "true" || v == "yes" || v == "on")
        return true;
    if (v == "false" || v == "no" || v == "off")
        return false;
    fail(where(node, key), key, "expected true or false, got " + describe(node));
}

ZeroCopy Parser::zeroCopy(const YAML::Node &node, const std::string &key) const
{
    const std::string expected = "auto, require or off";
    // YAML 1.1 readers turn a bare off into a boolean; yaml-cpp keeps the text.
    const std::string v = scalar(node, key, expected);
    if (v == "auto")
        return ZeroCopy::Auto;
    if (v == "require")
        return ZeroCopy::Require;
    if (v == "off")
        return ZeroCopy::Off;
    fail(node.Mark(), key, "expected " + expected + ", got '" + v + "'");
}

LibiioConfig Parser::parseLibiio(const YAML::Node &node, const FunctionFsConfig &ffs)
{
    const std::string k = "libiio";
    checkMap(node, k,
             {"enabled", "pipes", "instance", "mount", "attribute-writes", "debug-attributes",
              "zero-copy", "dmabuf-heap", "buffers", "devices"});
    LibiioConfig l;
    if (node["enabled"])
        l.enabled = boolean(node["enabled"], k + ".enabled");
    if (node["pipes"])
        l.pipes = static_cast<unsigned>(integer(node["pipes"], k + ".pipes", 2, kMaxLibiioPipes));
    if (node["instance"]) {
        l.instance = name(node["instance"], k + ".instance", 39);
        if (l.instance == ffs.instance)
            fail(node["instance"].Mark(), k + ".instance",
                 "'" + l.instance +
                         "' is already functionfs.instance (each function needs "
                         "its own)");
    } else if (l.instance == ffs.instance) {
        fail(node.Mark(), k + ".instance",
             "(default) '" + l.instance + "' is already functionfs.instance");
    }
    if (node["mount"])
        l.mountPoint = absolutePath(node["mount"], k + ".mount");
    if (l.mountPoint == ffs.mountPoint)
        fail(node["mount"] ? node["mount"].Mark() : node.Mark(), k + ".mount",
             "'" + l.mountPoint + "' is already functionfs.mount (each function needs its own)");
    if (l.enabled && facts_.mountPointProblem) {
        if (std::string why = facts_.mountPointProblem(l.mountPoint); !why.empty())
            fail(node["mount"] ? node["mount"].Mark() : node.Mark(), k + ".mount",
                 (node["mount"] ? "" : "(default) ") + why);
    }
    if (node["attribute-writes"])
        l.attributeWrites = boolean(node["attribute-writes"], k + ".attribute-writes");
    if (node["debug-attributes"])
        l.debugAttributes = boolean(node["debug-attributes"], k + ".debug-attributes");
    if (node["zero-copy"])
        l.zeroCopy = zeroCopy(node["zero-copy"], k + ".zero-copy");
    if (node["dmabuf-heap"])
        l.dmabufHeap = absolutePath(node["dmabuf-heap"], k + ".dmabuf-heap");
    if (node["buffers"])
        l.buffers =
                static_cast<unsigned>(integer(node["buffers"], k + ".buffers", 1, kMaxBlockCount));
    if (node["devices"])
        l.devices = allOrList(
                node["devices"], k + ".devices", "IIO device ids (iio:deviceN), names or labels",
                "device",
                [&](const YAML::Node &n, const std::string &key) { return string(n, key, 64); });
    return l;
}

LimitsConfig Parser::parseLimits(const YAML::Node &node)
{
    const std::string k = "limits";
    checkMap(node, k, {"dmabuf-memory"});
    LimitsConfig l;
    if (node["dmabuf-memory"]) {
        l.dmabufMemory =
                size(node["dmabuf-memory"], k + ".dmabuf-memory", 1 << 20, 1ull << 40, true);
        l.dmabufMemoryFromFile = true;
    }
    return l;
}

// DMABUFs from a dma-heap (or udmabuf) are not charged to the service's memory cgroup, so
// MemoryMax= does not bound them: without a cap, one START could take the board's memory.
void Parser::checkDmabufMemory(const Config &c, const YAML::Node &streams) const
{
    const std::uint64_t cap = c.limits.dmabufMemory;
    if (cap == 0)
        return;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < c.streams.size(); i++) {
        total += c.streams[i].blockSize * c.streams[i].blockCount;
        if (total <= cap)
            continue;
        std::string from;
        if (c.limits.dmabufMemoryFromFile) {
            const YAML::Mark &m = keyMarks_.at("limits.dmabuf-memory");
            from = "limits.dmabuf-memory at line " + std::to_string(m.line + 1);
        } else {
            from = "the default: 1/" + std::to_string(kDefaultDmabufMemoryDivisor) +
                   " of MemTotal " + formatSize(facts_.memTotal) + " from " +
                   facts_.memTotalSource + "; set limits.dmabuf-memory to change it";
        }
        fail(streams[i].Mark(), "streams[" + std::to_string(i) + "]",
             "the DMABUFs of streams[0" + (i ? ".." + std::to_string(i) : "") + "] take " +
                     formatSize(total) + " (block-size x block-count, summed), more than the " +
                     formatSize(cap) + " allowed (" + from + ")");
    }
}

StreamConfig Parser::parseStream(const YAML::Node &node, const std::string &k)
{
    checkMap(node, k,
             {"name", "direction", "device", "channels", "attributes", "block-size", "block-count",
              "dmabuf-heap", "zero-copy", "stall-timeout"});
    require(node, k, "name", "the stream's name");
    require(node, k, "direction", "rx or tx");
    require(node, k, "device", "an IIO device id (iio:deviceN), name or label");
    StreamConfig s;
    s.name = name(node["name"], k + ".name", 32);

    const YAML::Node &dir = node["direction"];
    std::string d = scalar(dir, k + ".direction", "rx or tx");
    auto parsed = proto::parseDirection(d);
    if (!parsed)
        fail(dir.Mark(), k + ".direction", "expected rx or tx, got '" + d + "'");
    s.direction = *parsed;

    s.device = string(node["device"], k + ".device", 64);

    if (const YAML::Node &ch = node["channels"])
        s.channels = allOrList(
                ch, k + ".channels", "IIO channel ids (voltage0, ...)", "channel",
                [&](const YAML::Node &n, const std::string &key) { return name(n, key, 64); });

    if (const YAML::Node &attrs = node["attributes"]) {
        const std::string ak = k + ".attributes";
        if (!attrs.IsMap())
            fail(where(attrs, ak), ak,
                 "expected a mapping of IIO attribute names to values, got " + describe(attrs));
        std::set<std::string> seen;
        for (const auto &item : attrs) {
            const std::string attr = name(item.first, ak, 64);
            if (!seen.insert(attr).second)
                fail(item.first.Mark(), ak + "." + attr, "duplicate key");
            std::string value = scalar(item.second, ak + "." + attr, "a value (a scalar)");
            s.attributes.emplace_back(attr, std::move(value));
        }
    }

    if (node["block-size"]) {
        s.blockSize = size(node["block-size"], k + ".block-size", 512, kMaxBlockSize);
        // DMABUFs are whole pages; USB transfers of whole SuperSpeed packets.
        const std::uint64_t unit =
                std::lcm(kBlockSizeUnit, std::max<std::uint64_t>(facts_.pageSize, 1));
        if (s.blockSize % unit != 0)
            fail(node["block-size"].Mark(), k + ".block-size",
                 "expected a multiple of " + std::to_string(unit) + " (whole " +
                         std::to_string(kBlockSizeUnit) + "-byte USB packets and whole " +
                         std::to_string(facts_.pageSize) + "-byte pages), got " +
                         describe(node["block-size"]));
    }
    if (node["block-count"])
        s.blockCount = static_cast<unsigned>(
                integer(node["block-count"], k + ".block-count", 1, kMaxBlockCount));
    if (node["dmabuf-heap"])
        s.dmabufHeap = absolutePath(node["dmabuf-heap"], k + ".dmabuf-heap");
    if (node["zero-copy"])
        s.zeroCopy = zeroCopy(node["zero-copy"], k + ".zero-copy");
    if (node["stall-timeout"])
        s.stallTimeout = std::chrono::seconds(
                integer(node["stall-timeout"], k + ".stall-timeout", 0, kMaxStallTimeoutS));
    return s;
}

Config Parser::parse(const YAML::Node &root)
{
    Config c;
    c.path = path_;
    if (!root.IsDefined() || root.IsNull())
        fail(YAML::Mark::null_mark(), "",
             "empty configuration (expected a mapping with gadget and streams)");
    checkMap(root, "", {"gadget", "functionfs", "libiio", "limits", "streams"});
    require(root, "", "gadget", "a mapping with the USB device settings");
    require(root, "", "streams", "a list of streams");
    c.gadget = parseGadget(root["gadget"]);
    if (root["functionfs"])
        c.functionfs = parseFunctionFs(root["functionfs"]);
    // FunctionFS is mounted over the directory and would hide what is in it (/etc, say):
    // refused here, and again by FfsMount at mount time.
    if (facts_.mountPointProblem) {
        if (std::string why = facts_.mountPointProblem(c.functionfs.mountPoint); !why.empty()) {
            const YAML::Node &ffs = root["functionfs"];
            if (ffs && ffs["mount"])
                fail(ffs["mount"].Mark(), "functionfs.mount", why);
            fail(YAML::Mark::null_mark(), "functionfs.mount", "(default) " + why);
        }
    }
    if (root["libiio"])
        c.libiio = parseLibiio(root["libiio"], c.functionfs);
    if (root["limits"])
        c.limits = parseLimits(root["limits"]);
    if (!c.limits.dmabufMemoryFromFile && facts_.memTotal > 0)
        c.limits.dmabufMemory = facts_.memTotal / kDefaultDmabufMemoryDivisor;

    const YAML::Node &streams = root["streams"];
    if (!streams.IsSequence() || streams.size() == 0 || streams.size() > kMaxStreams)
        fail(where(streams, "streams"), "streams",
             "expected a list of 1.." + std::to_string(kMaxStreams) + " streams, got " +
                     (streams.IsSequence() ? "a list of " + std::to_string(streams.size())
                                           : describe(streams)));
    for (std::size_t i = 0; i < streams.size(); i++) {
        const std::string k = "streams[" + std::to_string(i) + "]";
        StreamConfig s = parseStream(streams[i], k);
        for (std::size_t j = 0; j < c.streams.size(); j++) {
            const StreamConfig &other = c.streams[j];
            if (other.name == s.name)
                fail(streams[i]["name"].Mark(), k + ".name",
                     "stream name '" + s.name + "' used twice");
            // One IIO buffer has one owner. (A name and an id of the same device are told
            // apart only at start, when the second stream finds the device busy.)
            if (other.device == s.device && other.direction == s.direction)
                fail(streams[i]["device"].Mark(), k + ".device",
                     "IIO device '" + s.device + "' already has a " +
                             std::string(proto::directionName(s.direction)) + " stream ('" +
                             other.name + "', streams[" + std::to_string(j) +
                             "]): one IIO buffer has one owner");
        }
        c.streams.push_back(std::move(s));
    }
    checkDmabufMemory(c, streams);
    return c;
}

} // namespace

std::string_view zeroCopyName(ZeroCopy mode)
{
    switch (mode) {
    case ZeroCopy::Auto:
        return "auto";
    case ZeroCopy::Require:
        return "require";
    case ZeroCopy::Off:
        return "off";
    }
    return "?";
}

std::string localMountPointProblem(const std::string &path)
{
    struct stat st;
    // Missing: the daemon creates it. Not reachable (a file on the way, no permission to
    // look): left to the mount, which says why.
    if (::stat(path.c_str(), &st) < 0)
        return "";
    if (!S_ISDIR(st.st_mode))
        return "'" + path + "' exists and is not a directory";
    // A running daemon's own FunctionFS (a reload) or a killed one's (unmounted at start).
    struct statfs fs;
    if (::statfs(path.c_str(), &fs) == 0 && fs.f_type == kFunctionFsMagic)
        return "";
    std::error_code ec;
    std::filesystem::directory_iterator it(path, ec);
    if (ec || it == std::filesystem::directory_iterator())
        return "";
    return "'" + path +
           "' is a directory with files in it (expected a missing or empty directory: "
           "FunctionFS is mounted over it)";
}

SystemFacts SystemFacts::local()
{
    SystemFacts f;
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        // "MemTotal:        1004580 kB"
        std::istringstream s(line);
        std::string key, unit;
        std::uint64_t value = 0;
        if (s >> key >> value >> unit && key == "MemTotal:" && unit == "kB") {
            f.memTotal = value * 1024;
            f.memTotalSource = "/proc/meminfo";
            break;
        }
    }
    const long page = sysconf(_SC_PAGESIZE);
    if (page > 0)
        f.pageSize = static_cast<std::uint64_t>(page);
    f.mountPointProblem = localMountPointProblem;
    return f;
}

Result<Config> parseConfig(std::string_view text, const std::string &path, const SystemFacts &facts)
{
    try {
        YAML::Node root = YAML::Load(std::string(text));
        return Parser(path, facts).parse(root);
    } catch (const ConfigError &e) {
        return makeError(-EINVAL, e.message);
    } catch (const YAML::Exception &e) {
        std::ostringstream s;
        s << path;
        if (!e.mark.is_null())
            s << ':' << e.mark.line + 1 << ':' << e.mark.column + 1;
        s << ": YAML syntax error: " << e.msg;
        return makeError(-EINVAL, s.str());
    } catch (const std::exception &e) {
        return makeError(-EINVAL, path + ": " + e.what());
    }
}

Result<Config> loadConfig(const std::string &path, const SystemFacts &facts)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return errnoError(errno ? errno : ENOENT, path + ": cannot read the configuration");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        return errnoError(errno ? errno : EIO, path + ": cannot read the configuration");
    return parseConfig(text.str(), path, facts);
}

} // namespace iiousb
