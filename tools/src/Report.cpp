#include "Report.h"

#include <charconv>
#include <cstdio>

#include "DeviceFinder.h"
#include "Format.h"

namespace iiousb::tool {

namespace {

std::string hex8(unsigned value)
{
    char buf[8];
    std::snprintf(buf, sizeof(buf), "0x%02x", value);
    return buf;
}

std::string seconds(std::uint64_t ns)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(ns) / 1e9);
    return buf;
}

std::string usbJson(const UsbSummary &usb)
{
    return "{\"bus\":" + std::to_string(usb.bus) + ",\"address\":" + std::to_string(usb.address) +
           ",\"id\":" + jsonString(usbIdText(usb.vendor, usb.product)) +
           ",\"speed\":" + jsonString(usb.speed) + ",\"serial\":" + jsonString(usb.serial) +
           ",\"interface\":" + std::to_string(usb.interfaceNumber) + "}";
}

std::string streamJson(const proto::StreamInfo &s)
{
    std::string out =
            "{\"index\":" + std::to_string(s.index) + ",\"name\":" + jsonString(s.name) +
            ",\"dir\":" + jsonString(proto::directionName(s.dir)) +
            ",\"endpoint\":" + std::to_string(s.endpoint) + ",\"iio\":" + jsonString(s.iio) +
            ",\"block_bytes\":" + std::to_string(s.blockBytes) +
            ",\"blocks\":" + std::to_string(s.blocks) + ",\"rate\":" + std::to_string(s.rate) +
            ",\"sample_bytes\":" + std::to_string(s.sampleBytes) + ",\"channels\":[";
    for (std::size_t i = 0; i < s.channels.size(); ++i) {
        const proto::ChannelInfo &c = s.channels[i];
        out += (i ? "," : "") + std::string("{\"index\":") + std::to_string(c.index) +
               ",\"id\":" + jsonString(c.id) + ",\"format\":" + jsonString(c.format) + "}";
    }
    return out + "]}";
}

std::string streamsJson(const proto::DeviceInfo &info)
{
    std::string out = "[";
    for (std::size_t i = 0; i < info.streams.size(); ++i)
        out += (i ? "," : "") + streamJson(info.streams[i]);
    return out + "]";
}

std::string statsObjectJson(const StreamStats &s)
{
    const proto::Stats &st = s.stats;
    return "{\"index\":" + std::to_string(s.stream->index) +
           ",\"name\":" + jsonString(s.stream->name) +
           ",\"dir\":" + jsonString(proto::directionName(s.stream->dir)) +
           ",\"state\":" + jsonString(proto::stateName(st.state)) +
           ",\"iio\":" + jsonString(proto::portModeName(st.iio)) +
           ",\"usb\":" + jsonString(proto::portModeName(st.usb)) +
           ",\"bytes\":" + std::to_string(st.bytes) + ",\"blocks\":" + std::to_string(st.blocks) +
           ",\"overruns\":" + std::to_string(st.overruns) +
           ",\"underruns\":" + std::to_string(st.underruns) +
           ",\"usb_errors\":" + std::to_string(st.usbErrors) +
           ",\"iio_errors\":" + std::to_string(st.iioErrors) +
           ",\"short_transfers\":" + std::to_string(st.shortTransfers) +
           ",\"running_ns\":" + std::to_string(st.runningNs) + "}";
}

} // namespace

std::string infoText(const proto::DeviceInfo &info, const UsbSummary &usb)
{
    std::string out = "iiousb device " + (info.serial.empty() ? usb.serial : info.serial) +
                      " (protocol " + std::to_string(info.version) + ")\n";
    char line[160];
    std::snprintf(line, sizeof(line), "  usb: bus %u device %u, %s, %s speed, interface %d\n",
                  usb.bus, usb.address, usbIdText(usb.vendor, usb.product).c_str(),
                  usb.speed.c_str(), usb.interfaceNumber);
    out += line;
    out += "  streams: " + std::to_string(info.streams.size()) + "\n";
    if (info.metaEndpoint)
        out += "  metadata: endpoint " + hex8(info.metaEndpoint) + ", records version " +
               std::to_string(info.metaVersion) + " (per-block gaps and times)\n";
    for (const proto::StreamInfo &s : info.streams) {
        out += "  stream " + std::to_string(s.index) + " \"" + s.name +
               "\": " + std::string(proto::directionName(s.dir)) + " (" +
               (s.dir == proto::Direction::Rx ? "device to host" : "host to device") +
               "), endpoint " + hex8(s.endpoint) + ", IIO device " + s.iio + "\n";
        out += "    " + std::to_string(s.blocks) + " blocks of " + formatBytesBinary(s.blockBytes) +
               " (" + std::to_string(s.blockBytes) + " bytes), " + std::to_string(s.sampleBytes) +
               " bytes per sample set, rate " +
               (s.rate ? std::to_string(s.rate) + " Hz" : std::string("n/a"));
        if (s.rate && s.sampleBytes)
            out += " (" + formatRate(static_cast<double>(s.rate) * s.sampleBytes) + ")";
        out += "\n    channels:";
        if (s.channels.empty())
            out += " none";
        for (const proto::ChannelInfo &c : s.channels)
            out += " " + c.id + " (" + c.format + ")";
        out += "\n";
    }
    return out;
}

