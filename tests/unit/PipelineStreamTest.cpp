// PipelineStream with fake ports on a real sd-event loop (its PortFactory test seam: no IIO
// buffer, endpoint or DMABUF is opened). Checks the order blocks go round in, the counters
// GET_STATS reports, that a failed block never crosses to the other side, the error budget,
// short tx transfers, the cyclic path, stop/destruction from inside a done callback, and the
// progress watchdog (iio-stalled and its restarts, usb-idle/usb-resumed).
#include "stream/PipelineStream.h"

#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "LoopTestUtil.h"

using namespace iiousb;
using namespace std::chrono_literals;
using pipeline::JobQueue;

namespace {

constexpr std::uint64_t kBlock = 4096;
constexpr unsigned kBlocks = 4;

// What happened, in order, across both sides.
struct Event {
    char side;   // 'I' (IIO) or 'U' (USB)
    bool submit; // submit() or the job's completion handed to the stream
    std::size_t block;
    std::uint64_t bytes;
    int status;
};

struct Job {
    std::size_t block;
    std::uint64_t bytes;
};

class FakePort;

// One side of the pipeline as the test drives it; it outlives the ports (one per run).
struct FakeSide {
    char name;
    proto::PortMode mode = proto::PortMode::ZeroCopy;
    bool hold = false; // jobs stay queued until release()
    // The status and bytes of the job about to complete (default: 0 and all its bytes).
    std::function<std::pair<int, std::uint64_t>(const Job &)> result;
    std::function<void()> afterDone; // after the stream's done callback
    std::vector<Event> *events = nullptr;
    FakePort *port = nullptr; // the current run's
    unsigned made = 0;        // ports made: one per run
    unsigned completions = 0; // jobs handed to the stream

    std::vector<Job> submits() const;
    void release();
};

class FakePort : public pipeline::Port {
public:
    static Result<std::unique_ptr<pipeline::Port>> make(EventLoop &loop, FakeSide &side,
                                                        pipeline::DoneFn done)
    {
        auto q = JobQueue::create(loop, [s = &side, done](std::size_t b, int st, std::uint64_t n) {
            s->completions++;
            s->events->push_back({s->name, false, b, n, st});
            auto hook = s->afterDone; // a copy: the hook may destroy this port
            done(b, st, n);
            if (hook)
                hook();
        });
        if (!q)
            return q.takeError();
        auto p = std::make_unique<FakePort>(side, std::move(*q));
        // Jobs complete from the loop, as a real port's do (a completion inside submit()
        // would let a cyclic copy run spin inside one drain).
        auto r = loop.addDeferred([raw = p.get()] {
            if (!raw->side_.hold)
                raw->releaseAll();
        });
        if (!r)
            return r.takeError();
        p->releaser_ = std::move(*r);
        side.port = p.get();
        side.made++;
        return std::unique_ptr<pipeline::Port>(std::move(p));
    }

    FakePort(FakeSide &side, std::unique_ptr<JobQueue> queue)
        : side_(side), queue_(std::move(queue))
    {}
    ~FakePort() override
    {
        if (side_.port == this)
            side_.port = nullptr;
    }

