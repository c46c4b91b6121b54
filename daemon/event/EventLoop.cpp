#include "event/EventLoop.h"

#include <csignal>
#include <cstring>
#include <ctime>

#include <systemd/sd-event.h>

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Event, "event")

EventSource::~EventSource()
{
    if (source_)
        sd_event_source_disable_unref(source_);
}

void EventSource::trigger()
{
    if (source_)
        sd_event_source_set_enabled(source_, SD_EVENT_ONESHOT);
}

void EventSource::setEnabled(bool on)
{
    if (source_)
        sd_event_source_set_enabled(source_, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

Result<std::unique_ptr<EventLoop>> EventLoop::create()
{
    sd_event *e = nullptr;
    if (int r = sd_event_new(&e); r < 0)
        return errnoError(r, "Failed to create the event loop");
    return std::unique_ptr<EventLoop>(new EventLoop(e));
}

EventLoop::~EventLoop()
{
    sd_event_unref(event_);
}

Result<EventSourcePtr> EventLoop::addIo(int fd, std::uint32_t events,
                                        std::function<void(std::uint32_t)> handler)
{
    EventSourcePtr src(new EventSource());
    src->io_ = std::move(handler);
    auto cb = [](sd_event_source *, int, std::uint32_t revents, void *userdata) -> int {
        static_cast<EventSource *>(userdata)->io_(revents);
        return 0;
    };
    if (int r = sd_event_add_io(event_, &src->source_, fd, events, cb, src.get()); r < 0)
        return errnoError(r, "Failed to watch fd " + std::to_string(fd));
    return src;
}

Result<EventSourcePtr> EventLoop::addIoOnce(int fd, std::uint32_t events,
                                            std::function<void(std::uint32_t)> handler)
{
    auto src = addIo(fd, events, std::move(handler));
    if (src)
        sd_event_source_set_enabled((*src)->source_, SD_EVENT_ONESHOT);
    return src;
}

Result<EventSourcePtr> EventLoop::addDeferred(std::function<void()> handler)
{
    EventSourcePtr src(new EventSource());
    src->timer_ = std::move(handler);
    auto cb = [](sd_event_source *, void *userdata) -> int {
        static_cast<EventSource *>(userdata)->timer_();
        return 0;
    };
    if (int r = sd_event_add_defer(event_, &src->source_, cb, src.get()); r < 0)
        return errnoError(r, "Failed to add deferred work");
    sd_event_source_set_enabled(src->source_, SD_EVENT_OFF);
    return src;
}

Result<EventSourcePtr> EventLoop::addSignal(int signal,
                                            std::function<void(const signalfd_siginfo &)> handler)
{
    EventSourcePtr src(new EventSource());
    src->signal_ = std::move(handler);
    auto cb = [](sd_event_source *, const signalfd_siginfo *si, void *userdata) -> int {
        static_cast<EventSource *>(userdata)->signal_(*si);
        return 0;
    };
    if (int r = sd_event_add_signal(event_, &src->source_, signal, cb, src.get()); r < 0)
        return errnoError(r, std::string("Failed to watch signal ") + sigabbrev_np(signal));
    return src;
}

Result<EventSourcePtr> EventLoop::addPeriodicTimer(std::chrono::microseconds period,
                                                   std::function<void()> handler)
{
    EventSourcePtr src(new EventSource());
    src->timer_ = std::move(handler);
    src->periodUs_ = static_cast<std::uint64_t>(period.count());
    auto cb = [](sd_event_source *s, std::uint64_t usec, void *userdata) -> int {
        auto *self = static_cast<EventSource *>(userdata);
        sd_event_source_set_time(s, usec + self->periodUs_);
        sd_event_source_set_enabled(s, SD_EVENT_ON);
        self->timer_();
        return 0;
    };
    // The first expiry is one period from the loop's current time. (Not
    // sd_event_add_time_relative(): it appeared in libsystemd 247, and libelogind 246, which
    // Debian 12 ships for systems without systemd, lacks it. See IIOUSB_SD_EVENT_PKG.)
    std::uint64_t now = 0;
    if (int r = sd_event_now(event_, CLOCK_MONOTONIC, &now); r < 0)
        return errnoError(r, "Failed to read the event loop's clock");
    if (int r = sd_event_add_time(event_, &src->source_, CLOCK_MONOTONIC, now + src->periodUs_, 0,
                                  cb, src.get());
        r < 0)
        return errnoError(r, "Failed to add a timer");
    return src;
}

void EventLoop::enableWatchdog()
{
    int r = sd_event_set_watchdog(event_, true);
    if (r < 0)
        LOG(Event, Warning) << "Failed to enable the watchdog: " << errnoString(r);
    else if (r > 0)
        LOG(Event, Debug) << "systemd watchdog enabled";
}

int EventLoop::run()
{
    return sd_event_loop(event_);
}

void EventLoop::exit(int code)
{
    sd_event_exit(event_, code);
}

Result<void> blockSignals(std::initializer_list<int> signals)
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals)
        sigaddset(&set, s);
    if (int r = pthread_sigmask(SIG_BLOCK, &set, nullptr); r != 0)
        return errnoError(r, "Failed to block signals");
    return {};
}

} // namespace iiousb
