// function::ContextSnapshots on a real sd-event loop, with a factory that stands in for
// iio_create_local_context() and can be held: OPEN_PIPE's current() never waits for a
// refresh, only for the very first snapshot; refreshes asked for during one are served by
// one more; a failed snapshot leaves the previous one in use.
#include "function/ContextSnapshots.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "LoopTestUtil.h"

using namespace iiousb;
using function::ContextSnapshots;

namespace {

// Distinct fake contexts (never dereferenced): the n-th snapshot is (iio_context *)n.
ContextSnapshots::ContextPtr fakeContext(std::uintptr_t n)
{
    return {reinterpret_cast<iio_context *>(n), [](iio_context *) {}};
}

std::uintptr_t idOf(const ContextSnapshots::ContextPtr &c)
{
    return reinterpret_cast<std::uintptr_t>(c.get());
}

// A factory whose calls can be held until released, counting them.
struct HeldFactory {
    std::mutex lock;
    std::condition_variable cv;
    bool held = false;
    int waiting = 0;
    std::atomic<int> calls{0};
    std::atomic<bool> fail{false};

    ContextSnapshots::Factory factory()
    {
        return [this]() -> Result<ContextSnapshots::ContextPtr> {
            const int n = ++calls;
            std::unique_lock g(lock);
            ++waiting;
            cv.notify_all();
            cv.wait(g, [this] { return !held; });
            --waiting;
            if (fail)
                return makeError(-ENODEV, "snapshot " + std::to_string(n) + " failed");
            return fakeContext(static_cast<std::uintptr_t>(n));
        };
    }
    void hold()
    {
        std::lock_guard g(lock);
        held = true;
    }
    void release()
    {
        {
            std::lock_guard g(lock);
            held = false;
        }
        cv.notify_all();
    }
    // Waits until a call is held in the factory.
    bool waitHeld()
    {
        std::unique_lock g(lock);
        return cv.wait_for(g, std::chrono::seconds(5), [this] { return waiting > 0; });
    }
};

class ContextSnapshotsTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto l = EventLoop::create();
        ASSERT_TRUE(l) << l.error().message;
        loop = std::move(*l);
    }
    void make()
    {
        auto s = ContextSnapshots::create(*loop, factory.factory());
        ASSERT_TRUE(s) << s.error().message;
        snapshots = std::move(*s);
    }
    // Runs the loop until `n` snapshots finished and were collected.
    bool settle(std::uint64_t n)
    {
        return test::runUntil(*loop, [&] { return snapshots->finished() >= n; }) &&
               (test::runPending(*loop), true);
    }
    void TearDown() override
    {
        factory.release();
        snapshots.reset();
    }

    HeldFactory factory;
    std::unique_ptr<EventLoop> loop;
    std::unique_ptr<ContextSnapshots> snapshots;
};

TEST_F(ContextSnapshotsTest, FirstCurrentWaitsForTheFirstSnapshot)
{
    factory.hold();
    make();
    ASSERT_TRUE(factory.waitHeld());
    std::thread releaser([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        factory.release();
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto c = snapshots->current();
    const auto waited = std::chrono::steady_clock::now() - t0;
    releaser.join();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(idOf(*c), 1u);
    EXPECT_GE(waited, std::chrono::milliseconds(50)); // it did wait for the release
    EXPECT_EQ(factory.calls, 1);
}

TEST_F(ContextSnapshotsTest, RefreshServesThePreviousSnapshotUntilTheNewOneIsDone)
{
    make();
    ASSERT_TRUE(settle(1));
    factory.hold();
    snapshots->refresh();
    ASSERT_TRUE(factory.waitHeld());
    // The second snapshot is held in the factory: current() answers at once with the first.
    for (int i = 0; i < 3; ++i) {
        auto c = snapshots->current();
        ASSERT_TRUE(c) << c.error().message;
        EXPECT_EQ(idOf(*c), 1u);
    }
    factory.release();
    ASSERT_TRUE(settle(2));
    auto c = snapshots->current();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(idOf(*c), 2u);
}

TEST_F(ContextSnapshotsTest, RefreshesDuringASnapshotAreServedByOneMore)
{
    make();
    ASSERT_TRUE(settle(1));
    factory.hold();
    snapshots->refresh();
    ASSERT_TRUE(factory.waitHeld());
    snapshots->refresh();
    snapshots->refresh();
    snapshots->refresh();
    factory.release();
    ASSERT_TRUE(settle(3));
    test::runFor(*loop, std::chrono::milliseconds(100));
    EXPECT_EQ(factory.calls, 3); // the first, the held one, one for the three refreshes
    auto c = snapshots->current();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(idOf(*c), 3u);
}

TEST_F(ContextSnapshotsTest, AFailedSnapshotKeepsThePreviousOne)
{
    make();
    ASSERT_TRUE(settle(1));
    factory.fail = true;
    test::LogCapture logs;
    snapshots->refresh();
    ASSERT_TRUE(settle(2));
    auto c = snapshots->current();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(idOf(*c), 1u);
    bool logged = false;
    for (const auto &r : logs.records)
        logged = logged || r.message.find("snapshot 2 failed (serving the previous snapshot") !=
                                   std::string::npos;
    EXPECT_TRUE(logged);
    factory.fail = false;
    snapshots->refresh();
    ASSERT_TRUE(settle(3));
    c = snapshots->current();
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(idOf(*c), 3u);
}

TEST_F(ContextSnapshotsTest, NoSnapshotEverIsTheFactorysError)
{
    factory.fail = true;
    make();
    auto c = snapshots->current();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, -ENODEV);
    EXPECT_EQ(c.error().message, "snapshot 1 failed");
}

} // namespace
