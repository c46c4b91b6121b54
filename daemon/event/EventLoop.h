// The daemon's one event loop (sd-event) and RAII handles for its event sources.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "base/Result.h"

struct sd_event;
struct sd_event_source;
struct signalfd_siginfo;

namespace iiousb {

// An event source registered with the loop; disabled and released on destruction.
class EventSource {
public:
    EventSource(const EventSource &) = delete;
    EventSource &operator=(const EventSource &) = delete;
    ~EventSource();

    // For a deferred source (EventLoop::addDeferred()): run its handler once, at the loop's
    // next iteration. Triggering it again before it ran does nothing more.
    void trigger();

    // Switches a source on or off (a level-triggered fd that is ready while there is
    // nothing to do with it).
    void setEnabled(bool on);

private:
    friend class EventLoop;
    EventSource() = default;

    sd_event_source *source_ = nullptr;
    std::function<void(std::uint32_t)> io_;
    std::function<void(const signalfd_siginfo &)> signal_;
    std::function<void()> timer_; // periodic timer or deferred work
    std::uint64_t periodUs_ = 0;
};

using EventSourcePtr = std::unique_ptr<EventSource>;

class EventLoop {
public:
    static Result<std::unique_ptr<EventLoop>> create();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;
    ~EventLoop();

    // `events` are EPOLL* flags; the handler gets the returned ones.
    Result<EventSourcePtr> addIo(int fd, std::uint32_t events,
                                 std::function<void(std::uint32_t)> handler);

    // Like addIo(), but the source reports once and then stays quiet until destroyed: for
    // an fd that stays ready once it is (a signalled sync_file).
    Result<EventSourcePtr> addIoOnce(int fd, std::uint32_t events,
                                     std::function<void(std::uint32_t)> handler);

    // Work that must not run inside the handler that decides it (tearing down the source
    // being dispatched): the handler runs after EventSource::trigger(), from the loop.
    Result<EventSourcePtr> addDeferred(std::function<void()> handler);

    // The signal must be blocked in every thread (see blockSignals()).
    Result<EventSourcePtr> addSignal(int signal,
                                     std::function<void(const signalfd_siginfo &)> handler);

    // Calls `handler` every `period` (CLOCK_MONOTONIC) until the source is destroyed.
    Result<EventSourcePtr> addPeriodicTimer(std::chrono::microseconds period,
                                            std::function<void()> handler);

    // Pings the systemd watchdog from the loop if the service has one (WATCHDOG_USEC).
    void enableWatchdog();

    // Runs until exit(); returns exit()'s code or a negative errno.
    int run();
    void exit(int code);

    sd_event *get() const { return event_; }

private:
    explicit EventLoop(sd_event *event) : event_(event) {}

    sd_event *event_;
};

// Blocks these signals in the calling thread (call before any thread starts) so that
// addSignal() can take them through a signalfd.
Result<void> blockSignals(std::initializer_list<int> signals);

} // namespace iiousb
