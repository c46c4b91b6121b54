// The protocol library (daemon/protocol): request decoding, the GET_INFO text, the
// GET_STATS record, IIO scan formats; and the scan layout the daemon reports.
#include "protocol/Protocol.h"

#include <string>

#include <gtest/gtest.h>

#include "iio/IioContext.h"

using namespace iiousb;
using namespace iiousb::proto;

namespace {

SetupPacket setup(std::uint8_t type, std::uint8_t request, std::uint16_t value,
                  std::uint16_t length, std::uint16_t index = 0)
{
    return SetupPacket{type, request, value, index, length};
}

DeviceInfo sampleInfo()
{
    DeviceInfo info;
    info.serial = "0001";
    StreamInfo rx;
    rx.index = 0;
    rx.name = "rx0";
    rx.dir = Direction::Rx;
    rx.endpoint = 0x81;
    rx.iio = "iio-sim-adc";
    rx.blockBytes = 1048576;
    rx.blocks = 4;
    rx.rate = 1000000;
    rx.sampleBytes = 8;
    for (unsigned i = 0; i < 4; i++)
        rx.channels.push_back({i, "voltage" + std::to_string(i), "le:s16/16>>0"});
    StreamInfo tx = rx;
    tx.index = 1;
    tx.name = "tx0";
    tx.dir = Direction::Tx;
    tx.endpoint = 0x02;
    tx.iio = "iio-sim-dac";
    tx.rate = 0;
    tx.channels.resize(1);
    tx.sampleBytes = 2;
    info.streams = {rx, tx};
    return info;
}

const char *kSampleText =
        "iiousb 1\n"
        "device serial=0001 streams=2\n"
        "stream 0 name=rx0 dir=rx ep=0x81 iio=iio-sim-adc block=1048576 blocks=4 rate=1000000 "
        "sample-bytes=8 channels=4\n"
        "channel 0 0 voltage0 le:s16/16>>0\n"
        "channel 0 1 voltage1 le:s16/16>>0\n"
        "channel 0 2 voltage2 le:s16/16>>0\n"
        "channel 0 3 voltage3 le:s16/16>>0\n"
        "stream 1 name=tx0 dir=tx ep=0x02 iio=iio-sim-dac block=1048576 blocks=4 rate=0 "
        "sample-bytes=2 channels=1\n"
        "channel 1 0 voltage0 le:s16/16>>0\n";

} // namespace

// --- Requests ---------------------------------------------------------------------------

TEST(Requests, Constants)
{
    EXPECT_EQ(kInterfaceClass, 0xff);
    EXPECT_EQ(kInterfaceSubClass, 0x49);
    EXPECT_EQ(kInterfaceProtocol, 0x01);
    EXPECT_EQ(endpointAddress(0, Direction::Rx), 0x81);
    EXPECT_EQ(endpointAddress(1, Direction::Tx), 0x02);
    EXPECT_EQ(endpointAddress(14, Direction::Rx), 0x8f);
}

TEST(Requests, ValidOnes)
{
    auto r = decodeRequest(setup(0xc1, 0x01, 123, 4096), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, RequestCode::GetInfo);
    EXPECT_EQ(r->value, 123);
    EXPECT_EQ(r->length, 4096);
    EXPECT_TRUE(r->in());

    r = decodeRequest(setup(0x41, 0x02, 1, 0), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, RequestCode::Start);
    EXPECT_FALSE(r->in());

    r = decodeRequest(setup(0x41, 0x03, 0, 0), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, RequestCode::Stop);

    r = decodeRequest(setup(0xc1, 0x04, 1, 64), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, RequestCode::GetStats);
    r = decodeRequest(setup(0xc1, 0x04, 1, 512), 0, 2); // >= 64
    ASSERT_TRUE(r);

    // Another interface number (as the device sees it).
    r = decodeRequest(setup(0xc1, 0x01, 0, 1, 3), 3, 1);
    ASSERT_TRUE(r);
}

