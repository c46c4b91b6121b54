// One FunctionFS function of the gadget, from its mount to its teardown, and the seam between
// the USB side and a personality (the native iiousb protocol, the iiod protocol for libiio
// clients...): FfsFunction owns the mount, ep0 (with its Ep0Worker, so that the event loop
// never waits for a host), the descriptors and strings, and hands the endpoint files out; it
// turns ep0's events into calls on an FfsPersonality, from the event loop.
//
// Lifetime: create() mounts the instance, opens ep0, writes the blobs (the function is live,
// its ep files exist: the gadget may be bound) and watches ep0. stop() cancels a control
// transfer still waiting for the host (call it before the UDC is unbound: f_fs's unbind waits
// for the mutex that stage holds). The destructor closes ep0 and unmounts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Result.h"
#include "event/EventLoop.h"
#include "ffs/Ep0Worker.h"
#include "ffs/FfsEp0.h"
#include "ffs/FfsMount.h"
#include "protocol/Protocol.h"

namespace iiousb::function {

// How a personality answers a SETUP addressed to its function.
struct SetupReply {
    enum class Kind { Stall, Acknowledge, Receive, Data };
    Kind kind = Kind::Stall;
    std::vector<std::uint8_t> data; // Kind::Data: the IN data stage
    std::string reason;             // Kind::Stall: for the journal

    static SetupReply stall(std::string why) { return {Kind::Stall, {}, std::move(why)}; }
    static SetupReply acknowledge() { return {Kind::Acknowledge, {}, {}}; }
};

// What a function's user implements. All calls come from the event loop.
class FfsPersonality {
public:
    virtual ~FfsPersonality() = default;

    virtual void onBind() {}
    virtual void onUnbind() {}
    // The host configured the interface (endpoints enabled) / deconfigured it or reset the bus.
    virtual void onEnable() {}
    virtual void onDisable() {}
    virtual void onSuspend() {}
    virtual void onResume() {}
    // A control request for this function (wIndex already remapped to the function's
    // interface by f_fs). Must not block: the stage is carried out by the Ep0Worker.
    virtual SetupReply onSetup(const proto::SetupPacket &setup) = 0;
    // The data or status stage of a request answered with Acknowledge, Receive or Data is
    // done: Receive's data, or the error (the host gave up, went away...).
    virtual void onSetupDone(const proto::SetupPacket &, const Result<std::vector<std::uint8_t>> &)
    {}
};

struct FfsFunctionOptions {
    std::string name;       // for messages ("iiod", "native")
    std::string instance;   // usb_f_fs instance (functions/ffs.<instance> must exist)
    std::string mountPoint; // where to mount it
    std::vector<std::uint8_t> descriptors;
    std::vector<std::uint8_t> strings;
    std::size_t endpoints = 0; // ep1..epN that f_fs must have created
};

class FfsFunction {
public:
    // `personality` must outlive the function. `onFatal` is called from the loop when ep0
    // breaks beyond repair.
    static Result<std::unique_ptr<FfsFunction>> create(EventLoop &loop, FfsFunctionOptions options,
                                                       FfsPersonality &personality,
                                                       std::function<void()> onFatal);
    FfsFunction(const FfsFunction &) = delete;
    FfsFunction &operator=(const FfsFunction &) = delete;
    ~FfsFunction();

    const std::string &name() const { return options_.name; }
    const std::string &mountPoint() const { return mount_->path(); }
    // The data endpoint file epN (N >= 1, in descriptor order).
    std::string endpointPath(std::size_t n) const;
    bool isEnabled() const { return enabled_; }

    // Cancels a control transfer waiting for the host and stops watching ep0 (before an
    // unbind); no more personality calls after it.
    void stop();

private:
    FfsFunction(FfsFunctionOptions options, FfsPersonality &personality,
                std::function<void()> onFatal)
        : options_(std::move(options)), personality_(personality), onFatal_(std::move(onFatal))
    {}

    Result<void> start(EventLoop &loop);
    void onEp0Readable();
    void handleEvent(const ffs::FfsEvent &event);
    void handleSetup(const proto::SetupPacket &setup);
    void onStageDone();

    FfsFunctionOptions options_;
    FfsPersonality &personality_;
    std::function<void()> onFatal_;
    std::optional<ffs::FfsMount> mount_;
    std::optional<ffs::FfsEp0> ep0_;
    EventSourcePtr ep0Source_;
    std::unique_ptr<ffs::Ep0Worker> ep0Worker_;
    EventSourcePtr ep0DoneSource_;
    bool enabled_ = false;
    bool stopped_ = false;
    unsigned ep0Errors_ = 0;
};

// "bmRequestType 0x41 bRequest 0x01 wValue 1 wIndex 0 wLength 0", for messages.
std::string describeSetup(const proto::SetupPacket &setup);

} // namespace iiousb::function
