// The control protocol on top of streams (daemon/control), with fake streams.
#include "control/ControlProtocol.h"

#include <gtest/gtest.h>

using namespace iiousb;
using Kind = ControlProtocol::Reply::Kind;

namespace {

class FakeStream : public Stream {
public:
    FakeStream(std::string name, proto::Direction dir, int startResult = 0)
        : startResult_(startResult)
    {
        config_.name = std::move(name);
        config_.direction = dir;
        config_.device = "fake";
        config_.blockSize = 4096;
        config_.blockCount = 2;
    }

    const StreamConfig &config() const override { return config_; }
    proto::StreamInfo info() const override
    {
        proto::StreamInfo s;
        s.name = config_.name;
        s.dir = config_.direction;
        s.iio = "fake-dev";
        s.blockBytes = config_.blockSize;
        s.blocks = config_.blockCount;
        s.rate = 48000;
        s.sampleBytes = 4;
        s.channels = {{0, "voltage0", "le:s16/16>>0"}, {1, "voltage1", "le:s16/16>>0"}};
        return s;
    }
    int start() override
    {
        starts++;
        if (startResult_ < 0) {
            state = proto::StreamState::Failed;
            return startResult_;
        }
        state = proto::StreamState::Running;
        return 0;
    }
    void stop() override
    {
        stops++;
        if (state == proto::StreamState::Running)
            state = proto::StreamState::Stopped;
    }
    proto::Stats stats() const override
    {
        proto::Stats s;
        s.state = state;
        s.bytes = 1234;
        return s;
    }
    void usbDisabled() override
    {
        disables++;
        stop();
    }
    int startCyclic(std::uint64_t bytes) override
    {
        cyclicBytes = bytes;
        state = proto::StreamState::Running;
        return 0;
    }

    int starts = 0, stops = 0, disables = 0;
    std::uint64_t cyclicBytes = 0;
    proto::StreamState state = proto::StreamState::Stopped;

private:
    StreamConfig config_;
    int startResult_;
};

proto::SetupPacket in(std::uint8_t req, std::uint16_t value, std::uint16_t length)
{
    return proto::encodeRequest(static_cast<proto::RequestCode>(req), value, length);
}

proto::SetupPacket out(std::uint8_t req, std::uint16_t value)
{
    return proto::encodeRequest(static_cast<proto::RequestCode>(req), value, 0);
}

} // namespace

class ControlProtocolTest : public testing::Test {
protected:
    FakeStream rx{"rx0", proto::Direction::Rx};
    FakeStream tx{"tx0", proto::Direction::Tx, -ENODEV};
    ControlProtocol control{"SN1", {&rx, &tx}};
};

TEST_F(ControlProtocolTest, InfoText)
{
    auto info = proto::parseInfo(control.infoText());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->serial, "SN1");
    ASSERT_EQ(info->streams.size(), 2u);
    EXPECT_EQ(info->streams[0].endpoint, 0x81);
    EXPECT_EQ(info->streams[1].endpoint, 0x02);
    EXPECT_EQ(info->streams[1].index, 1u);
    EXPECT_EQ(info->streams[0].channels.size(), 2u);

    auto r = control.handle(in(0x01, 0, 4096));
    ASSERT_EQ(r.kind, Kind::Data);
    EXPECT_EQ(std::string(r.data.begin(), r.data.end()), control.infoText());

    r = control.handle(in(0x01, 7, 1));
    ASSERT_EQ(r.kind, Kind::Data);
    EXPECT_EQ(std::string(r.data.begin(), r.data.end()), "1");

    r = control.handle(in(0x01, 60000, 64)); // past the end: an empty reply
    ASSERT_EQ(r.kind, Kind::Data);
    EXPECT_TRUE(r.data.empty());
}

TEST_F(ControlProtocolTest, AssignedEndpointAddresses)
{
    control.setEndpointAddresses({0x86, 0x07});
    auto info = proto::parseInfo(control.infoText());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->streams[0].endpoint, 0x86);
    EXPECT_EQ(info->streams[1].endpoint, 0x07);
    control.setEndpointAddresses({0x81}); // wrong count: ignored
    EXPECT_EQ(proto::parseInfo(control.infoText())->streams[0].endpoint, 0x86);
}

TEST_F(ControlProtocolTest, StartStopStats)
{
    auto r = control.handle(out(0x02, 0));
    EXPECT_EQ(r.kind, Kind::Acknowledge);
    EXPECT_EQ(rx.state, proto::StreamState::Running);

    r = control.handle(in(0x04, 0, 64));
    ASSERT_EQ(r.kind, Kind::Data);
    // A 64-byte request gets the record's first 64 bytes (fields are only appended).
    EXPECT_EQ(r.data.size(), 64u);
    auto stats = proto::decodeStats(r.data);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->state, proto::StreamState::Running);
    EXPECT_EQ(stats->bytes, 1234u);
    r = control.handle(in(0x04, 0, 4096));
    ASSERT_EQ(r.kind, Kind::Data);
    EXPECT_EQ(r.data.size(), proto::kStatsSize);
    EXPECT_EQ(r.data[2], proto::kStatsSize);

    r = control.handle(out(0x03, 0));
    EXPECT_EQ(r.kind, Kind::Acknowledge);
    EXPECT_EQ(rx.state, proto::StreamState::Stopped);
    EXPECT_EQ(rx.stops, 1);
}