TEST(Requests, MalformedOnesSayWhy)
{
    struct Case {
        SetupPacket s;
        const char *why;
    } cases[] = {
            {setup(0xc1, 0x7f, 0, 64), "unknown bRequest 0x7f"},
            {setup(0x41, 0x00, 0, 0), "unknown bRequest 0x00"},
            {setup(0xc0, 0x01, 0, 64),
             "not a vendor request to the interface (bmRequestType 0xc0)"},
            {setup(0xa1, 0x01, 0, 64),
             "not a vendor request to the interface (bmRequestType 0xa1)"},
            {setup(0xc2, 0x01, 0, 64),
             "not a vendor request to the interface (bmRequestType 0xc2)"},
            {setup(0xc1, 0x01, 0, 64, 1), "wIndex 1 is not interface 0"},
            {setup(0x41, 0x01, 0, 0), "GET_INFO: wrong direction (OUT)"},
            {setup(0xc1, 0x01, 0, 0), "GET_INFO: wLength 0 not in 1..4096"},
            {setup(0xc1, 0x01, 0, 4097), "GET_INFO: wLength 4097 not in 1..4096"},
            {setup(0xc1, 0x02, 0, 0), "START: wrong direction (IN)"},
            {setup(0x41, 0x02, 0, 4), "START: wLength 4 != 0"},
            {setup(0x41, 0x02, 2, 0), "START: no stream 2 (2 streams)"},
            {setup(0x41, 0x03, 0xffff, 0), "STOP: no stream 65535 (2 streams)"},
            {setup(0x41, 0x04, 0, 64), "GET_STATS: wrong direction (OUT)"},
            {setup(0xc1, 0x04, 0, 63), "GET_STATS: wLength 63 < 64"},
            {setup(0xc1, 0x04, 2, 64), "GET_STATS: no stream 2 (2 streams)"},
    };
    for (const auto &c : cases) {
        std::string error;
        EXPECT_FALSE(decodeRequest(c.s, 0, 2, &error));
        EXPECT_EQ(error, c.why);
    }
    // No error string wanted: still a clean nullopt.
    EXPECT_FALSE(decodeRequest(setup(0xc1, 0x7f, 0, 64), 0, 2));
}

TEST(Requests, EncodeMatchesDecode)
{
    for (auto code :
         {RequestCode::GetInfo, RequestCode::Start, RequestCode::Stop, RequestCode::GetStats}) {
        const bool in = code == RequestCode::GetInfo || code == RequestCode::GetStats;
        SetupPacket s = encodeRequest(code, 1, in ? 64 : 0, 2);
        EXPECT_EQ(s.requestType, in ? 0xc1 : 0x41);
        EXPECT_EQ(s.index, 2);
        auto r = decodeRequest(s, 2, 2);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, code);
        EXPECT_EQ(r->value, 1);
    }
}

// --- GET_INFO ---------------------------------------------------------------------------

TEST(Info, EncodesTheDocumentedText)
{
    EXPECT_EQ(encodeInfo(sampleInfo()), kSampleText);
}

TEST(Info, RoundTrip)
{
    std::string error;
    auto info = parseInfo(kSampleText, &error);
    ASSERT_TRUE(info) << error;
    EXPECT_EQ(info->version, 1u);
    EXPECT_EQ(info->serial, "0001");
    ASSERT_EQ(info->streams.size(), 2u);
    const StreamInfo &s = info->streams[0];
    EXPECT_EQ(s.name, "rx0");
    EXPECT_EQ(s.dir, Direction::Rx);
    EXPECT_EQ(s.endpoint, 0x81);
    EXPECT_EQ(s.iio, "iio-sim-adc");
    EXPECT_EQ(s.blockBytes, 1048576u);
    EXPECT_EQ(s.blocks, 4u);
    EXPECT_EQ(s.rate, 1000000u);
    EXPECT_EQ(s.sampleBytes, 8u);
    ASSERT_EQ(s.channels.size(), 4u);
    EXPECT_EQ(s.channels[3].index, 3u);
    EXPECT_EQ(s.channels[3].id, "voltage3");
    EXPECT_EQ(s.channels[3].format, "le:s16/16>>0");
    EXPECT_EQ(info->streams[1].dir, Direction::Tx);
    EXPECT_EQ(info->streams[1].endpoint, 0x02);
    EXPECT_EQ(encodeInfo(*info), kSampleText);
}

