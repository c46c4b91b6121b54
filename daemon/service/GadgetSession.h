// One bring-up of a configuration: the IIO lookups and streams, the configfs gadget, its
// functions (function::FfsFunction: the native one, whose personality this class is, and
// the libiio one, function::IiodFunction, if enabled), and the UDC binding. Created whole or
// not at all (a failing step unwinds the ones before it); destroyed in reverse order.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Result.h"
#include "config/Config.h"
#include "control/ControlProtocol.h"
#include "event/EventLoop.h"
#include "event/UeventMonitor.h"
#include "function/FfsFunction.h"
#include "function/IiodFunction.h"
#include "gadget/Gadget.h"
#include "iio/IioContext.h"
#include "stream/MetaChannel.h"
#include "stream/PipelineStream.h"
#include "stream/Stream.h"

namespace iiousb {

class GadgetSession : private function::FfsPersonality {
public:
    // `onFatal` is called from the loop if the function breaks beyond repair (ep0 fails).
    static Result<std::unique_ptr<GadgetSession>> create(const Config &config, EventLoop &loop,
                                                         std::function<void()> onFatal);
    GadgetSession(const GadgetSession &) = delete;
    GadgetSession &operator=(const GadgetSession &) = delete;
    ~GadgetSession() override;

    const Config &config() const { return config_; }
    // The UDC the gadget is bound to, empty while it is not (no UDC yet, the UDC went away,
    // or someone unbound the gadget).
    const std::string &udc() const;
    bool bound() const { return !boundUdc_.empty(); }
    bool hostConnected() const { return enabled_; }
    const std::vector<std::unique_ptr<Stream>> &streams() const { return streams_; }
    // The libiio interface, if enabled.
    const function::IiodFunction *libiio() const { return iiod_.get(); }

    // One line for systemd's STATUS=.
    std::string status() const;

private:
    GadgetSession(const Config &config, std::function<void()> onFatal)
        : config_(config), onFatal_(std::move(onFatal))
    {}

    void setUpStreams(EventLoop &loop);
    // The IIO device of `stream`, from `ctx` (attributes written first), logged.
    static Result<iio::IioStreamDescription>
    describeStream(iio::IioContext *ctx, const StreamConfig &stream, const std::string &noContext);
    void onIioUevent(const Uevent &event);
    Result<void> bringUp(EventLoop &loop);
    // The native personality (docs/protocol.md) on its FfsFunction.
    void onBind() override;
    void onUnbind() override;
    void onEnable() override;
    void onDisable() override;
    void onSuspend() override;
    void onResume() override;
    function::SetupReply onSetup(const proto::SetupPacket &setup) override;
    void onSetupDone(const proto::SetupPacket &setup,
                     const Result<std::vector<std::uint8_t>> &result) override;
    void readEndpointAddresses();
    // The metadata channel for a START with metadata (ControlProtocol::setMetadata()).
    MetaSink *metaSink();
    bool anyStreamSendsMetadata() const;
    // Binds the gadget to a UDC unless it is bound or the kernel is about to bind it again.
    Result<void> tryBind();
    // tryBind() for a UDC that just appeared: the kernel announces the UDC before it
    // registers the UDC's gadget device, and a bind in between fails with EBUSY, so that
    // one is tried again for a while.
    void bindAppeared();
    void onUevent(const Uevent &event);

    Config config_;
    std::function<void()> onFatal_;
    std::unique_ptr<iio::IioContext> iio_;
    std::vector<std::unique_ptr<Stream>> streams_;
    std::vector<PipelineStream *> pipelines_; // the same streams, for IIO hotplug
    std::unique_ptr<ControlProtocol> control_;
    std::unique_ptr<gadget::Gadget> gadget_;
    // The libiio interface (config libiio.enabled), the gadget's second function.
    std::unique_ptr<function::IiodFunction> iiod_;
    // The native interface (interface 0).
    std::unique_ptr<function::FfsFunction> native_;
    std::unique_ptr<gadget::UdcBinding> binding_;
    std::string boundUdc_;
    bool waitingLogged_ = false;
    bool unboundByHand_ = false;
    std::unique_ptr<UeventMonitor> uevents_;
    EventSourcePtr bindRetry_; // bindAppeared()'s timer (enabled while it waits)
    std::string appearedUdc_;
    unsigned bindRetries_ = 0;
    bool enabled_ = false;
    bool addressesKnown_ = false;
    EventLoop *loop_ = nullptr;
    std::unique_ptr<MetaChannel> meta_; // while a host is connected and asked for records
};

} // namespace iiousb
