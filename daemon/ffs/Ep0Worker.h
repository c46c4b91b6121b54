// The thread that carries out ep0's data and status stages, so that the event loop never
// waits for a host.
//
// f_fs completes a control request's data stage (write() of an IN reply, read() of OUT
// data) and its status stage (a zero-length read()) only when the host has taken part in
// it: __ffs_ep0_queue_wait() sleeps until the UDC completes ep0's request, whatever
// O_NONBLOCK says (Linux 6.12 drivers/usb/gadget/function/f_fs.c). A host that gives up on
// a control transfer after its SETUP went out leaves that request pending until the next
// SETUP or a disconnect. One job at a time (ep0 carries one control transfer at a time);
// its end is reported through an eventfd that the loop watches.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "ffs/FfsEp0.h"

namespace iiousb::ffs {

class Ep0Worker {
public:
    struct Job {
        enum class Kind { Reply, Acknowledge, Receive };
        Kind kind = Kind::Acknowledge;
        proto::SetupPacket setup{};
        std::vector<std::uint8_t> data; // Kind::Reply: the data stage
    };
    struct Done {
        Job job;
        // Kind::Receive: the data stage the host sent; otherwise empty. An error is the
        // stage's: -EIDRM when the host moved on (a new SETUP, a reset), -ESHUTDOWN or
        // -ECONNRESET when it went away, -EINTR when the worker was cancelled.
        Result<std::vector<std::uint8_t>> result;
        std::uint64_t micros = 0; // how long the stage took
    };

    // `ep0` must outlive the worker.
    static Result<std::unique_ptr<Ep0Worker>> start(FfsEp0 &ep0);
    Ep0Worker(const Ep0Worker &) = delete;
    Ep0Worker &operator=(const Ep0Worker &) = delete;
    // Cancels a job still waiting for the host and joins the thread.
    ~Ep0Worker();

    // Readable when a job is done (then call takeDone()).
    int notifyFd() const { return notify_.get(); }

    // True from submit() until takeDone() returned the job.
    bool busy() const { return busy_; }

    // Hands a job to the thread; only when !busy().
    void submit(Job job);

    // The finished job, if there is one.
    std::optional<Done> takeDone();

    // Interrupts a job that waits for the host (it ends with -EINTR) and returns once the
    // thread is idle. Used before the UDC is unbound: f_fs's unbind takes the mutex a
    // pending ep0 write holds.
    void cancel();

private:
    Ep0Worker(FfsEp0 &ep0, UniqueFd notify) : ep0_(ep0), notify_(std::move(notify)) {}
    void run();
    Result<std::vector<std::uint8_t>> carryOut(const Job &job);

    FfsEp0 &ep0_;
    UniqueFd notify_;
    std::thread thread_;
    bool busy_ = false; // loop thread only

    std::mutex lock_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::optional<Job> job_;
    std::optional<Done> done_;
    bool working_ = false;
    bool cancelling_ = false;
    bool quit_ = false;
};

} // namespace iiousb::ffs