TEST(Info, IgnoresUnknownKeysAndLines)
{
    const char *text = "iiousb 1\n"
                       "device serial=7 streams=1 vendor=acme\n"
                       "future-line 1 2 3\n"
                       "stream 0 name=a dir=tx ep=0x01 iio=dac block=4096 blocks=2 rate=5 "
                       "sample-bytes=4 channels=1 new-key=x\n"
                       "channel 0 0 altvoltage0 be:u12/16>>4 extra\n"
                       "\n";
    std::string error;
    auto info = parseInfo(text, &error);
    ASSERT_TRUE(info) << error;
    EXPECT_EQ(info->serial, "7");
    ASSERT_EQ(info->streams.size(), 1u);
    EXPECT_EQ(info->streams[0].channels[0].format, "be:u12/16>>4");
}

TEST(Info, SanitizesValues)
{
    DeviceInfo info;
    info.serial = "a b=c";
    StreamInfo s;
    s.name = "my stream";
    s.iio = "";
    info.streams.push_back(s);
    const std::string text = encodeInfo(info);
    EXPECT_NE(text.find("device serial=a_b_c streams=1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("name=my_stream "), std::string::npos) << text;
    EXPECT_NE(text.find("iio=- "), std::string::npos) << text;
    EXPECT_TRUE(parseInfo(text));
}

TEST(Info, Errors)
{
    struct Case {
        const char *text;
        const char *error;
    } cases[] = {
            {"", "line 0: empty info text"},
            {"hello 1\n", "line 1: expected 'iiousb VERSION' as the first line"},
            {"iiousb 2\ndevice streams=0\n",
             "line 1: protocol version 2 is not supported (this is version 1)"},
            {"iiousb 1\n", "line 0: no device line"},
            {"iiousb 1\ndevice serial=1\n", "line 2: device line without a valid streams=N"},
            {"iiousb 1\ndevice streams=2\n",
             "line 0: device says streams=2 but there are 0 stream lines"},
            {"iiousb 1\ndevice streams=1\nstream 1 name=a\n",
             "line 3: stream 1 out of order (expected 0)"},
            {"iiousb 1\ndevice streams=1\nstream 0 name=a dir=up\n",
             "line 3: stream 0: dir= must be rx or tx"},
            {"iiousb 1\ndevice streams=1\nstream 0 name=a dir=rx ep=81 iio=x block=1 blocks=1 "
             "rate=0 sample-bytes=2 channels=0\n",
             "line 3: stream 0: bad ep="},
            {"iiousb 1\ndevice streams=1\nstream 0 name=a dir=rx ep=0x81 iio=x block=1 blocks=1 "
             "rate=0 sample-bytes=2 channels=2\nchannel 0 0 v0 le:s16/16>>0\n",
             "line 0: stream 0 says channels=2 but there are 1 channel lines"},
            {"iiousb 1\ndevice streams=1\nstream 0 name=a dir=rx ep=0x81 iio=x block=1 blocks=1 "
             "rate=0 sample-bytes=2 channels=1\nchannel 0 1 v0 le:s16/16>>0\n",
             "line 4: channel 1 of stream 0 out of order"},
            {"iiousb 1\ndevice streams=0\nchannel 0 0 v0 le:s16/16>>0\n",
             "line 3: channel of unknown stream 0"},
    };
    for (const auto &c : cases) {
        std::string error;
        EXPECT_FALSE(parseInfo(c.text, &error)) << c.text;
        EXPECT_EQ(error, c.error) << c.text;
    }
}

TEST(Info, Slices)
{
    const std::string text = kSampleText;
    EXPECT_EQ(infoSlice(text, 0, 4096), text);
    EXPECT_EQ(infoSlice(text, 0, 6), "iiousb");
    EXPECT_EQ(infoSlice(text, 7, 1), "1");
    EXPECT_EQ(infoSlice(text, static_cast<std::uint16_t>(text.size() - 1), 64), "\n");
    EXPECT_EQ(infoSlice(text, static_cast<std::uint16_t>(text.size()), 64), "");
    EXPECT_EQ(infoSlice(text, 0xffff, 64), "");
    // Reassembling slices of any size gives the text back.
    for (std::uint16_t slice : {1, 7, 64, 100}) {
        std::string all;
        std::uint16_t offset = 0;
        for (;;) {
            auto part = infoSlice(text, offset, slice);
            all += part;
            offset = static_cast<std::uint16_t>(offset + part.size());
            if (part.size() < slice)
                break;
        }
        EXPECT_EQ(all, text) << "slice " << slice;
    }
}

TEST(ScanFormats, ParseAndFormat)
{
    auto f = parseScanFormat("le:s16/16>>0");
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->bigEndian);
    EXPECT_TRUE(f->isSigned);
    EXPECT_EQ(f->bits, 16u);
    EXPECT_EQ(f->storageBits, 16u);
    EXPECT_EQ(f->shift, 0u);
    EXPECT_EQ(f->repeat, 1u);
    EXPECT_EQ(f->bytes(), 2u);

    f = parseScanFormat("be:u12/16>>4");
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->bigEndian);
    EXPECT_FALSE(f->isSigned);
    EXPECT_EQ(f->bits, 12u);
    EXPECT_EQ(f->shift, 4u);

    f = parseScanFormat("le:s16/16X2>>0");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->repeat, 2u);
    EXPECT_EQ(f->bytes(), 4u);

    for (const char *s : {"le:s16/16>>0", "be:u12/16>>4", "le:s16/16X2>>0", "le:s64/64>>0"})
        EXPECT_EQ(formatScanFormat(*parseScanFormat(s)), s);
    for (const char *s :
         {"", "le", "xx:s16/16>>0", "le:x16/16>>0", "le:s16/16", "le:s16>>0", "le:s17/12>>0",
          "le:s16/15>>0", "le:s16/16>>16", "le:s16/16X0>>0", "le:s/16>>0"})
        EXPECT_FALSE(parseScanFormat(s)) << s;
}