    proto::PortMode mode() const override { return side_.mode; }
    std::uint64_t lastDoneNs() const override { return queue_->lastDoneNs(); }
    std::size_t inFlight() const override { return queue_->size(); }
    int submit(std::size_t block, std::uint64_t bytes) override
    {
        side_.events->push_back({side_.name, true, block, bytes, 0});
        queue_->push(block, bytes);
        held_.push_back({block, bytes});
        if (!side_.hold)
            releaser_->trigger();
        return 0;
    }
    // Completes the held jobs (handed on from the loop, through the queue).
    void releaseAll()
    {
        auto jobs = std::move(held_);
        held_.clear();
        for (const Job &j : jobs) {
            auto [status, bytes] = side_.result ? side_.result(j) : std::pair{0, j.bytes};
            queue_->complete(j.block, status, bytes);
        }
    }

private:
    FakeSide &side_;
    std::unique_ptr<JobQueue> queue_;
    std::vector<Job> held_;
    EventSourcePtr releaser_;
};

std::vector<Job> FakeSide::submits() const
{
    std::vector<Job> out;
    for (const Event &e : *events)
        if (e.side == name && e.submit)
            out.push_back({e.block, e.bytes});
    return out;
}

void FakeSide::release()
{
    hold = false;
    if (port)
        port->releaseAll();
}

iio::IioStreamDescription fakeDevice()
{
    iio::IioStreamDescription d;
    d.deviceId = "iio:device9";
    d.deviceName = "fake-adc";
    d.sampleBytes = 4;
    d.rate = 0; // unknown: the watchdog uses stall-timeout as it is
    return d;
}

FakeSide side(char name)
{
    FakeSide s;
    s.name = name;
    return s;
}

class PipelineStreamTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto l = EventLoop::create();
        ASSERT_TRUE(l) << l.error().message;
        loop = std::move(*l);
        iio.events = &events;
        usb.events = &events;
    }

    // A stream with fake ports (stall-timeout off unless given).
    void make(proto::Direction dir, std::chrono::milliseconds stallTimeout = 0ms,
              iio::IioStreamDescription device = fakeDevice())
    {
        StreamConfig c;
        c.name = dir == proto::Direction::Rx ? "rx0" : "tx0";
        c.direction = dir;
        c.device = "fake-adc";
        c.blockSize = kBlock;
        c.blockCount = kBlocks;
        c.stallTimeout = stallTimeout;
        stream = std::make_unique<PipelineStream>(
                c, std::move(device), *loop, "/nonexistent/ep1",
                [this](std::size_t blocks, bool, pipeline::DoneFn iioDone,
                       pipeline::DoneFn usbDone) -> Result<PipelineStream::Ports> {
                    runs++;
                    lastBlocks = blocks;
                    PipelineStream::Ports p;
                    auto i = FakePort::make(*loop, iio, std::move(iioDone));
                    if (!i)
                        return i.takeError();
                    auto u = FakePort::make(*loop, usb, std::move(usbDone));
                    if (!u)
                        return u.takeError();
                    p.iio = std::move(*i);
                    p.usb = std::move(*u);
                    return p;
                });
    }

    bool runUntil(const std::function<bool()> &done, std::chrono::milliseconds t = 5s)
    {
        return test::runUntil(*loop, done, t);
    }
    proto::StreamState state() const { return stream->stats().state; }

    // Per block, the sides it went through in order: a block must go submit -> done on one
    // side, then submit on the other (after a failure: where failedGoesTo() says), never
    // two jobs at once.
    void expectBlocksCycle(char first)
    {
        std::vector<std::vector<const Event *>> per(kBlocks);
        for (const Event &e : events)
            per.at(e.block).push_back(&e);
        for (std::size_t b = 0; b < kBlocks; b++) {
            const auto &ev = per[b];
            ASSERT_FALSE(ev.empty()) << "block " << b << " never used";
            EXPECT_EQ(ev[0]->side, first) << "block " << b;
            EXPECT_TRUE(ev[0]->submit);
            for (std::size_t i = 1; i < ev.size(); i++) {
                const Event &prev = *ev[i - 1];
                const Event &e = *ev[i];
                if (prev.submit) {
                    // A submit is followed by its own completion, on the same side.
                    EXPECT_FALSE(e.submit)
                            << "block " << b << " submitted twice (event " << i << ")";
                    EXPECT_EQ(e.side, prev.side) << "block " << b << " event " << i;
                } else {
                    EXPECT_TRUE(e.submit) << "block " << b << " event " << i;
                    const bool failed =
                            prev.status < 0 || (prev.side == 'U' && usbTx && prev.bytes != kBlock);
                    if (failed)
                        EXPECT_EQ(e.side, failedGoesTo(prev.side))
                                << "block " << b << ": a failed " << prev.side
                                << " job went on (event " << i << ")";
                    else
                        EXPECT_NE(e.side, prev.side) << "block " << b << " event " << i;
                }
            }
        }
    }
    // A failed block starts the cycle over: RX refills it at IIO, TX takes the next
    // transfer from USB.
    char failedGoesTo(char) const { return usbTx ? 'U' : 'I'; }

    std::unique_ptr<EventLoop> loop;
    std::vector<Event> events;
    FakeSide iio = side('I');
    FakeSide usb = side('U');
    std::unique_ptr<PipelineStream> stream;
    unsigned runs = 0;
    std::size_t lastBlocks = 0;
    bool usbTx = false;
};