std::string infoJson(const proto::DeviceInfo &info, const UsbSummary &usb)
{
    return "{\"protocol\":" + std::to_string(info.version) +
           ",\"serial\":" + jsonString(info.serial) + ",\"usb\":" + usbJson(usb) +
           (info.metaEndpoint ? ",\"meta_endpoint\":" + std::to_string(info.metaEndpoint) +
                                        ",\"meta_version\":" + std::to_string(info.metaVersion)
                              : std::string()) +
           ",\"streams\":" + streamsJson(info) + "}\n";
}

std::string statsText(const std::vector<StreamStats> &streams)
{
    std::string out;
    for (const StreamStats &s : streams) {
        const proto::Stats &st = s.stats;
        out += "stream " + std::to_string(s.stream->index) + " \"" + s.stream->name + "\" (" +
               std::string(proto::directionName(s.stream->dir)) +
               "): " + std::string(proto::stateName(st.state)) + ", IIO " +
               std::string(proto::portModeName(st.iio)) + ", USB " +
               std::string(proto::portModeName(st.usb)) + "\n";
        out += "  moved " + formatBytes(st.bytes) + " (" + std::to_string(st.bytes) +
               " bytes) in " + std::to_string(st.blocks) + " blocks, running " +
               seconds(st.runningNs);
        if (st.runningNs > 0)
            out += ", " + formatRate(static_cast<double>(st.bytes) * 1e9 /
                                     static_cast<double>(st.runningNs));
        out += "\n  overruns " + std::to_string(st.overruns) + ", underruns " +
               std::to_string(st.underruns) + ", failed USB transfers " +
               std::to_string(st.usbErrors) + ", failed IIO blocks " +
               std::to_string(st.iioErrors) + ", short USB transfers " +
               std::to_string(st.shortTransfers) + "\n";
    }
    return out;
}

std::string statsJson(const std::vector<StreamStats> &streams)
{
    std::string out = "[";
    for (std::size_t i = 0; i < streams.size(); ++i)
        out += (i ? "," : "") + statsObjectJson(streams[i]);
    return out + "]\n";
}

std::string listText(const std::vector<ListEntry> &entries)
{
    std::string out;
    char line[256];
    std::snprintf(line, sizeof(line), "%-16s %-8s %-10s %-18s %s\n", "SERIAL", "BUS:DEV", "VID:PID",
                  "SPEED", "STREAMS");
    out += line;
    for (const ListEntry &e : entries) {
        std::string streams;
        if (e.info) {
            for (const proto::StreamInfo &s : e.info->streams)
                streams += (streams.empty() ? "" : ", ") + s.name + " (" +
                           std::string(proto::directionName(s.dir)) + " " + hex8(s.endpoint) + ")";
            if (streams.empty())
                streams = "none";
        } else {
            streams = std::to_string(e.endpoints) + " endpoint(s); " + e.problem;
        }
        char busdev[16];
        std::snprintf(busdev, sizeof(busdev), "%03u:%03u", e.usb.bus, e.usb.address);
        std::snprintf(line, sizeof(line), "%-16s %-8s %-10s %-18s ",
                      e.usb.serial.empty() ? "-" : e.usb.serial.c_str(), busdev,
                      usbIdText(e.usb.vendor, e.usb.product).c_str(), e.usb.speed.c_str());
        out += line + streams + "\n";
    }
    return out;
}

std::string listJson(const std::vector<ListEntry> &entries)
{
    std::string out = "[";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const ListEntry &e = entries[i];
        out += (i ? "," : "") + std::string("{\"usb\":") + usbJson(e.usb) +
               ",\"protocol\":" + std::to_string(e.protocol);
        if (e.info)
            out += ",\"streams\":" + streamsJson(*e.info);
        else
            out += ",\"streams\":null,\"problem\":" + jsonString(e.problem);
        out += "}";
    }
    return out + "]\n";
}

const proto::StreamInfo *findStream(const proto::DeviceInfo &info, std::string_view key)
{
    for (const proto::StreamInfo &s : info.streams)
        if (s.name == key)
            return &s;
    unsigned index = 0;
    auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), index, 10);
    if (!key.empty() && ec == std::errc() && ptr == key.data() + key.size())
        for (const proto::StreamInfo &s : info.streams)
            if (s.index == index)
                return &s;
    return nullptr;
}

std::optional<unsigned> channelScanIndex(std::string_view id)
{
    std::size_t end = id.size();
    std::size_t begin = end;
    while (begin > 0 && id[begin - 1] >= '0' && id[begin - 1] <= '9')
        --begin;
    if (begin == end)
        return std::nullopt;
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(id.data() + begin, id.data() + end, value, 10);
    if (ec != std::errc())
        return std::nullopt;
    return value;
}

} // namespace iiousb::tool