TEST(ScanLayout, LikeTheKernel)
{
    auto fmt = [](const char *s) { return *parseScanFormat(s); };
    const auto s16 = fmt("le:s16/16>>0"), s64 = fmt("le:s64/64>>0"), u8 = fmt("le:u8/8>>0"),
               s32 = fmt("le:s32/32>>0");
    EXPECT_EQ(iio::scanBytes({}), 0u);
    EXPECT_EQ(iio::scanBytes({s16}), 2u);
    EXPECT_EQ(iio::scanBytes({s16, s16, s16, s16}), 8u);
    EXPECT_EQ(iio::scanBytes({s16, s16, s16}), 6u);
    EXPECT_EQ(iio::scanBytes({u8, s32}), 8u);             // s32 aligned to 4
    EXPECT_EQ(iio::scanBytes({s32, u8}), 8u);             // total aligned to the largest
    EXPECT_EQ(iio::scanBytes({s16, s16, s16, s64}), 16u); // a timestamp after 3 channels
    // Repeated elements align to their whole size (iio_storage_bytes_for_si()).
    EXPECT_EQ(iio::scanBytes({fmt("le:s16/16X2>>0"), s16}), 8u);
    EXPECT_EQ(iio::scanBytes({s16, fmt("le:s16/16X2>>0")}), 8u);
}

// --- GET_STATS --------------------------------------------------------------------------

