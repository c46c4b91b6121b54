// The iiod session: reply framing as libiio 0.24-0.26 clients read it over USB (each integer
// a transfer of its own, payloads at their announced length), input split and merged, and
// OPEN/READBUF/WRITEBUF/CLOSE sequencing against a fake backend.
#include "iiod/IiodSession.h"

#include <cerrno>

#include <gtest/gtest.h>

using namespace iiousb;
using namespace iiousb::iiod;

namespace {

constexpr auto kDev = "iio:device0";

class FakeBackend : public IiodBackend {
public:
    IiodVersion version() const override { return {0, 24, "v0.24"}; }
    Result<std::string> contextXml() override { return std::string("<context/>"); }
    Result<void> setTimeout(std::uint32_t ms) override
    {
        timeout = ms;
        return {};
    }
    Result<std::string> resolveDevice(std::string_view device) override
    {
        if (device == kDev || device == "adc")
            return std::string(kDev);
        return makeError(-ENODEV, "no device");
    }
    Result<std::string> readAttr(const IiodAttrRef &ref) override
    {
        reads.push_back(ref);
        if (ref.kind == AttrKind::Channel && ref.channel != "voltage0")
            return makeError(-ENXIO, "no channel");
        return std::string("2400000000\0", 11);
    }
    Result<std::uint64_t> writeAttr(const IiodAttrRef &ref, std::string_view value) override
    {
        writes.emplace_back(ref, std::string(value));
        return static_cast<std::uint64_t>(value.size());
    }
    Result<std::optional<std::string>> trigger(const std::string &) override { return triggerName; }
    Result<void> setTrigger(const std::string &, const std::optional<std::string> &t) override
    {
        if (t && *t != "trig0")
            return makeError(-ENOENT, "no trigger");
        return {};
    }
    Result<void> setBuffersCount(const std::string &, unsigned count) override
    {
        buffers = count;
        return {};
    }
    Result<IiodBufferInfo> openBuffer(const IiodOpenRequest &request) override
    {
        opens.push_back(request);
        if (request.mask.size() != 1)
            return makeError(-EINVAL, "mask words");
        return IiodBufferInfo{{request.mask[0] | 0x8}, 4};
    }
    Result<void> closeBuffer(const std::string &device) override
    {
        closes.push_back(device);
        sink = nullptr;
        return {};
    }
    void readBuffer(const std::string &, std::uint64_t bytes, IiodTransferSink &s) override
    {
        requested = bytes;
        sink = &s;
        if (syncChunks) {
            s.readChunk({1, bytes});
            s.transferDone(bytes);
        }
    }
    void sendPayload(const IiodPayload &) override {}
    void writeBuffer(const std::string &, std::uint64_t bytes, IiodTransferSink &s) override
    {
        requested = bytes;
        sink = &s;
    }

    std::uint32_t timeout = 0;
    unsigned buffers = 0;
    std::optional<std::string> triggerName;
    std::vector<IiodAttrRef> reads;
    std::vector<std::pair<IiodAttrRef, std::string>> writes;
    std::vector<IiodOpenRequest> opens;
    std::vector<std::string> closes;
    IiodTransferSink *sink = nullptr;
    std::uint64_t requested = 0;
    bool syncChunks = false;
};

// The transfers as the client sees them: strings, payloads shown as "<payload block:bytes>".
std::vector<std::string> show(std::deque<IiodTransfer> transfers)
{
    std::vector<std::string> out;
    for (const auto &t : transfers) {
        if (const auto *s = std::get_if<std::string>(&t))
            out.push_back(*s);
        else {
            const auto &p = std::get<IiodPayload>(t);
            out.push_back("<payload " + std::to_string(p.block) + ":" + std::to_string(p.bytes) +
                          ">");
        }
    }
    return out;
}

using V = std::vector<std::string>;

class IiodSessionTest : public testing::Test {
protected:
    V send(std::string_view bytes)
    {
        session.consume(bytes);
        return show(session.takeTransfers());
    }