TEST_F(PipelineStreamTest, RxBlocksCycleIioUsbIio)
{
    make(proto::Direction::Rx);
    usb.mode = proto::PortMode::Copy;
    ASSERT_EQ(stream->start(), 0);
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(lastBlocks, kBlocks);
    // Primed: every block goes to IIO first, in order.
    auto first = iio.submits();
    ASSERT_EQ(first.size(), kBlocks);
    for (std::size_t b = 0; b < kBlocks; b++) {
        EXPECT_EQ(first[b].block, b);
        EXPECT_EQ(first[b].bytes, kBlock);
    }
    EXPECT_TRUE(usb.submits().empty()) << "a block reached USB before IIO completed it";

    ASSERT_TRUE(runUntil([&] { return usb.completions >= 40; }));
    const proto::Stats s = stream->stats();
    EXPECT_EQ(s.state, proto::StreamState::Running);
    EXPECT_EQ(s.iio, proto::PortMode::ZeroCopy);
    EXPECT_EQ(s.usb, proto::PortMode::Copy);
    EXPECT_EQ(s.blocks, usb.completions);
    EXPECT_EQ(s.bytes, usb.completions * kBlock);
    EXPECT_EQ(s.usbErrors, 0u);
    EXPECT_EQ(s.iioErrors, 0u);
    EXPECT_EQ(s.shortTransfers, 0u);
    // Round robin on both sides.
    auto u = usb.submits();
    for (std::size_t i = 0; i < u.size(); i++) {
        EXPECT_EQ(u[i].block, i % kBlocks) << "USB submit " << i;
        EXPECT_EQ(u[i].bytes, kBlock);
    }
    auto in = iio.submits();
    for (std::size_t i = 0; i < in.size(); i++)
        EXPECT_EQ(in[i].block, i % kBlocks) << "IIO submit " << i;
    expectBlocksCycle('I');

    stream->stop();
    EXPECT_EQ(state(), proto::StreamState::Stopped);
    EXPECT_EQ(iio.port, nullptr);
    EXPECT_EQ(usb.port, nullptr);
    const auto n = events.size();
    test::runPending(*loop);
    EXPECT_EQ(events.size(), n) << "something moved after stop()";
    EXPECT_EQ(stream->stats().blocks, usb.completions) << "the counters changed at stop()";
}

TEST_F(PipelineStreamTest, TxBlocksCycleUsbIioUsb)
{
    make(proto::Direction::Tx);
    usbTx = true;
    ASSERT_EQ(stream->start(), 0);
    EXPECT_EQ(usb.submits().size(), kBlocks);
    EXPECT_TRUE(iio.submits().empty());
    ASSERT_TRUE(runUntil([&] { return iio.completions >= 40; }));
    const proto::Stats s = stream->stats();
    EXPECT_EQ(s.blocks, iio.completions); // tx counts what IIO took
    EXPECT_EQ(s.bytes, iio.completions * kBlock);
    expectBlocksCycle('U');
}

