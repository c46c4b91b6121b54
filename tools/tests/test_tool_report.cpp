// The tool's side of the protocol: decoding what the device sends (through the shared
// iiousb_protocol library) and presenting it.
#include <string>

#include <gtest/gtest.h>

#include "Format.h"
#include "Report.h"
#include "protocol/Protocol.h"

using namespace iiousb::tool;
namespace proto = iiousb::proto;

namespace {

// The example of docs/protocol.md, with a line kind and a key from the future.
const char *const kInfoText = "iiousb 1\n"
                              "device serial=0001 streams=2 colour=blue\n"
                              "stream 0 name=rx0 dir=rx ep=0x81 iio=iio-sim-adc block=1048576 "
                              "blocks=4 rate=1000000 sample-bytes=8 channels=4\n"
                              "channel 0 0 voltage0 le:s16/16>>0\n"
                              "channel 0 1 voltage1 le:s16/16>>0\n"
                              "channel 0 2 voltage2 le:s16/16>>0\n"
                              "channel 0 3 voltage3 le:s16/16>>0\n"
                              "gizmo 7\n"
                              "stream 1 name=tx0 dir=tx ep=0x02 iio=iio-sim-dac block=1048576 "
                              "blocks=4 rate=0 sample-bytes=4 channels=2\n"
                              "channel 1 0 voltage0 le:s16/16>>0\n"
                              "channel 1 1 voltage2 le:s16/16>>0\n";

proto::DeviceInfo exampleInfo()
{
    std::string error;
    auto info = proto::parseInfo(kInfoText, &error);
    EXPECT_TRUE(info) << error;
    return info.value_or(proto::DeviceInfo{});
}

UsbSummary exampleUsb()
{
    UsbSummary usb;
    usb.bus = 1;
    usb.address = 3;
    usb.vendor = 0x1d6b;
    usb.product = 0x0104;
    usb.speed = "high (480 Mbit/s)";
    usb.serial = "0001";
    usb.interfaceNumber = 0;
    return usb;
}

} // namespace

TEST(Report, InfoTextDecodesAndPrints)
{
    const proto::DeviceInfo info = exampleInfo();
    ASSERT_EQ(info.streams.size(), 2u);
    const std::string text = infoText(info, exampleUsb());
    EXPECT_NE(text.find("iiousb device 0001 (protocol 1)"), std::string::npos) << text;
    EXPECT_NE(text.find("1d6b:0104"), std::string::npos);
    EXPECT_NE(text.find("stream 0 \"rx0\": rx"), std::string::npos);
    EXPECT_NE(text.find("endpoint 0x81"), std::string::npos);
    EXPECT_NE(text.find("4 blocks of 1.00 MiB"), std::string::npos);
    EXPECT_NE(text.find("rate 1000000 Hz (8.0 MB/s)"), std::string::npos) << text;
    EXPECT_NE(text.find("voltage3 (le:s16/16>>0)"), std::string::npos);
    EXPECT_NE(text.find("stream 1 \"tx0\": tx"), std::string::npos);
    EXPECT_NE(text.find("rate n/a"), std::string::npos);
}

TEST(Report, InfoJson)
{
    const std::string json = infoJson(exampleInfo(), exampleUsb());
    EXPECT_EQ(json.rfind("{\"protocol\":1,\"serial\":\"0001\",\"usb\":{\"bus\":1,", 0), 0u) << json;
    EXPECT_NE(json.find("\"id\":\"1d6b:0104\""), std::string::npos);
    EXPECT_NE(json.find("{\"index\":0,\"name\":\"rx0\",\"dir\":\"rx\",\"endpoint\":129,"),
              std::string::npos)
            << json;
    EXPECT_NE(json.find("\"block_bytes\":1048576"), std::string::npos);
    EXPECT_NE(json.find("{\"index\":1,\"id\":\"voltage2\",\"format\":\"le:s16/16>>0\"}"),
              std::string::npos);
    EXPECT_EQ(json.back(), '\n');
    // Balanced brackets (a cheap well-formedness check).
    int depth = 0;
    for (char c : json) {
        depth += (c == '{' || c == '[') - (c == '}' || c == ']');
        ASSERT_GE(depth, 0);
    }
    EXPECT_EQ(depth, 0);
}

TEST(Report, MalformedInfoIsRefused)
{
    std::string error;
    EXPECT_FALSE(proto::parseInfo("iiousb 2\ndevice serial=1 streams=0\n", &error));
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(proto::parseInfo("hello\n", &error));
}

