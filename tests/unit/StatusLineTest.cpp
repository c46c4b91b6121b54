// The STATUS= line: state, per-stream state and MB/s from successive byte counters.
#include "service/StatusLine.h"

#include <gtest/gtest.h>

using namespace iiousb;
using namespace std::chrono_literals;

namespace {

proto::Stats running(std::uint64_t bytes)
{
    proto::Stats s;
    s.state = proto::StreamState::Running;
    s.bytes = bytes;
    return s;
}

} // namespace

TEST(StatusLine, FirstSampleHasNoRate)
{
    StatusLine line;
    const auto t0 = StatusLine::Clock::time_point() + 100s;
    EXPECT_EQ(line.update("Gadget up", {{"rx0", running(5000000)}, {"tx0", proto::Stats()}}, t0),
              "Gadget up; rx0 running, tx0 stopped");
}

TEST(StatusLine, RateFromTheDifference)
{
    StatusLine line;
    const auto t0 = StatusLine::Clock::time_point() + 100s;
    line.update("S", {{"rx0", running(1000000)}, {"tx0", running(0)}}, t0);
    EXPECT_EQ(line.update("S", {{"rx0", running(1000000 + 62500000)}, {"tx0", running(2500000)}},
                          t0 + 5s),
              "S; rx0 running 12.5 MB/s, tx0 running 0.5 MB/s");
    // The next rate is against the sample just taken, not the first one.
    EXPECT_EQ(line.update("S", {{"rx0", running(63500000)}, {"tx0", running(2500000)}}, t0 + 10s),
              "S; rx0 running 0.0 MB/s, tx0 running 0.0 MB/s");
}

TEST(StatusLine, CounterGoingBackOrResetShowsNoRate)
{
    StatusLine line;
    const auto t0 = StatusLine::Clock::time_point() + 100s;
    line.update("S", {{"rx0", running(9000000)}}, t0);
    EXPECT_EQ(line.update("S", {{"rx0", running(100)}}, t0 + 5s), "S; rx0 running");
    line.reset();
    EXPECT_EQ(line.update("S", {{"rx0", running(200)}}, t0 + 10s), "S; rx0 running");
    EXPECT_EQ(line.update("S", {{"rx0", running(2000200)}}, t0 + 12s), "S; rx0 running 1.0 MB/s");
}

TEST(StatusLine, StoppedAndFailedStreamsShowNoRate)
{
    StatusLine line;
    const auto t0 = StatusLine::Clock::time_point() + 100s;
    proto::Stats failed;
    failed.state = proto::StreamState::Failed;
    line.update("S", {{"rx0", proto::Stats()}, {"tx0", failed}}, t0);
    EXPECT_EQ(line.update("S", {{"rx0", proto::Stats()}, {"tx0", failed}}, t0 + 5s),
              "S; rx0 stopped, tx0 failed");
}

TEST(StatusLine, NoStreams)
{
    StatusLine line;
    EXPECT_EQ(line.update("Gadget up", {}, StatusLine::Clock::now()), "Gadget up");
}

TEST(StatusLine, FormatRate)
{
    EXPECT_EQ(formatRate(0, 1s), "0.0");
    EXPECT_EQ(formatRate(1000000, 1s), "1.0");
    EXPECT_EQ(formatRate(123456789, 1s), "123.5");
    EXPECT_EQ(formatRate(1000, 0s), "0.0");
}

TEST(StatusLine, LibiioBuffersWithTheirPathAndRate)
{
    StatusLine line;
    const auto t0 = StatusLine::Clock::time_point() + 100s;
    const StatusLine::Samples streams{{"rx0", proto::Stats()}};
    EXPECT_EQ(line.update("S", streams, t0), "S; rx0 stopped");
    StatusLine::Buffers open{{"1 iio:device0", "iio:device0 in (IIO zero-copy, USB zero-copy)", 0},
                             {"2 iio:device1", "iio:device1 out (USB copy, IIO zero-copy)", 100}};
    EXPECT_EQ(line.update("S", streams, t0 + 5s, open),
              "S; rx0 stopped; libiio: iio:device0 in (IIO zero-copy, USB zero-copy), iio:device1 "
              "out (USB copy, IIO zero-copy)");
    open[0].bytes = 50000000;
    open[1].bytes = 100 + 5000000;
    EXPECT_EQ(line.update("S", streams, t0 + 10s, open),
              "S; rx0 stopped; libiio: iio:device0 in (IIO zero-copy, USB zero-copy) 10.0 MB/s, "
              "iio:device1 out (USB copy, IIO zero-copy) 1.0 MB/s");
    // Closed: the libiio part goes; a buffer opened again counts from 0 (no rate at first).
    EXPECT_EQ(line.update("S", streams, t0 + 15s), "S; rx0 stopped");
    open.resize(1);
    open[0].bytes = 7;
    EXPECT_EQ(line.update("S", streams, t0 + 20s, open),
              "S; rx0 stopped; libiio: iio:device0 in (IIO zero-copy, USB zero-copy)");
}