// RX: a failed IIO block is refilled, never sent to the host; a failed USB transfer is
// counted and the block refilled.
TEST_F(PipelineStreamTest, RxFailuresStayOnTheirSide)
{
    make(proto::Direction::Rx);
    unsigned iioJobs = 0, usbJobs = 0;
    iio.result = [&](const Job &j) {
        return ++iioJobs % 3 == 0 ? std::pair{-EIO, std::uint64_t{0}} : std::pair{0, j.bytes};
    };
    usb.result = [&](const Job &j) {
        return ++usbJobs % 5 == 0 ? std::pair{-EOVERFLOW, std::uint64_t{0}} : std::pair{0, j.bytes};
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return usb.completions >= 60; }));
    const proto::Stats s = stream->stats();
    EXPECT_EQ(s.state, proto::StreamState::Running);
    unsigned iioFailed = 0, usbFailed = 0, usbGood = 0;
    for (const Event &e : events)
        if (!e.submit) {
            if (e.side == 'I')
                iioFailed += e.status < 0;
            else if (e.status < 0)
                usbFailed++;
            else
                usbGood++;
        }
    EXPECT_GT(iioFailed, 0u);
    EXPECT_GT(usbFailed, 0u);
    EXPECT_EQ(s.iioErrors, iioFailed);
    EXPECT_EQ(s.usbErrors, usbFailed);
    EXPECT_EQ(s.blocks, usbGood);
    EXPECT_EQ(s.bytes, usbGood * kBlock);
    expectBlocksCycle('I');
}

// TX: a failed USB transfer never reaches IIO.
TEST_F(PipelineStreamTest, TxUsbFailureNeverReachesIio)
{
    make(proto::Direction::Tx);
    usbTx = true;
    unsigned usbJobs = 0;
    usb.result = [&](const Job &j) {
        return ++usbJobs % 4 == 0 ? std::pair{-EIO, std::uint64_t{0}} : std::pair{0, j.bytes};
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return iio.completions >= 40; }));
    EXPECT_GT(stream->stats().usbErrors, 0u);
    EXPECT_EQ(stream->stats().iioErrors, 0u);
    expectBlocksCycle('U');
}

// kErrorBudget (16) failed blocks in a row on one side: Failed, with the reason logged.
TEST_F(PipelineStreamTest, ErrorBudgetIio)
{
    test::LogCapture logs;
    make(proto::Direction::Rx);
    iio.result = [](const Job &) { return std::pair{-EIO, std::uint64_t{0}}; };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return state() == proto::StreamState::Failed; }));
    EXPECT_EQ(stream->stats().iioErrors, 16u);
    EXPECT_TRUE(usb.submits().empty()) << "a failed IIO block was sent to the host";
    auto ev = logs.events("error-budget");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_NE(ev[0].message.find("16 IIO blocks failed in a row"), std::string::npos)
            << ev[0].message;
    EXPECT_EQ(iio.port, nullptr) << "the run was not torn down";
    // A failed stream starts again.
    iio.result = nullptr;
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return usb.completions >= 8; }));
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(stream->stats().iioErrors, 0u);
}

TEST_F(PipelineStreamTest, ErrorBudgetUsb)
{
    make(proto::Direction::Tx);
    usb.result = [](const Job &) { return std::pair{-EIO, std::uint64_t{0}}; };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return state() == proto::StreamState::Failed; }));
    EXPECT_EQ(stream->stats().usbErrors, 16u);
    EXPECT_TRUE(iio.submits().empty()) << "a failed USB transfer was passed to IIO";
}

// 15 failures, a success, 15 failures: the run of failures restarts, the stream goes on.
TEST_F(PipelineStreamTest, FifteenFailuresThenASuccessKeepRunning)
{
    make(proto::Direction::Rx);
    unsigned n = 0;
    iio.result = [&](const Job &j) {
        ++n;
        const bool fail = n <= 15 || (n >= 17 && n <= 31);
        return fail ? std::pair{-EIO, std::uint64_t{0}} : std::pair{0, j.bytes};
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return usb.completions >= 20; }));
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(stream->stats().iioErrors, 30u);
}

