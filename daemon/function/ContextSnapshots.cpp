#include "function/ContextSnapshots.h"

#include <cerrno>
#include <system_error>

#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "log/Log.h"

namespace iiousb::function {

IIOUSB_LOG_CATEGORY(Iiod, "iiod")

Result<std::unique_ptr<ContextSnapshots>> ContextSnapshots::create(EventLoop &loop, Factory factory)
{
    UniqueFd notify(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!notify)
        return errnoError(errno, "Failed to create the IIO context snapshot eventfd");
    std::unique_ptr<ContextSnapshots> s(
            new ContextSnapshots(std::move(factory), std::move(notify)));
    auto source = loop.addIo(s->notify_.get(), EPOLLIN, [p = s.get()](std::uint32_t) {
        std::uint64_t n;
        while (::read(p->notify_.get(), &n, sizeof n) > 0) {
        }
        p->collect();
    });
    if (!source)
        return source.takeError();
    s->source_ = std::move(*source);
    try {
        s->thread_ = std::thread([p = s.get()] { p->run(); });
    } catch (const std::system_error &e) {
        return makeError(-e.code().value(),
                         std::string("Failed to start the IIO context snapshot thread: ") +
                                 e.what());
    }
    return s;
}

ContextSnapshots::~ContextSnapshots()
{
    {
        std::lock_guard guard(lock_);
        quit_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void ContextSnapshots::refresh()
{
    {
        std::lock_guard guard(lock_);
        wanted_ = true;
    }
    wake_.notify_all();
}

void ContextSnapshots::run()
{
    std::unique_lock guard(lock_);
    for (;;) {
        wake_.wait(guard, [this] { return quit_ || wanted_; });
        if (quit_)
            return;
        wanted_ = false;
        guard.unlock();
        auto r = factory_();
        guard.lock();
        result_ = std::move(r);
        ++finished_;
        ready_.notify_all();
        const std::uint64_t one = 1;
        if (::write(notify_.get(), &one, sizeof one) < 0) {
            // Cannot fail short of a full counter; current() collects in any case.
        }
    }
}

void ContextSnapshots::collect()
{
    std::optional<Result<ContextPtr>> r;
    {
        std::lock_guard guard(lock_);
        r.swap(result_);
    }
    if (!r)
        return;
    if (*r) {
        current_ = std::move(**r);
        lastError_.reset();
        return;
    }
    // The previous snapshot (if any) stays in use.
    LOG(Iiod, Warning) << r->error().message
                       << (current_ ? " (serving the previous snapshot of the IIO devices)" : "");
    lastError_ = r->takeError();
}

Result<ContextSnapshots::ContextPtr> ContextSnapshots::current()
{
    collect();
    if (!current_ && !lastError_) {
        // The first snapshot is not finished yet.
        {
            std::unique_lock guard(lock_);
            ready_.wait(guard, [this] { return finished_ > 0; });
        }
        collect();
    }
    if (current_)
        return current_;
    return *lastError_;
}

std::uint64_t ContextSnapshots::finished() const
{
    std::lock_guard guard(lock_);
    return finished_;
}

} // namespace iiousb::function