TEST_F(ControlProtocolTest, StartFailureStalls)
{
    auto r = control.handle(out(0x02, 1));
    EXPECT_EQ(r.kind, Kind::Stall);
    EXPECT_EQ(r.reason, "START tx0: No such device (ENODEV)");
    r = control.handle(in(0x04, 1, 64));
    ASSERT_EQ(r.kind, Kind::Data);
    EXPECT_EQ(proto::decodeStats(r.data)->state, proto::StreamState::Failed);
    // STOP of a failed stream succeeds and changes nothing.
    EXPECT_EQ(control.handle(out(0x03, 1)).kind, Kind::Acknowledge);
}

TEST_F(ControlProtocolTest, MalformedRequestsStallWithoutSideEffects)
{
    const proto::SetupPacket bad[] = {
            {0xc1, 0x7f, 0, 0, 64}, {0x41, 0x02, 2, 0, 0}, {0x41, 0x02, 0, 0, 4},
            {0xc1, 0x02, 0, 0, 0},  {0xc1, 0x04, 0, 0, 8}, {0x41, 0x01, 0, 0, 0},
            {0xc1, 0x01, 0, 1, 64}, {0x40, 0x02, 0, 0, 0},
    };
    for (const auto &s : bad) {
        auto r = control.handle(s);
        EXPECT_EQ(r.kind, Kind::Stall);
        EXPECT_FALSE(r.reason.empty());
    }
    EXPECT_EQ(rx.starts + tx.starts + rx.stops + tx.stops, 0);
}

TEST_F(ControlProtocolTest, DisableStopsEveryStream)
{
    control.handle(out(0x02, 0));
    control.disable();
    EXPECT_EQ(rx.disables, 1);
    EXPECT_EQ(tx.disables, 1);
    EXPECT_EQ(rx.state, proto::StreamState::Stopped);
}

TEST_F(ControlProtocolTest, StartCyclicChecksBeforeTheDataStage)
{
    FakeStream wave{"tx1", proto::Direction::Tx};
    ControlProtocol c{"SN1", {&rx, &wave}};
    const proto::SetupPacket setup{0x41, 0x05, 1, 0, 8};

    auto r = c.handle(setup);
    ASSERT_EQ(r.kind, Kind::ReceiveData);
    const auto data = proto::encodeCyclicLength(65536);
    c.handleData(setup, data);
    EXPECT_EQ(wave.cyclicBytes, 65536u);
    EXPECT_EQ(wave.state, proto::StreamState::Running);

    // Running: stalled before any data is read.
    r = c.handle(setup);
    EXPECT_EQ(r.kind, Kind::Stall);
    EXPECT_EQ(r.reason, "START_CYCLIC tx1: the stream is running (STOP it first)");

    // Not a tx stream, wrong length, wrong direction: stalled.
    r = c.handle({0x41, 0x05, 0, 0, 8});
    EXPECT_EQ(r.kind, Kind::Stall);
    EXPECT_EQ(r.reason, "START_CYCLIC rx0: not a tx stream");
    EXPECT_EQ(c.handle({0x41, 0x05, 1, 0, 4}).kind, Kind::Stall);
    EXPECT_EQ(c.handle({0xc1, 0x05, 1, 0, 8}).kind, Kind::Stall);
    EXPECT_EQ(c.handle({0x41, 0x05, 2, 0, 8}).kind, Kind::Stall);

    // A short data stage is ignored.
    FakeStream other{"tx2", proto::Direction::Tx};
    ControlProtocol c2{"SN1", {&other}};
    const proto::SetupPacket s2{0x41, 0x05, 0, 0, 8};
    ASSERT_EQ(c2.handle(s2).kind, Kind::ReceiveData);
    c2.handleData(s2, std::span<const std::uint8_t>(data.data(), 4));
    EXPECT_EQ(other.cyclicBytes, 0u);
    EXPECT_EQ(other.state, proto::StreamState::Stopped);
}

TEST(CyclicLength, RoundTrip)
{
    for (std::uint64_t v : {0ull, 1ull, 65536ull, 0x0102030405060708ull}) {
        const auto d = proto::encodeCyclicLength(v);
        EXPECT_EQ(proto::decodeCyclicLength(d), v);
    }
    EXPECT_EQ(proto::encodeCyclicLength(0x0102)[0], 0x02);
}