// TX: a short transfer and a zero-length one (copy port: the bytes that arrived) and one
// f_fs failed as short (zero-copy port with SHORT_NOT_OK: -EREMOTEIO) are counted and
// never reach IIO.
TEST_F(PipelineStreamTest, TxShortTransfersCountedAndDropped)
{
    test::LogCapture logs;
    make(proto::Direction::Tx);
    usbTx = true;
    unsigned n = 0;
    usb.result = [&](const Job &j) -> std::pair<int, std::uint64_t> {
        switch (++n) {
        case 2:
            return {0, 100};
        case 3:
            return {0, 0};
        case 6:
            return {-EREMOTEIO, 0};
        default:
            return {0, j.bytes};
        }
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return iio.completions >= 20; }));
    const proto::Stats s = stream->stats();
    EXPECT_EQ(s.state, proto::StreamState::Running);
    EXPECT_EQ(s.shortTransfers, 3u);
    EXPECT_EQ(s.usbErrors, 0u);
    for (const Job &j : iio.submits())
        EXPECT_EQ(j.bytes, kBlock) << "IIO got a block that is not whole";
    // Every transfer that was not whole was followed by USB, not IIO.
    expectBlocksCycle('U');
    EXPECT_EQ(logs.events("short-transfer").size(), 1u); // logged once, counted each time
}

TEST_F(PipelineStreamTest, TxShortTransfersSpendTheErrorBudget)
{
    make(proto::Direction::Tx);
    usb.result = [](const Job &) { return std::pair{0, std::uint64_t{512}}; };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return state() == proto::StreamState::Failed; }));
    EXPECT_EQ(stream->stats().shortTransfers, 16u);
    EXPECT_TRUE(iio.submits().empty());
}

// Cyclic: one block of the waveform's length from the host, then IIO plays it (a cyclic
// DMABUF completes only when aborted); a short upload is dropped and asked for again.
TEST_F(PipelineStreamTest, CyclicWaveform)
{
    make(proto::Direction::Tx, 200ms);
    iio.hold = true; // a cyclic DMABUF never completes
    unsigned n = 0;
    usb.result = [&](const Job &j) {
        return ++n == 1 ? std::pair{0, std::uint64_t{1000}} : std::pair{0, j.bytes};
    };
    ASSERT_EQ(stream->startCyclic(2048), 0);
    EXPECT_EQ(lastBlocks, 1u);
    ASSERT_TRUE(runUntil([&] { return !iio.submits().empty(); }));
    auto u = usb.submits();
    ASSERT_EQ(u.size(), 2u);
    EXPECT_EQ(u[0].bytes, 2048u);
    EXPECT_EQ(u[1].bytes, 2048u);
    auto in = iio.submits();
    ASSERT_EQ(in.size(), 1u);
    EXPECT_EQ(in[0].bytes, 2048u);
    // The watchdog leaves a cyclic DMABUF alone.
    test::runFor(*loop, 600ms);
    const proto::Stats s = stream->stats();
    EXPECT_EQ(s.state, proto::StreamState::Running);
    EXPECT_EQ(s.shortTransfers, 1u);
    EXPECT_EQ(s.blocks, 1u);
    EXPECT_EQ(s.bytes, 2048u);
    EXPECT_EQ(runs, 1u) << "the watchdog restarted a cyclic run";
    // A waveform that is not whole sample sets is refused.
    stream->stop();
    EXPECT_EQ(stream->startCyclic(1001), -EINVAL);
}

// A cyclic run whose IIO side copies (fileio writes the waveform again and again) is not
// restarted either: the host uploads the waveform once, a restart would lose it.
TEST_F(PipelineStreamTest, CyclicFileioNotRestarted)
{
    make(proto::Direction::Tx, 100ms);
    iio.mode = proto::PortMode::Copy;
    ASSERT_EQ(stream->startCyclic(2048), 0);
    ASSERT_TRUE(runUntil([&] { return iio.completions >= 10; }));
    for (const Job &j : iio.submits())
        EXPECT_EQ(j.bytes, 2048u);
    iio.hold = true; // the DAC stops taking the waveform
    test::runFor(*loop, 500ms);
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(runs, 1u);
    EXPECT_EQ(usb.submits().size(), 1u) << "the waveform was asked for again";
}

