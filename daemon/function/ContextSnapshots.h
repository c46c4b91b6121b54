// The libiio context that the iiod personality's pipes serve, taken ahead of time on a
// thread.
//
// libiio's local context is a snapshot of the board's IIO devices: iio_create_local_context()
// walks sysfs and reads every channel's attributes, ~0.1 s on an idle board but over a
// second on the rig's debug kernel under load. A libiio client gives OPEN_PIPE 1 s
// (libiio 0.24 usb.c: the control transfers' timeout), so the snapshot is not taken when
// OPEN_PIPE comes: a thread takes one when the function is created and again on refresh()
// (RESET_PIPES, with which a client starts and ends its context; an IIO device that
// appeared or went away), and OPEN_PIPE serves the newest one that is finished. Only the
// very first OPEN_PIPE can find none finished; it waits for it.
//
// A client that connects within a snapshot's time of a hotplug (or of the previous
// client's changes) sees the devices as they were; the next one sees them as they are.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "event/EventLoop.h"
#include "iiod/LibiioBackend.h"

namespace iiousb::function {

class ContextSnapshots {
public:
    using ContextPtr = iiod::LibiioBackend::ContextPtr;
    // Takes one snapshot; runs on the snapshot thread.
    using Factory = std::function<Result<ContextPtr>()>;

    // Starts the thread and its first snapshot.
    static Result<std::unique_ptr<ContextSnapshots>> create(EventLoop &loop, Factory factory);
    ContextSnapshots(const ContextSnapshots &) = delete;
    ContextSnapshots &operator=(const ContextSnapshots &) = delete;
    // Waits for a snapshot in progress and joins the thread.
    ~ContextSnapshots();

    // Asks for a new snapshot; current() serves the previous one until it is finished.
    // Requests that come while one is being taken are served by one more.
    void refresh();

    // The newest finished snapshot. Waits only when none has finished yet; the error is
    // the newest snapshot's when none ever succeeded.
    Result<ContextPtr> current();

    // How many snapshots have finished, successful or not (for tests and logs).
    std::uint64_t finished() const;

private:
    ContextSnapshots(Factory factory, UniqueFd notify)
        : factory_(std::move(factory)), notify_(std::move(notify))
    {}
    void run();
    // Takes the thread's newest result into current_ (loop thread).
    void collect();

    Factory factory_;
    UniqueFd notify_;
    EventSourcePtr source_;
    std::thread thread_;
    ContextPtr current_;             // loop thread only
    std::optional<Error> lastError_; // loop thread only

    mutable std::mutex lock_;
    std::condition_variable wake_;
    std::condition_variable ready_;
    std::optional<Result<ContextPtr>> result_; // finished, not collected yet
    std::uint64_t finished_ = 0;
    bool wanted_ = true; // the first snapshot
    bool quit_ = false;
};

} // namespace iiousb::function
