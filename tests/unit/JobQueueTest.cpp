// pipeline::JobQueue on a real sd-event loop: completions are handed on from the loop, in
// submission order whatever order the jobs finish in, and a done callback may destroy the
// queue. The fence path uses an eventfd as a stand-in sync_file (no kernel device makes
// real fences here): it polls readable once written, like a signalled sync_file, and its
// status is the error of SYNC_IOC_FILE_INFO on a file that is not a sync_file (ENOTTY),
// which the queue passes on as the job's status (ENOSYS under qemu-user, which answers the
// ioctls it does not know itself).
#include <cerrno>
#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

#include <poll.h>
#include <unistd.h>

#include <linux/sync_file.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <gtest/gtest.h>
#include <systemd/sd-event.h>

#include "LoopTestUtil.h"
#include "pipeline/Ports.h"

using namespace iiousb;
using pipeline::JobQueue;

namespace {

using Done = std::tuple<std::size_t, int, std::uint64_t>;

int fakeFenceStatus(const dmabuf::SyncFile &sync, std::uint64_t *signalledNs);

class JobQueueTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto l = EventLoop::create();
        ASSERT_TRUE(l) << l.error().message;
        loop = std::move(*l);
        auto q = JobQueue::create(
                *loop,
                [this](std::size_t b, int s, std::uint64_t n) {
                    done.emplace_back(b, s, n);
                    if (onDone)
                        onDone();
                },
                fakeFenceStatus);
        ASSERT_TRUE(q) << q.error().message;
        queue = std::move(*q);
    }

    std::unique_ptr<EventLoop> loop;
    std::unique_ptr<JobQueue> queue;
    std::vector<Done> done;
    std::function<void()> onDone;
};

// An eventfd standing in for a job's sync_file; signal() makes it poll readable.
struct FakeFence {
    FakeFence() : fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    dmabuf::SyncFile take() { return dmabuf::SyncFile::adopt(UniqueFd(::dup(fd.get()))); }
    void signal() const
    {
        const std::uint64_t one = 1;
        ASSERT_EQ(::write(fd.get(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
    }
    UniqueFd fd;
};

// How the queue reads a FakeFence: pending (0) until signalled, like a sync_file; then
// what SYNC_IOC_FILE_INFO gives for it (below).
int fakeFenceStatus(const dmabuf::SyncFile &sync, std::uint64_t *signalledNs)
{
    pollfd p{sync.fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) != 1)
        return 0;
    return sync.status(signalledNs);
}

// What SYNC_IOC_FILE_INFO gives for a FakeFence, which is no sync_file: ENOTTY from the
// kernel, ENOSYS under qemu-user (which answers ioctls it does not know itself).
int notASyncFileError()
{
    FakeFence f;
    sync_file_info info{};
    return ::ioctl(f.fd.get(), SYNC_IOC_FILE_INFO, &info) < 0 ? -errno : 0;
}

TEST_F(JobQueueTest, CompletionsInSubmissionOrder)
{
    for (std::size_t b = 0; b < 4; b++)
        queue->push(b, 100 + b);
    EXPECT_EQ(queue->size(), 4u);

    queue->complete(2, 0, 12);
    queue->complete(3, -EIO, 0);
    EXPECT_TRUE(done.empty()) << "complete() must not call back synchronously";
    test::runPending(*loop);
    EXPECT_TRUE(done.empty()) << "block 2 handed on before block 0";

    queue->complete(0, 0, 10);
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], Done(0, 0, 10));
    EXPECT_EQ(queue->front(), 1u);

    queue->complete(1, -EPIPE, 0);
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 4u);
    EXPECT_EQ(done[1], Done(1, -EPIPE, 0));
    EXPECT_EQ(done[2], Done(2, 0, 12));
    EXPECT_EQ(done[3], Done(3, -EIO, 0));
    EXPECT_TRUE(queue->empty());
}

TEST_F(JobQueueTest, SameBlockTwiceCompletesItsOldestJob)
{
    queue->push(7, 1);
    queue->push(7, 2);
    queue->complete(7, 0, 1);
    queue->complete(7, 0, 2);
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], Done(7, 0, 1));
    EXPECT_EQ(done[1], Done(7, 0, 2));
}

TEST_F(JobQueueTest, FencesSignalledOutOfOrder)
{
    FakeFence f0, f1, f2;
    ASSERT_TRUE(queue->pushFence(0, 4096, f0.take()));
    ASSERT_TRUE(queue->pushFence(1, 4096, f1.take()));
    queue->push(2, 4096); // a job its port completes, behind the fences
    ASSERT_TRUE(queue->pushFence(3, 4096, f2.take()));

    f2.signal();
    queue->complete(2, 0, 4096);
    f1.signal();
    test::runPending(*loop);
    EXPECT_TRUE(done.empty()) << "jobs behind an unsignalled fence were handed on";

    f0.signal();
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 4u);
    // (An eventfd is no sync_file: SYNC_IOC_FILE_INFO's error is passed on.)
    const int notSync = notASyncFileError();
    ASSERT_LT(notSync, 0);
    EXPECT_EQ(done[0], Done(0, notSync, 4096));
    EXPECT_EQ(done[1], Done(1, notSync, 4096));
    EXPECT_EQ(done[2], Done(2, 0, 4096));
    EXPECT_EQ(done[3], Done(3, notSync, 4096));
    EXPECT_TRUE(queue->empty());
}