TEST_F(PipelineStreamTest, StopFromADoneCallback)
{
    make(proto::Direction::Rx);
    usb.afterDone = [&] {
        if (usb.completions == 10)
            stream->stop();
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return state() != proto::StreamState::Running; }));
    test::runPending(*loop);
    EXPECT_EQ(state(), proto::StreamState::Stopped);
    EXPECT_EQ(usb.completions, 10u);
    EXPECT_EQ(stream->stats().blocks, 10u);
}

TEST_F(PipelineStreamTest, RestartFromADoneCallback)
{
    make(proto::Direction::Rx);
    iio.afterDone = [&] {
        if (iio.completions == 5)
            stream->start();
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return runs == 2 && usb.completions >= 20; }));
    EXPECT_EQ(state(), proto::StreamState::Running);
}

TEST_F(PipelineStreamTest, DestroyedFromADoneCallback)
{
    make(proto::Direction::Rx);
    bool destroyed = false;
    iio.afterDone = [&] {
        if (iio.completions == 6) {
            stream.reset();
            destroyed = true;
        }
    };
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return destroyed; }));
    const auto n = events.size();
    test::runFor(*loop, 50ms);
    EXPECT_EQ(events.size(), n) << "something moved after the stream was destroyed";
}

// --- progress watchdog --------------------------------------------------------------------

// IIO stops completing: iio-stalled and a restart, kStallRestarts (3) times, then Failed.
TEST_F(PipelineStreamTest, IioStallRestartsThenFails)
{
    test::LogCapture logs;
    make(proto::Direction::Rx, 200ms);
    iio.hold = true;
    ASSERT_EQ(stream->start(), 0);
    ASSERT_TRUE(runUntil([&] { return runs == 2; }, 2s)) << "no restart after a stall";
    auto ev = logs.events("iio-stalled");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].level, log::Level::Warning);
    EXPECT_EQ(ev[0].field(log::kStream), "rx0");
    EXPECT_EQ(ev[0].field(log::kDevice), "fake-adc");
    EXPECT_NE(ev[0].message.find("completed no block in 0."), std::string::npos) << ev[0].message;
    EXPECT_NE(ev[0].message.find("with 4 queued"), std::string::npos) << ev[0].message;
    EXPECT_NE(ev[0].message.find("restart 1 of 3"), std::string::npos) << ev[0].message;
    EXPECT_EQ(state(), proto::StreamState::Running);

    ASSERT_TRUE(runUntil([&] { return state() == proto::StreamState::Failed; }, 3s));
    EXPECT_EQ(runs, 4u); // the first run and 3 restarts
    ev = logs.events("iio-stalled");
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[3].level, log::Level::Error);
    EXPECT_NE(ev[3].message.find("again after 3 restarts without progress; giving up"),
              std::string::npos)
            << ev[3].message;
    // The blocks dropped at each restart count as failed IIO blocks; the counters go on.
    EXPECT_EQ(stream->stats().iioErrors, 3u * kBlocks);
    EXPECT_EQ(iio.port, nullptr);
}

// Progress between stalls: the restarts in a row start over, the stream keeps running.
TEST_F(PipelineStreamTest, IioStallRecovers)
{
    make(proto::Direction::Rx, 200ms);
    iio.hold = true;
    ASSERT_EQ(stream->start(), 0);
    for (unsigned round = 0; round < 5; round++) {
        const unsigned before = runs;
        ASSERT_TRUE(runUntil([&] { return runs == before + 1; }, 2s)) << "round " << round;
        iio.release(); // the device works again
        const unsigned done = usb.completions;
        ASSERT_TRUE(runUntil([&] { return usb.completions >= done + 20; }));
        iio.hold = true; // and stalls again
    }
    EXPECT_EQ(state(), proto::StreamState::Running) << "5 stalls with progress between failed it";
    EXPECT_EQ(runs, 6u);
    EXPECT_GE(stream->stats().blocks, 100u) << "the counters did not go on across restarts";
}

