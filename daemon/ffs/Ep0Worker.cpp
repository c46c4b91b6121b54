#include "ffs/Ep0Worker.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <mutex>

#include <pthread.h>
#include <unistd.h>

#include <sys/eventfd.h>

namespace iiousb::ffs {

namespace {

// The signal that interrupts the worker's wait in f_fs (wait_for_completion_interruptible():
// the request is dequeued and the call fails with EINTR). Unblocked in the worker thread
// only; the handler does nothing, it only has to exist (and not restart the call).
int cancelSignal()
{
    return SIGRTMIN;
}

void onCancelSignal(int) {}

Result<void> installCancelHandler()
{
    static std::once_flag once;
    static int error = 0;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = onCancelSignal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: the interrupted call must return EINTR
        if (sigaction(cancelSignal(), &sa, nullptr) < 0)
            error = errno;
    });
    if (error)
        return errnoError(error, "Failed to install the ep0 worker's signal handler");
    return {};
}

// How long the worker retries while f_fs's mutex is taken (O_NONBLOCK ep0: EAGAIN).
constexpr auto kBusyRetry = std::chrono::milliseconds(1);
constexpr int kBusyRetries = 1000;

} // namespace

Result<std::unique_ptr<Ep0Worker>> Ep0Worker::start(FfsEp0 &ep0)
{
    if (auto r = installCancelHandler(); !r)
        return r.takeError();
    UniqueFd notify(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!notify)
        return errnoError(errno, "Failed to create the ep0 worker's eventfd");
    std::unique_ptr<Ep0Worker> w(new Ep0Worker(ep0, std::move(notify)));
    try {
        w->thread_ = std::thread([p = w.get()] { p->run(); });
    } catch (const std::system_error &e) {
        return makeError(-e.code().value(),
                         std::string("Failed to start the ep0 worker thread: ") + e.what());
    }
    return w;
}

Ep0Worker::~Ep0Worker()
{
    cancel();
    {
        std::lock_guard guard(lock_);
        quit_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void Ep0Worker::submit(Job job)
{
    busy_ = true;
    {
        std::lock_guard guard(lock_);
        job_ = std::move(job);
    }
    wake_.notify_all();
}

std::optional<Ep0Worker::Done> Ep0Worker::takeDone()
{
    std::uint64_t count;
    while (::read(notify_.get(), &count, sizeof(count)) < 0 && errno == EINTR) {
    }
    std::lock_guard guard(lock_);
    if (!done_)
        return std::nullopt;
    std::optional<Done> d = std::move(done_);
    done_.reset();
    busy_ = false;
    return d;
}

void Ep0Worker::cancel()
{
    std::unique_lock l(lock_);
    if (!working_ && !job_)
        return;
    cancelling_ = true;
    // A signal sent while the thread is still in user space, before it enters f_fs, is
    // handled there and lost for the wait: send it until the job has ended.
    while (working_ || job_) {
        pthread_kill(thread_.native_handle(), cancelSignal());
        idle_.wait_for(l, std::chrono::milliseconds(10));
    }
    cancelling_ = false;
}

void Ep0Worker::run()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, cancelSignal());
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

    std::unique_lock l(lock_);
    for (;;) {
        wake_.wait(l, [this] { return quit_ || job_.has_value(); });
        if (quit_)
            return;
        Job job = std::move(*job_);
        job_.reset();
        working_ = true;
        l.unlock();

        const auto t0 = std::chrono::steady_clock::now();
        auto result = carryOut(job);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - t0)
                                .count();

        l.lock();
        done_ = Done{std::move(job), std::move(result), static_cast<std::uint64_t>(us)};
        working_ = false;
        idle_.notify_all();
        const std::uint64_t one = 1;
        while (::write(notify_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
        }
    }
}

Result<std::vector<std::uint8_t>> Ep0Worker::carryOut(const Job &job)
{
    for (int tries = 0;; tries++) {
        {
            std::lock_guard guard(lock_);
            if (cancelling_)
                return makeError(-EINTR, "The ep0 stage was cancelled");
        }
        Result<std::vector<std::uint8_t>> r = std::vector<std::uint8_t>{};
        switch (job.kind) {
        case Job::Kind::Reply:
            if (auto w = ep0_.reply(job.data); !w)
                r = w.takeError();
            break;
        case Job::Kind::Acknowledge:
            if (auto a = ep0_.acknowledge(); !a)
                r = a.takeError();
            break;
        case Job::Kind::Receive:
            r = ep0_.receive(job.setup.length);
            break;
        }
        if (r)
            return r;
        // EINTR without a cancel: a stray signal; f_fs dequeued the request and the SETUP is
        // still pending, so the stage can be queued again. EAGAIN: f_fs's mutex is busy
        // (ep0 is O_NONBLOCK).
        const int code = r.error().code;
        if (code == -EINTR || (code == -EAGAIN && tries < kBusyRetries)) {
            if (code == -EAGAIN)
                std::this_thread::sleep_for(kBusyRetry);
            continue;
        }
        return r;
    }
}

} // namespace iiousb::ffs