TEST(Stats, RecordLayout)
{
    Stats s;
    s.state = StreamState::Running;
    s.iio = PortMode::ZeroCopy;
    s.usb = PortMode::Copy;
    s.bytes = 0x0102030405060708ull;
    s.blocks = 2;
    s.overruns = 3;
    s.underruns = 4;
    s.usbErrors = 5;
    s.iioErrors = 6;
    s.runningNs = 0xfedcba9876543210ull;
    s.shortTransfers = 7;
    const StatsRecord r = encodeStats(s);
    ASSERT_EQ(r.size(), 72u);
    EXPECT_EQ(r[0], 1); // version
    EXPECT_EQ(r[1], 0);
    EXPECT_EQ(r[2], 72); // size
    EXPECT_EQ(r[3], 0);
    EXPECT_EQ(r[4], 1); // running
    EXPECT_EQ(r[5], 1); // zero-copy
    EXPECT_EQ(r[6], 2); // copy
    EXPECT_EQ(r[7], 0);
    const std::uint8_t bytes[] = {8, 7, 6, 5, 4, 3, 2, 1};
    for (int i = 0; i < 8; i++)
        EXPECT_EQ(r[8 + i], bytes[i]);
    EXPECT_EQ(r[16], 2);
    EXPECT_EQ(r[24], 3);
    EXPECT_EQ(r[32], 4);
    EXPECT_EQ(r[40], 5);
    EXPECT_EQ(r[48], 6);
    EXPECT_EQ(r[56], 0x10);
    EXPECT_EQ(r[63], 0xfe);
    EXPECT_EQ(r[64], 7);
    EXPECT_EQ(r[71], 0);

    auto back = decodeStats(r);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
}

TEST(Stats, DecodeErrors)
{
    StatsRecord r = encodeStats(Stats{});
    std::string error;
    EXPECT_FALSE(decodeStats(std::span<const std::uint8_t>(r.data(), 63), &error));
    EXPECT_EQ(error, "stats record of 63 bytes (expected 64)");

    StatsRecord bad = r;
    bad[0] = 2;
    EXPECT_FALSE(decodeStats(bad, &error));
    EXPECT_EQ(error, "stats record version 2 (expected 1)");

    bad = r;
    bad[2] = 32;
    EXPECT_FALSE(decodeStats(bad, &error));
    EXPECT_EQ(error, "stats record says size 32 (expected >= 64)");

    bad = r;
    bad[4] = 3;
    EXPECT_FALSE(decodeStats(bad, &error));
    EXPECT_EQ(error, "stats record with unknown state/mode values");

    // A longer record of a later revision: the known fields are read.
    std::vector<std::uint8_t> longer(r.begin(), r.end());
    longer[2] = 96;
    longer.resize(96, 0xaa);
    EXPECT_TRUE(decodeStats(longer, &error)) << error;
}

TEST(Stats, AppendedFieldsAreOptional)
{
    Stats s;
    s.bytes = 5;
    s.shortTransfers = 9;
    const StatsRecord r = encodeStats(s);
    // A 64-byte reply (a host that asked for 64 bytes) has every version 1 field but the
    // appended ones, which read 0.
    auto first64 = decodeStats(std::span<const std::uint8_t>(r.data(), 64));
    ASSERT_TRUE(first64);
    EXPECT_EQ(first64->bytes, 5u);
    EXPECT_EQ(first64->shortTransfers, 0u);
    // A device from before the short-transfer counter: record size 64.
    StatsRecord old = r;
    old[2] = 64;
    auto fromOld = decodeStats(old);
    ASSERT_TRUE(fromOld);
    EXPECT_EQ(fromOld->shortTransfers, 0u);
    auto full = decodeStats(r);
    ASSERT_TRUE(full);
    EXPECT_EQ(full->shortTransfers, 9u);
}

TEST(Stats, Names)
{
    EXPECT_EQ(stateName(StreamState::Failed), "failed");
    EXPECT_EQ(portModeName(PortMode::ZeroCopy), "zero-copy");
    EXPECT_EQ(directionName(Direction::Tx), "tx");
    EXPECT_EQ(parseDirection("rx"), Direction::Rx);
    EXPECT_FALSE(parseDirection("RX"));
}

// --- Metadata ---------------------------------------------------------------------------