// The host stops reading: usb-idle once, no restart, usb-resumed when it reads again.
TEST_F(PipelineStreamTest, UsbIdleIsNotAFault)
{
    test::LogCapture logs;
    make(proto::Direction::Rx, 200ms);
    usb.hold = true;
    ASSERT_EQ(stream->start(), 0);
    test::runFor(*loop, 1000ms);
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(runs, 1u) << "a host that does not read restarted the stream";
    EXPECT_TRUE(logs.events("iio-stalled").empty());
    auto idle = logs.events("usb-idle");
    ASSERT_EQ(idle.size(), 1u) << "usb-idle once per idle period";
    EXPECT_EQ(idle[0].level, log::Level::Notice);
    EXPECT_TRUE(logs.events("usb-resumed").empty());

    usb.release();
    ASSERT_TRUE(runUntil([&] { return usb.completions >= 20; }));
    ASSERT_EQ(logs.events("usb-resumed").size(), 1u);
    EXPECT_EQ(logs.events("usb-idle").size(), 1u);
    EXPECT_EQ(state(), proto::StreamState::Running);

    // A second idle period is reported again.
    usb.hold = true;
    test::runFor(*loop, 600ms);
    EXPECT_EQ(logs.events("usb-idle").size(), 2u);
    EXPECT_EQ(runs, 1u);
}

// TX: a host that sends nothing is idle, not a stalled device.
TEST_F(PipelineStreamTest, TxHostSendsNothing)
{
    test::LogCapture logs;
    make(proto::Direction::Tx, 200ms);
    usb.hold = true;
    ASSERT_EQ(stream->start(), 0);
    test::runFor(*loop, 700ms);
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(runs, 1u);
    EXPECT_EQ(logs.events("usb-idle").size(), 1u);
}

TEST_F(PipelineStreamTest, WatchdogOff)
{
    make(proto::Direction::Rx, 0ms);
    iio.hold = true;
    ASSERT_EQ(stream->start(), 0);
    test::runFor(*loop, 500ms);
    EXPECT_EQ(state(), proto::StreamState::Running);
    EXPECT_EQ(runs, 1u);
}

// A slow device: the IIO timeout is at least two block times (here 4096 / 4 / 1000 Hz =
// 1.024 s per block), so a 200 ms stall-timeout does not restart it after 1 s.
TEST_F(PipelineStreamTest, IioTimeoutCoversTwoBlockTimes)
{
    auto d = fakeDevice();
    d.rate = 1000;
    make(proto::Direction::Rx, 200ms, d);
    iio.hold = true;
    ASSERT_EQ(stream->start(), 0);
    test::runFor(*loop, 1000ms);
    EXPECT_EQ(runs, 1u);
    ASSERT_TRUE(runUntil([&] { return runs == 2; }, 2s));
}

} // namespace

namespace {

struct CollectingSink : MetaSink {
    std::vector<proto::MetaRecord> records;
    void push(const proto::MetaRecord &r) override { records.push_back(r); }
};

} // namespace