// The per-block cost of waiting (issue 15): fences that signalled together are handed on
// in one dispatch of the loop, not one loop source and one iteration (plus one for the
// hand-over) per job.
TEST_F(JobQueueTest, SignalledFencesHandedOnInOneDispatch)
{
    std::vector<FakeFence> fences(5);
    for (std::size_t b = 0; b < fences.size(); b++)
        ASSERT_TRUE(queue->pushFence(b, 1, fences[b].take()));
    for (std::size_t b = 0; b < 3; b++)
        fences[b].signal();
    ASSERT_GT(sd_event_run(loop->get(), 0), 0);
    ASSERT_EQ(done.size(), 3u);
    for (std::size_t b = 0; b < 3; b++)
        EXPECT_EQ(std::get<0>(done[b]), b);
    EXPECT_EQ(queue->size(), 2u);
    // (The stand-ins are dup'ed eventfds: unlike a sync_file, closing the queue's copy does
    // not take one out of the set, so one more dispatch finds nothing to hand on and takes
    // them off its ready list. Then the loop is idle.)
    EXPECT_LE(sd_event_run(loop->get(), 0), 1);
    EXPECT_EQ(sd_event_run(loop->get(), 0), 0) << "the loop spins on fences handed on";
    EXPECT_EQ(done.size(), 3u);

    // A fence that signals while the one before it is pending waits for it, reported once:
    // the loop does not spin on it.
    fences[4].signal();
    EXPECT_EQ(sd_event_run(loop->get(), 0), 1);
    EXPECT_EQ(sd_event_run(loop->get(), 0), 0) << "a reported fence is reported again";
    EXPECT_EQ(done.size(), 3u);
    fences[3].signal();
    ASSERT_GT(sd_event_run(loop->get(), 0), 0);
    ASSERT_EQ(done.size(), 5u);
    EXPECT_EQ(std::get<0>(done[3]), 3u);
    EXPECT_EQ(std::get<0>(done[4]), 4u);
}

TEST_F(JobQueueTest, DoneCallbackDestroysTheQueue)
{
    for (std::size_t b = 0; b < 3; b++)
        queue->push(b, 1);
    for (std::size_t b = 0; b < 3; b++)
        queue->complete(b, 0, 1);
    onDone = [this] { queue.reset(); };
    test::runPending(*loop);
    // The first callback destroyed the queue: nothing more may come (and nothing of the
    // queue may be touched after it: run under valgrind or ASan to see that).
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], Done(0, 0, 1));
    EXPECT_EQ(queue, nullptr);
}

TEST_F(JobQueueTest, DoneCallbackDestroysTheQueueWithFencesWatched)
{
    FakeFence f0, f1;
    ASSERT_TRUE(queue->pushFence(0, 1, f0.take()));
    ASSERT_TRUE(queue->pushFence(1, 1, f1.take()));
    f0.signal();
    onDone = [this] { queue.reset(); };
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 1u);
    f1.signal(); // its watch is gone with the queue
    test::runPending(*loop);
    EXPECT_EQ(done.size(), 1u);
}

TEST_F(JobQueueTest, DoneCallbackPushesMore)
{
    queue->push(0, 1);
    queue->complete(0, 0, 1);
    onDone = [this] {
        if (done.size() < 5) {
            queue->push(done.size(), 1);
            queue->complete(done.size(), 0, 1);
        }
    };
    test::runPending(*loop);
    ASSERT_EQ(done.size(), 5u);
    for (std::size_t i = 0; i < 5; i++)
        EXPECT_EQ(std::get<0>(done[i]), i);
}

} // namespace

// Unwatched fences (an IIO port whose USB transfers are queued behind its fences): the loop
// never hands them on, however long it runs; handOnSignalled() does, from the caller, the
// signalled ones at the head only, in order.
TEST_F(JobQueueTest, UnwatchedFencesHandedOnOnlyWhenAsked)
{
    FakeFence f0, f1, f2;
    ASSERT_TRUE(queue->pushFence(0, 4096, f0.take(), 0, false));
    ASSERT_TRUE(queue->pushFence(1, 4096, f1.take(), 0, false));
    ASSERT_TRUE(queue->pushFence(2, 4096, f2.take(), 0, false));

    queue->handOnSignalled();
    EXPECT_TRUE(done.empty()) << "a pending fence handed on";

    f0.signal();
    f2.signal();
    test::runFor(*loop, std::chrono::milliseconds(50));
    EXPECT_TRUE(done.empty()) << "the loop watched an unwatched fence";

    queue->handOnSignalled();
    ASSERT_EQ(done.size(), 1u) << "only the head is signalled (block 2 waits behind 1)";
    EXPECT_EQ(std::get<0>(done[0]), 0u);
    EXPECT_EQ(std::get<1>(done[0]), notASyncFileError());

    f1.signal();
    queue->handOnSignalled();
    ASSERT_EQ(done.size(), 3u);
    EXPECT_EQ(std::get<0>(done[1]), 1u);
    EXPECT_EQ(std::get<0>(done[2]), 2u);
    EXPECT_TRUE(queue->empty());
}

TEST_F(JobQueueTest, HandOnSignalledSurvivesTheDoneCallbackDestroyingTheQueue)
{
    FakeFence f0, f1;
    ASSERT_TRUE(queue->pushFence(0, 4096, f0.take(), 0, false));
    ASSERT_TRUE(queue->pushFence(1, 4096, f1.take(), 0, false));
    f0.signal();
    f1.signal();
    onDone = [this] { queue.reset(); };
    queue->handOnSignalled();
    EXPECT_EQ(done.size(), 1u) << "a job handed on after the queue was destroyed";
    EXPECT_EQ(queue, nullptr);
}