    FakeBackend backend;
    int notified = 0;
    IiodSession session{backend, [this] { ++notified; }};
};

TEST_F(IiodSessionTest, VersionIsSevenCharactersPaddedAndNewline)
{
    EXPECT_EQ(send("VERSION\r\n"), V{"0.24.v0.24  \n"});
}

TEST_F(IiodSessionTest, PrintIsLengthThenXmlAndNewline)
{
    EXPECT_EQ(send("PRINT\r\n"), (V{"10\n", "<context/>\n"}));
}

TEST_F(IiodSessionTest, ZPrintAndBinaryAreRefused)
{
    EXPECT_EQ(send("ZPRINT\r\n"), V{"-22\n"});
    EXPECT_EQ(send("BINARY\r\n"), V{"-22\n"});
}

TEST_F(IiodSessionTest, EmptyLineHasNoReply)
{
    EXPECT_EQ(send("\r\n"), V{});
}

TEST_F(IiodSessionTest, CommandSplitOverTransfers)
{
    EXPECT_EQ(send("TIME"), V{});
    EXPECT_EQ(send("OUT 25"), V{});
    EXPECT_EQ(send("00\r"), V{});
    EXPECT_EQ(send("\n"), V{"0\n"});
    EXPECT_EQ(backend.timeout, 2500u);
}

TEST_F(IiodSessionTest, SeveralCommandsInOneTransfer)
{
    EXPECT_EQ(send("TIMEOUT 1000\r\nFOO\r\nGETTRIG iio:device0\r\nREAD nodev a\r\n"),
              (V{"0\n", "-22\n", "0\n", "-19\n"}));
}

TEST_F(IiodSessionTest, AttributeReadIsLengthThenValueAndNewline)
{
    EXPECT_EQ(send("READ adc sampling_frequency\r\n"),
              (V{"11\n", std::string("2400000000\0\n", 12)}));
    ASSERT_EQ(backend.reads.size(), 1u);
    EXPECT_EQ(backend.reads[0].device, kDev); // canonical id
    EXPECT_EQ(backend.reads[0].attribute, "sampling_frequency");
}

TEST_F(IiodSessionTest, ChannelErrorsAreSingleIntegers)
{
    EXPECT_EQ(send("READ iio:device0 INPUT voltage9 raw\r\n"), V{"-6\n"});
    EXPECT_EQ(send("READ iio:device9 INPUT voltage0 raw\r\n"), V{"-19\n"});
}

TEST_F(IiodSessionTest, WriteValueFollowsInALaterTransfer)
{
    EXPECT_EQ(send("WRITE iio:device0 OUTPUT voltage0 raw 4\r\n"), V{});
    EXPECT_TRUE(session.wantsInput());
    EXPECT_EQ(send("12"), V{});
    EXPECT_EQ(send(std::string("3\0", 2)), V{"4\n"});
    ASSERT_EQ(backend.writes.size(), 1u);
    EXPECT_EQ(backend.writes[0].second, std::string("123\0", 4));
    EXPECT_TRUE(backend.writes[0].first.output);
    EXPECT_EQ(backend.writes[0].first.channel, "voltage0");
}

TEST_F(IiodSessionTest, WriteValueInTheSameTransferThenNextCommand)
{
    EXPECT_EQ(send("WRITE iio:device0 a 2\r\nokVERSION\r\n"), (V{"2\n", "0.24.v0.24  \n"}));
    EXPECT_EQ(backend.writes.at(0).second, "ok");
}

TEST_F(IiodSessionTest, WriteToUnknownDeviceConsumesTheValue)
{
    EXPECT_EQ(send("WRITE nodev a 3\r\n"), V{});
    EXPECT_EQ(send("abc"), V{"-19\n"});
    EXPECT_EQ(send("VERSION\r\n").size(), 1u);
    EXPECT_TRUE(backend.writes.empty());
}

TEST_F(IiodSessionTest, OverLongWriteValueIsDroppedAndRefused)
{
    EXPECT_EQ(send("WRITE iio:device0 a " + std::to_string(kMaxAttrValue + 2) + "\r\n"), V{});
    EXPECT_EQ(send(std::string(kMaxAttrValue, 'x')), V{});
    EXPECT_EQ(send("yyPRINT\r\n"), (V{"-27\n", "10\n", "<context/>\n"}));
    EXPECT_TRUE(backend.writes.empty());
}

TEST_F(IiodSessionTest, OverLongLineIsRefusedOnceAtItsEnd)
{
    EXPECT_EQ(send(std::string(kMaxCommandLine, 'a')), V{});
    EXPECT_EQ(send(std::string(100, 'b')), V{});
    EXPECT_EQ(send("b\r\nVERSION\r\n"), (V{"-22\n", "0.24.v0.24  \n"}));
}

TEST_F(IiodSessionTest, Triggers)
{
    EXPECT_EQ(send("GETTRIG iio:device0\r\n"), V{"0\n"});
    backend.triggerName = "trig0";
    EXPECT_EQ(send("GETTRIG iio:device0\r\n"), (V{"5\n", "trig0\n"}));
    EXPECT_EQ(send("SETTRIG iio:device0 trig0\r\n"), V{"0\n"});
    EXPECT_EQ(send("SETTRIG iio:device0 trig9\r\n"), V{"-2\n"});
    EXPECT_EQ(send("SETTRIG iio:device0\r\n"), V{"0\n"});
}

TEST_F(IiodSessionTest, BuffersCount)
{
    EXPECT_EQ(send("SET iio:device0 BUFFERS_COUNT 8\r\n"), V{"0\n"});
    EXPECT_EQ(backend.buffers, 8u);
    EXPECT_EQ(send("SET iio:device0 BUFFERS_COUNT 0\r\n"), V{"-22\n"});
    EXPECT_EQ(send("SET iio:device0 BUFFERS_COUNT x\r\n"), V{"-22\n"});
}

TEST_F(IiodSessionTest, ReadBufBeforeOpenAndCloseUnopened)
{
    EXPECT_EQ(send("READBUF iio:device0 4096\r\n"), V{"-9\n"});
    EXPECT_EQ(send("WRITEBUF iio:device0 4096\r\n"), V{"-9\n"});
    EXPECT_EQ(send("CLOSE iio:device0\r\n"), V{"-6\n"});
    EXPECT_EQ(send("READBUF iio:device7 4096\r\n"), V{"-19\n"});
}

TEST_F(IiodSessionTest, OpenMaskChecks)
{
    EXPECT_EQ(send("OPEN iio:device0 16 0000000\r\n"), V{"-22\n"});          // 7 digits
    EXPECT_EQ(send("OPEN iio:device0 16 0000000g\r\n"), V{"-22\n"});         // not hex
    EXPECT_EQ(send("OPEN iio:device0 16 0000000100000003\r\n"), V{"-22\n"}); // backend: words
    ASSERT_EQ(backend.opens.size(), 1u);
    EXPECT_EQ(backend.opens[0].mask, (std::vector<std::uint32_t>{3, 1})); // MSW first on wire
    EXPECT_EQ(send("OPEN adc 16 0000000F CYCLIC\r\n"), V{"0\n"});
    EXPECT_TRUE(backend.opens[1].cyclic);
    EXPECT_EQ(backend.opens[1].samples, 16u);
    EXPECT_EQ(send("OPEN iio:device0 16 0000000f\r\n"), V{"-16\n"}); // already open here
}

TEST_F(IiodSessionTest, ReadBufFraming)
{
    EXPECT_EQ(send("OPEN iio:device0 1024 00000003\r\n"), V{"0\n"});
    EXPECT_EQ(send("READBUF iio:device0 4096\r\n"), V{});
    EXPECT_TRUE(session.busy());
    EXPECT_EQ(backend.requested, 4096u);
    // Commands arriving meanwhile wait for the READBUF to end.
    EXPECT_EQ(send("VERSION\r\n"), V{});
    ASSERT_NE(backend.sink, nullptr);
    backend.sink->readChunk({7, 1024});
    backend.sink->readChunk({8, 3072});
    backend.sink->transferDone(std::uint64_t{4096});
    EXPECT_FALSE(session.busy());
    // Integer, mask (the kernel's superset), payload; then no mask and no status line.
    EXPECT_EQ(show(session.takeTransfers()), (V{"1024\n", "0000000b\n", "<payload 7:1024>",
                                                "3072\n", "<payload 8:3072>", "0.24.v0.24  \n"}));
    EXPECT_GE(notified, 1);
    // The mask again on the first chunk of the next READBUF.
    backend.syncChunks = true;
    EXPECT_EQ(send("READBUF iio:device0 2048\r\n"),
              (V{"2048\n", "0000000b\n", "<payload 1:2048>"}));
}

TEST_F(IiodSessionTest, ReadBufEarlyEndAndErrors)
{
    send("OPEN iio:device0 1024 00000003\r\n");
    send("READBUF iio:device0 4096\r\n");
    backend.sink->readChunk({1, 1024});
    backend.sink->readChunk({2, 0});    // empty: dropped
    backend.sink->readChunk({3, 3073}); // more than asked: dropped
    backend.sink->transferDone(std::uint64_t{1024});
    EXPECT_EQ(show(session.takeTransfers()),
              (V{"1024\n", "0000000b\n", "<payload 1:1024>", "0\n"}));
    send("READBUF iio:device0 4096\r\n");
    backend.sink->transferDone(makeError(-ETIMEDOUT, "timeout"));
    EXPECT_EQ(show(session.takeTransfers()), V{"-110\n"});
    // Less than one sample (4 bytes here): 0, nothing asked of the backend.
    backend.requested = 0;
    EXPECT_EQ(send("READBUF iio:device0 3\r\n"), V{"0\n"});
    EXPECT_EQ(backend.requested, 0u);
}

TEST_F(IiodSessionTest, WriteBufHandsTheOutEndpointToTheBackend)
{
    send("OPEN iio:device0 1024 00000001\r\n");
    EXPECT_EQ(send("WRITEBUF iio:device0 4096\r\n"), V{});
    EXPECT_FALSE(session.wantsInput());
    backend.sink->writeReady();
    EXPECT_EQ(show(session.takeTransfers()), V{"0\n"});
    EXPECT_FALSE(session.wantsInput());
    backend.sink->transferDone(std::uint64_t{4096});
    EXPECT_EQ(show(session.takeTransfers()), V{"4096\n"});
    EXPECT_TRUE(session.wantsInput());
    // Refused before any data: only the error.
    send("WRITEBUF iio:device0 4096\r\n");
    backend.sink->transferDone(makeError(-EBUSY, "busy"));
    EXPECT_EQ(show(session.takeTransfers()), V{"-16\n"});
}

TEST_F(IiodSessionTest, CloseAndSessionEndCloseBuffers)
{
    send("OPEN iio:device0 1024 00000001\r\n");
    EXPECT_EQ(send("CLOSE adc\r\n"), V{"0\n"});
    EXPECT_EQ(backend.closes, V{kDev});
    EXPECT_EQ(send("CLOSE iio:device0\r\n"), V{"-6\n"});
    send("OPEN iio:device0 1024 00000001\r\n");
    send("READBUF iio:device0 4096\r\n");
    {
        FakeBackend other;
        IiodSession s(other);
        s.consume("OPEN iio:device0 1024 00000001\r\nEXIT\r\nVERSION\r\n");
        EXPECT_TRUE(s.ended());
        EXPECT_FALSE(s.wantsInput());
        EXPECT_EQ(show(s.takeTransfers()), V{"0\n"}); // EXIT: no reply, nothing after
        EXPECT_EQ(other.closes, V{kDev});
    }
}

TEST(IiodSessionDestruction, ClosesWhatItOpened)
{
    FakeBackend backend;
    {
        IiodSession s(backend);
        s.consume("OPEN iio:device0 1024 00000001\r\nREADBUF iio:device0 4096\r\n");
        EXPECT_TRUE(s.busy());
    }
    EXPECT_EQ(backend.closes, V{kDev});
    EXPECT_EQ(backend.sink, nullptr); // the pending READBUF was cancelled by the close
}

TEST(IiodMask, ParseAndFormat)
{
    auto m = parseMask("0000000100000003");
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(*m, (std::vector<std::uint32_t>{3, 1}));
    EXPECT_EQ(formatMask(*m), "0000000100000003\n");
    EXPECT_EQ(formatMask({0xdeadbeef}), "deadbeef\n");
    EXPECT_FALSE(parseMask("").ok());
    EXPECT_FALSE(parseMask("123").ok());
    EXPECT_FALSE(parseMask("0000000x").ok());
}

TEST(IiodPack, ReadAllFormat)
{
    const std::string packed =
            packAttrValues({std::string("1000\0", 5), makeError(-ENOENT, "x"), std::string("ab")});
    const std::string expected = std::string("\0\0\0\x05"
                                             "1000\0\0\0\0"
                                             "\xff\xff\xff\xfe"
                                             "\0\0\0\x02"
                                             "ab\0\0",
                                             24);
    EXPECT_EQ(packed, expected);
    EXPECT_EQ(packAttrValues({}), "");
}

} // namespace