TEST(Report, StatsRecordDecodesAndPrints)
{
    proto::Stats stats;
    stats.state = proto::StreamState::Running;
    stats.iio = proto::PortMode::ZeroCopy;
    stats.usb = proto::PortMode::Copy;
    stats.bytes = 123456789;
    stats.blocks = 118;
    stats.overruns = 2;
    stats.usbErrors = 1;
    stats.runningNs = 2'000'000'000;
    stats.shortTransfers = 3;
    const proto::StatsRecord record = proto::encodeStats(stats);
    auto decoded = proto::decodeStats(record);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, stats);
    // A short reply is refused.
    EXPECT_FALSE(proto::decodeStats(std::span<const std::uint8_t>(record.data(), 10)));

    const proto::DeviceInfo info = exampleInfo();
    const std::vector<StreamStats> rows = {{&info.streams[0], *decoded}};
    const std::string text = statsText(rows);
    EXPECT_NE(text.find("stream 0 \"rx0\" (rx): running, IIO zero-copy, USB copy"),
              std::string::npos)
            << text;
    EXPECT_NE(text.find("123 MB (123456789 bytes) in 118 blocks, running 2.0 s, 61.7 MB/s"),
              std::string::npos)
            << text;
    EXPECT_NE(text.find("overruns 2"), std::string::npos);
    EXPECT_NE(text.find("failed USB transfers 1"), std::string::npos);
    EXPECT_NE(text.find("short USB transfers 3"), std::string::npos) << text;

    const std::string json = statsJson(rows);
    EXPECT_NE(json.find("\"state\":\"running\",\"iio\":\"zero-copy\",\"usb\":\"copy\""),
              std::string::npos)
            << json;
    EXPECT_NE(json.find("\"bytes\":123456789"), std::string::npos);
    EXPECT_NE(json.find("\"running_ns\":2000000000"), std::string::npos);
}

TEST(Report, ListShowsStreamsOrWhyNot)
{
    ListEntry ok;
    ok.usb = exampleUsb();
    ok.protocol = 1;
    ok.info = exampleInfo();
    ListEntry denied;
    denied.usb = exampleUsb();
    denied.usb.serial.clear();
    denied.usb.address = 4;
    denied.endpoints = 2;
    denied.problem = "no access";
    const std::string text = listText({ok, denied});
    EXPECT_NE(text.find("SERIAL"), std::string::npos);
    EXPECT_NE(text.find("0001             001:003  1d6b:0104  high (480 Mbit/s)  rx0 (rx 0x81), "
                        "tx0 (tx 0x02)"),
              std::string::npos)
            << text;
    EXPECT_NE(text.find("2 endpoint(s); no access"), std::string::npos) << text;
    const std::string json = listJson({ok, denied});
    EXPECT_NE(json.find("\"streams\":null,\"problem\":\"no access\""), std::string::npos) << json;
}

TEST(Report, StreamsByNameOrIndex)
{
    const proto::DeviceInfo info = exampleInfo();
    EXPECT_EQ(findStream(info, "rx0"), &info.streams[0]);
    EXPECT_EQ(findStream(info, "1"), &info.streams[1]);
    EXPECT_EQ(findStream(info, "tx0"), &info.streams[1]);
    EXPECT_EQ(findStream(info, "2"), nullptr);
    EXPECT_EQ(findStream(info, "nope"), nullptr);
    EXPECT_EQ(findStream(info, ""), nullptr);
}

TEST(Report, ChannelScanIndex)
{
    EXPECT_EQ(channelScanIndex("voltage0"), 0u);
    EXPECT_EQ(channelScanIndex("voltage15"), 15u);
    EXPECT_EQ(channelScanIndex("altvoltage3"), 3u);
    EXPECT_FALSE(channelScanIndex("timestamp"));
    EXPECT_FALSE(channelScanIndex(""));
}

TEST(Format, Units)
{
    EXPECT_EQ(formatBytes(0), "0 B");
    EXPECT_EQ(formatBytes(999), "999 B");
    EXPECT_EQ(formatBytes(1500), "1.50 kB");
    EXPECT_EQ(formatBytes(123456789), "123 MB");
    EXPECT_EQ(formatBytesBinary(262144), "256 KiB");
    EXPECT_EQ(formatBytesBinary(1u << 20), "1.00 MiB");
    EXPECT_EQ(formatRate(12345678), "12.3 MB/s");
    EXPECT_EQ(jsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}