// Per-block metadata (docs/protocol.md, "Metadata"): one record per block the host got, in
// order, the sample index going on by each block's sample sets plus what was lost; a block
// queued after the previous one completed (by the port's completion time) is a gap, counted
// as an overrun, its count from the rate with a margin.
TEST_F(PipelineStreamTest, RxMetadataRecordsFollowTheBlocks)
{
    auto device = fakeDevice();
    device.rate = 1000000000; // 1 sample set per ns: any gap loses some
    make(proto::Direction::Rx, 0ms, device);
    CollectingSink sink;
    ASSERT_EQ(stream->startWithMetadata(sink, 3), 0);
    EXPECT_TRUE(stream->sendsMetadata());
    ASSERT_TRUE(runUntil([&] { return sink.records.size() >= 12; }));
    stream->stop();
    EXPECT_FALSE(stream->sendsMetadata());
    const auto st = stream->stats();

    const std::uint64_t perBlock = kBlock / 4;
    std::uint64_t gaps = 0;
    for (std::size_t i = 0; i < sink.records.size(); i++) {
        const proto::MetaRecord &r = sink.records[i];
        EXPECT_EQ(r.stream, 3);
        EXPECT_EQ(r.sequence, i);
        EXPECT_EQ(r.bytes, kBlock);
        EXPECT_TRUE(r.flags & proto::kMetaTime) << i;
        EXPECT_FALSE(r.flags & proto::kMetaTx);
        EXPECT_NE(r.completionNs, 0u);
        if (i == 0) {
            EXPECT_EQ(r.firstSample, 0u);
            EXPECT_FALSE(r.flags & proto::kMetaGap);
            continue;
        }
        const proto::MetaRecord &p = sink.records[i - 1];
        EXPECT_GE(r.completionNs, p.completionNs);
        EXPECT_EQ(r.firstSample, p.firstSample + perBlock + r.lost) << i;
        if (r.flags & proto::kMetaGap) {
            gaps++;
            EXPECT_GE(r.lostMargin, 1u) << i;
        } else {
            EXPECT_EQ(r.lost, 0u) << i;
        }
        EXPECT_LE(r.overruns, st.overruns);
    }
    // The first blocks were all queued before any completed: no gap among them.
    for (std::size_t i = 1; i < kBlocks; i++)
        EXPECT_FALSE(sink.records[i].flags & proto::kMetaGap) << i;
    // The fake device completes at once, so re-queued blocks come after it went idle.
    EXPECT_GT(gaps, 0u);
    EXPECT_GE(st.overruns, gaps);

    // A plain START sends nothing, not even to the sink of the run before.
    const std::size_t before = sink.records.size();
    ASSERT_EQ(stream->start(), 0);
    EXPECT_FALSE(stream->sendsMetadata());
    ASSERT_TRUE(runUntil([&] { return stream->stats().blocks >= 8; }));
    EXPECT_EQ(sink.records.size(), before);
}

// The copy path has no fence times: records carry no time flag and no gap counts.
TEST_F(PipelineStreamTest, RxMetadataOnTheCopyPathHasNoFenceTimes)
{
    auto device = fakeDevice();
    device.rate = 1000000;
    make(proto::Direction::Rx, 0ms, device);
    iio.mode = proto::PortMode::Copy;
    CollectingSink sink;
    ASSERT_EQ(stream->startWithMetadata(sink, 0), 0);
    ASSERT_TRUE(runUntil([&] { return sink.records.size() >= 8; }));
    for (const auto &r : sink.records) {
        EXPECT_FALSE(r.flags & proto::kMetaTime);
        EXPECT_EQ(r.lost, 0u);
        EXPECT_EQ(r.firstSample, r.sequence * (kBlock / 4));
    }
}

// A USB failure loses its block's samples for the host: the next record says so, exactly.
TEST_F(PipelineStreamTest, RxMetadataCountsBlocksFailedOnUsb)
{
    make(proto::Direction::Rx);
    unsigned n = 0;
    usb.result = [&](const Job &j) {
        return ++n == 3 ? std::pair{-EIO, std::uint64_t{0}} : std::pair{0, j.bytes};
    };
    CollectingSink sink;
    ASSERT_EQ(stream->startWithMetadata(sink, 0), 0);
    ASSERT_TRUE(runUntil([&] { return sink.records.size() >= 6; }));
    std::size_t withLoss = 0;
    for (std::size_t i = 1; i < sink.records.size(); i++) {
        const auto &r = sink.records[i];
        if (!(r.flags & proto::kMetaUsbLoss))
            continue;
        withLoss++;
        EXPECT_TRUE(r.flags & proto::kMetaGap);
        EXPECT_GE(r.lost, kBlock / 4);
        EXPECT_EQ(r.firstSample, sink.records[i - 1].firstSample + kBlock / 4 + r.lost);
    }
    EXPECT_EQ(withLoss, 1u);
}