TEST(Metadata, StartFlagIsNotPartOfTheStreamIndex)
{
    auto r = decodeRequest(setup(0x41, 0x02, 1 | kStartWithMetadata, 0), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, RequestCode::Start);
    EXPECT_EQ(r->value, 1);
    EXPECT_TRUE(r->metadata);
    r = decodeRequest(setup(0x41, 0x02, 1, 0), 0, 2);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->metadata);
    // The stream index is still checked, and STOP takes no flag.
    std::string why;
    EXPECT_FALSE(decodeRequest(setup(0x41, 0x02, 2 | kStartWithMetadata, 0), 0, 2, &why));
    EXPECT_NE(why.find("no stream 2"), std::string::npos) << why;
    EXPECT_FALSE(decodeRequest(setup(0x41, 0x03, 0 | kStartWithMetadata, 0), 0, 2));
}

TEST(Metadata, InfoAdvertisesTheEndpoint)
{
    DeviceInfo info = sampleInfo();
    info.metaEndpoint = 0x83;
    info.metaVersion = kMetaVersion;
    const std::string text = encodeInfo(info);
    EXPECT_NE(text.find("device serial=0001 streams=2 meta-ep=0x83 meta=1\n"), std::string::npos)
            << text;
    auto parsed = parseInfo(text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->metaEndpoint, 0x83);
    EXPECT_EQ(parsed->metaVersion, 1u);
    // A device from before it: none.
    parsed = parseInfo(kSampleText);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->metaEndpoint, 0);
    // An OUT address is no metadata endpoint.
    std::string bad = text;
    bad.replace(bad.find("0x83"), 4, "0x03");
    EXPECT_FALSE(parseInfo(bad));
}

TEST(Metadata, RecordLayout)
{
    MetaRecord m;
    m.stream = 2;
    m.flags = kMetaGap | kMetaTime;
    m.sequence = 0x0102030405060708;
    m.firstSample = 0x1112131415161718;
    m.lost = 0x21;
    m.overruns = 0x31;
    m.underruns = 0x41;
    m.completionNs = 0x5152535455565758;
    m.bytes = 0x61626364;
    m.lostMargin = 0x71727374;
    const MetaBytes b = encodeMeta(m);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(b[1], 0);
    EXPECT_EQ(b[2], 64);
    EXPECT_EQ(b[4], 2);
    EXPECT_EQ(b[5], kMetaGap | kMetaTime);
    EXPECT_EQ(b[8], 0x08);
    EXPECT_EQ(b[15], 0x01);
    EXPECT_EQ(b[16], 0x18);
    EXPECT_EQ(b[24], 0x21);
    EXPECT_EQ(b[32], 0x31);
    EXPECT_EQ(b[40], 0x41);
    EXPECT_EQ(b[48], 0x58);
    EXPECT_EQ(b[56], 0x64);
    EXPECT_EQ(b[60], 0x74);
    std::size_t size = 0;
    auto back = decodeMeta(b, &size);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, m);
    EXPECT_EQ(size, kMetaRecordSize);
}

TEST(Metadata, DecodeAcceptsLongerRecordsAndRejectsBadOnes)
{
    MetaRecord m;
    m.sequence = 5;
    std::vector<std::uint8_t> longer(96, 0xee);
    const MetaBytes b = encodeMeta(m);
    std::copy(b.begin(), b.end(), longer.begin());
    longer[2] = 96; // a later version's record size
    std::size_t size = 0;
    auto r = decodeMeta(longer, &size);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->sequence, 5u);
    EXPECT_EQ(size, 96u);

    std::string why;
    EXPECT_FALSE(decodeMeta(std::span<const std::uint8_t>(b.data(), 63), nullptr, &why));
    EXPECT_NE(why.find("63 bytes"), std::string::npos) << why;
    MetaBytes v2 = b;
    v2[0] = 2;
    EXPECT_FALSE(decodeMeta(v2));
    MetaBytes small = b;
    small[2] = 32;
    EXPECT_FALSE(decodeMeta(small));
    // A record size beyond what arrived.
    longer[2] = 200;
    EXPECT_FALSE(decodeMeta(longer));
}
