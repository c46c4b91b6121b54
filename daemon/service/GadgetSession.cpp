#include "service/GadgetSession.h"

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "ffs/FfsDescriptors.h"
#include "ffs/FfsEndpoint.h"
#include "log/Log.h"
#include "stream/PipelineStream.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Session, "session")

namespace {

std::string hex2(unsigned v)
{
    char buf[8];
    snprintf(buf, sizeof(buf), "0x%02x", v & 0xff);
    return buf;
}

} // namespace

Result<std::unique_ptr<GadgetSession>> GadgetSession::create(const Config &config, EventLoop &loop,
                                                             std::function<void()> onFatal)
{
    std::unique_ptr<GadgetSession> session(new GadgetSession(config, std::move(onFatal)));
    session->setUpStreams(loop);
    if (auto r = session->bringUp(loop); !r)
        return r.takeError(); // ~GadgetSession() unwinds what bringUp() did
    return session;
}

void GadgetSession::setUpStreams(EventLoop &loop)
{
    auto ctx = iio::IioContext::createLocal();
    if (ctx)
        iio_ = std::move(*ctx);
    else
        LOG(Session, Warning) << ctx.error().message;

    std::vector<Stream *> raw;
    for (const StreamConfig &sc : config_.streams) {
        auto desc = describeStream(iio_.get(), sc, ctx ? std::string() : ctx.error().message);
        // Endpoint files are numbered in stream order (ep1 is the first stream's).
        const std::string ep =
                config_.functionfs.mountPoint + "/ep" + std::to_string(streams_.size() + 1);
        auto stream = std::make_unique<PipelineStream>(sc, std::move(desc), loop, ep);
        pipelines_.push_back(stream.get());
        raw.push_back(stream.get());
        streams_.push_back(std::move(stream));
    }
    control_ = std::make_unique<ControlProtocol>(config_.gadget.serial, std::move(raw));
}

Result<iio::IioStreamDescription> GadgetSession::describeStream(iio::IioContext *ctx,
                                                                const StreamConfig &sc,
                                                                const std::string &noContext)
{
    Result<iio::IioStreamDescription> desc = makeError(-ENODEV, noContext);
    if (ctx) {
        if (auto applied = ctx->applyAttributes(sc); applied)
            desc = ctx->describe(sc);
        else
            desc = applied.takeError();
    }
    if (desc) {
        LOG(Session, Info) << "Stream " << sc.name << " (" << proto::directionName(sc.direction)
                           << "): IIO " << desc->deviceId << " (" << desc->deviceName << "), "
                           << desc->channels.size() << " channels, " << desc->sampleBytes
                           << " bytes per sample set, " << desc->rate << " Hz";
    } else {
        LOG(Session, Error) << "Stream " << sc.name << " failed: " << desc.error().message;
    }
    return desc;
}

void GadgetSession::onIioUevent(const Uevent &ev)
{
    const std::string device = ev.name();
    if (device.rfind("iio:device", 0) != 0)
        return; // triggers live on the IIO bus too
    if (iiod_ && (ev.action == "add" || ev.action == "remove"))
        iiod_->iioDevicesChanged();
    bool changed = false;
    if (ev.action == "remove") {
        for (PipelineStream *p : pipelines_) {
            if (p->iioDeviceId() == device) {
                p->iioDeviceRemoved();
                changed = true;
            }
        }
    } else if (ev.action == "add") {
        // A device that probes late (an FPGA design loaded after boot) or comes back under a
        // new id: look for every stream that has none. libiio's local context is a snapshot,
        // so a new one is taken.
        bool missing = false;
        for (PipelineStream *p : pipelines_)
            missing = missing || p->iioDeviceId().empty();
        if (!missing)
            return;
        LOG(Session, Info) << "IIO device " << device << " appeared";
        auto ctx = iio::IioContext::createLocal();
        if (!ctx) {
            LOG(Session, Warning) << ctx.error().message;
            return;
        }
        iio_ = std::move(*ctx);
        for (PipelineStream *p : pipelines_) {
            // Quietly for the streams that are not about this device.
            if (!p->iioDeviceId().empty() || !iio_->describe(p->config()))
                continue;
            if (auto desc = describeStream(iio_.get(), p->config(), {}); desc) {
                p->setIioDevice(std::move(*desc));
                changed = true;
            }
        }
    }
    if (changed)
        control_->refreshInfo();
}

Result<void> GadgetSession::bringUp(EventLoop &loop)
{
    loop_ = &loop;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string &name = config_.gadget.name;
    const std::string &instance = config_.functionfs.instance;

    // A killed instance leaves its gadget (unbound by the kernel when ep0 closed) and its
    // mount behind: unbind, unmount, remove, in that order.
    std::vector<std::string> instances{instance};
    if (config_.libiio.enabled)
        instances.push_back(config_.libiio.instance);
    auto stale = gadget::Gadget::removeStale(name, [&]() -> Result<void> {
        for (const std::string &i : instances) {
            auto n = ffs::FfsMount::unmountStale(i);
            if (!n)
                return n.takeError();
        }
        return {};
    });
    if (!stale)
        return stale.takeError();
    if (*stale)
        LOG(Session, Notice) << "Cleaned up the stale gadget '" << name << "'";

    auto g = gadget::Gadget::create(config_.gadget, instances);
    if (!g)
        return g.takeError();
    gadget_ = std::move(*g);

    std::vector<proto::Direction> dirs;
    for (const auto &s : config_.streams)
        dirs.push_back(s.direction);
    function::FfsFunctionOptions fo;
    fo.name = "native";
    fo.instance = instance;
    fo.mountPoint = config_.functionfs.mountPoint;
    // The metadata endpoint comes after the streams' (docs/protocol.md, "Metadata").
    fo.descriptors = ffs::buildDescriptors(dirs, config_.functionfs.metadata);
    fo.strings = ffs::buildStrings(proto::kInterfaceString);
    fo.endpoints = dirs.size() + (config_.functionfs.metadata ? 1 : 0);
    auto native = function::FfsFunction::create(loop, std::move(fo), *this, onFatal_);
    if (!native)
        return native.takeError();
    native_ = std::move(*native);
    if (config_.functionfs.metadata)
        control_->setMetadata(proto::endpointAddress(config_.streams.size(), proto::Direction::Rx),
                              [this] { return metaSink(); });

    // The libiio interface's descriptors are written before the UDC is bound too.
    if (config_.libiio.enabled) {
        function::IiodFunctionOptions io;
        io.instance = config_.libiio.instance;
        io.mountPoint = config_.libiio.mountPoint;
        io.pipes = config_.libiio.pipes;
        io.backend.allowWrites = config_.libiio.attributeWrites;
        io.backend.allowDebug = config_.libiio.debugAttributes;
        io.backend.zeroCopy = config_.libiio.zeroCopy;
        io.backend.heap = config_.libiio.dmabufHeap;
        io.backend.buffers = config_.libiio.buffers;
        io.backend.devices = config_.libiio.devices;
        auto f = function::IiodFunction::create(loop, std::move(io), [this] {
            if (onFatal_)
                onFatal_();
        });
        if (!f)
            return f.takeError();
        iiod_ = std::move(*f);
    }

    // UDCs that appear later (a module loaded after us, an OTG role switch, a UDC driver
    // bound again) are bound from the uevents.
    auto monitor =
            UeventMonitor::create(loop, {"udc", "iio"}, [this](const Uevent &ev) { onUevent(ev); });
    if (!monitor)
        return monitor.takeError();
    uevents_ = std::move(*monitor);

    if (auto r = tryBind(); !r)
        return r.takeError();

    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
    char ids[16];
    snprintf(ids, sizeof(ids), "%04x:%04x", config_.gadget.vendorId, config_.gadget.productId);
    LOG(Session, Info) << "Gadget '" << name << "' (" << ids << ") "
                       << (bound() ? "bound to " + boundUdc_ : std::string("set up")) << " with "
                       << streams_.size() << " streams, FunctionFS on " << native_->mountPoint()
                       << (iiod_ ? " and the libiio interface (" +
                                           std::to_string(config_.libiio.pipes) + " pipes) on " +
                                           config_.libiio.mountPoint
                                 : std::string())
                       << " (bring-up " << ms << " ms)";
    return {};
}

GadgetSession::~GadgetSession()
{
    // Reverse order of bring-up. A control transfer still waiting for the host is cancelled
    // first (f_fs's unbind waits for the mutex that stage holds). Streams stop before the
    // UDC goes (no transfers in flight across an unbind), and release their endpoint files
    // before ep0 closes and FunctionFS is unmounted.
    if (native_)
        native_->stop();
    if (control_)
        control_->disable();
    if (iiod_)
        iiod_->stop(); // its pipes' sessions and ep0 stage end before the unbind
    binding_.reset();
    meta_.reset();
    control_.reset();
    streams_.clear();
    native_.reset();
    iiod_.reset();
    gadget_.reset();
    iio_.reset();
}

const std::string &GadgetSession::udc() const
{
    return boundUdc_;
}

Result<void> GadgetSession::tryBind()
{
    if (bound() || unboundByHand_)
        return {};
    const std::string wanted = config_.gadget.udc.empty() ? "any free UDC" : config_.gadget.udc;
    const std::string pending = gadget_->udcAttribute();
    if (!pending.empty()) {
        // The gadget was bound to a UDC that went away. The kernel binds it again when a UDC
        // of that name comes back; one of another name gets it only once the old name is
        // cleared (a binding to "any free UDC" that came back under a new name).
        if (gadget::Gadget::udcExists(pending) || !config_.gadget.udc.empty())
            return {};
        binding_.reset();
    }
    auto b = gadget_->bind(config_.gadget.udc);
    if (!b) {
        if (b.error().code != -ENODEV)
            return b.takeError();
        if (!waitingLogged_)
            LOG(Session, Notice).field(log::kEvent, "udc-wait")
                    << b.error().message << ": waiting for " << wanted << " to appear";
        waitingLogged_ = true;
        return {};
    }
    binding_ = std::move(*b);
    boundUdc_ = binding_->udc();
    waitingLogged_ = false;
    return {};
}

void GadgetSession::onUevent(const Uevent &ev)
{
    if (ev.subsystem == "iio") {
        onIioUevent(ev);
        return;
    }
    if (ev.subsystem != "udc")
        return;
    if (ev.action == "add") {
        LOG(Session, Info) << "UDC " << ev.name() << " appeared";
        appearedUdc_ = ev.name();
        bindRetries_ = 0;
        bindAppeared();
    } else if (ev.action == "remove") {
        LOG(Session, Info) << "UDC " << ev.name() << " went away";
    }
}

void GadgetSession::bindAppeared()
{
    // usb_add_gadget() (drivers/usb/gadget/udc/core.c) adds the UDC's class device, whose
    // uevent brings us here, before the gadget device a gadget driver binds to: a bind in
    // between finds no gadget device and fails with EBUSY ("couldn't find an available UDC
    // or it's busy"). That window is short; 40 tries 50 ms apart cover a slow machine.
    constexpr unsigned kTries = 40;
    constexpr auto kInterval = std::chrono::milliseconds(50);
    auto r = tryBind();
    if (!r && r.error().code == -EBUSY && ++bindRetries_ < kTries) {
        if (bindRetries_ == 1)
            LOG(Session, Debug) << r.error().message << ": UDC " << appearedUdc_
                                << " not ready for a gadget yet, trying again";
        if (bindRetry_) {
            bindRetry_->setEnabled(true);
            return;
        }
        // (Disabled, not destroyed, when done: this runs from its handler.)
        auto t = loop_->addPeriodicTimer(kInterval, [this] { bindAppeared(); });
        if (t) {
            bindRetry_ = std::move(*t);
            return;
        }
        LOG(Session, Error) << t.error().message;
    }
    if (bindRetry_)
        bindRetry_->setEnabled(false);
    if (!r)
        LOG(Session, Error) << r.error().message
                            << (bindRetries_ > 1
                                        ? " (tried " + std::to_string(bindRetries_) +
                                                  " times since UDC " + appearedUdc_ + " appeared)"
                                        : std::string());
    else if (bound())
        LOG(Session, Notice).field(log::kEvent, "udc-bound")
                << "Gadget '" << config_.gadget.name << "' bound to " << boundUdc_;
}

std::string GadgetSession::status() const
{
    std::ostringstream s;
    s << "Gadget " << config_.gadget.name << " on " << (bound() ? udc() : "no UDC") << ", host "
      << (enabled_ ? "connected" : "not connected");
    for (const auto &st : streams_)
        s << "; " << st->name() << " " << proto::stateName(st->stats().state);
    return s.str();
}

void GadgetSession::onBind()
{
    // Also the kernel binding the gadget again to a UDC that came back, or someone writing
    // configfs's UDC attribute.
    boundUdc_ = gadget_->udcAttribute();
    unboundByHand_ = false;
    LOG(Session, Info) << "FunctionFS BIND (UDC " << boundUdc_ << ")";
    addressesKnown_ = false;
}

void GadgetSession::onUnbind()
{
    // The UDC went away (module unloaded, OTG role switch: the kernel keeps its name in
    // configfs and binds the gadget again when it comes back; a UDC that appears under
    // another name is bound from its uevent), or someone unbound the gadget by hand
    // (configfs's UDC attribute is empty): that is respected until the gadget is bound
    // again by hand or the daemon restarts. A bind of ours that failed can end in an
    // UNBIND too, of a gadget never bound as far as we know (f_fs drops a BIND event that
    // an UNBIND follows): the kernel found the UDC's gadget device between its EBUSY check
    // and its cleanup (bindAppeared()). That is no unbind by hand.
    enabled_ = false;
    addressesKnown_ = false;
    if (boundUdc_.empty()) {
        LOG(Session, Debug) << "FunctionFS UNBIND of a gadget not bound (a bind that failed)";
        return;
    }
    unboundByHand_ = gadget_->udcAttribute().empty();
    LOG(Session, Notice).field(log::kEvent, "udc-unbound")
            << "FunctionFS UNBIND: gadget '" << config_.gadget.name << "' is no longer bound to "
            << boundUdc_
            << (unboundByHand_ ? " (unbound through configfs: not binding it again)"
                               : " (its UDC went away: waiting for it)");
    boundUdc_.clear();
    control_->disable();
    meta_.reset();
}

void GadgetSession::onEnable()
{
    LOG(Session, Info) << "FunctionFS ENABLE: host configured the interface";
    enabled_ = true;
    if (!addressesKnown_)
        readEndpointAddresses();
}

void GadgetSession::onDisable()
{
    LOG(Session, Info) << "FunctionFS DISABLE: interface deconfigured or bus reset";
    enabled_ = false;
    control_->disable();
    meta_.reset();
}

bool GadgetSession::anyStreamSendsMetadata() const
{
    return std::any_of(streams_.begin(), streams_.end(),
                       [](const auto &s) { return s->sendsMetadata(); });
}

MetaSink *GadgetSession::metaSink()
{
    if (!enabled_)
        return nullptr;
    if (anyStreamSendsMetadata())
        return meta_.get();
    // No stream sends records: a fresh channel, without what an earlier host left unread.
    meta_.reset();
    auto m = MetaChannel::open(*loop_, native_->endpointPath(streams_.size() + 1));
    if (!m) {
        LOG(Session, Warning) << m.error().message;
        return nullptr;
    }
    meta_ = std::move(*m);
    return meta_.get();
}

void GadgetSession::onSuspend()
{
    LOG(Session, Info) << "FunctionFS SUSPEND";
}

void GadgetSession::onResume()
{
    LOG(Session, Info) << "FunctionFS RESUME";
}

function::SetupReply GadgetSession::onSetup(const proto::SetupPacket &setup)
{
    using function::SetupReply;
    ControlProtocol::Reply reply = control_->handle(setup);
    // The metadata channel lives while a stream sends records (a STOP may end the last).
    if (meta_ && !anyStreamSendsMetadata())
        meta_.reset();
    switch (reply.kind) {
    case ControlProtocol::Reply::Kind::Stall:
        return SetupReply::stall(reply.reason);
    case ControlProtocol::Reply::Kind::Acknowledge:
        return SetupReply::acknowledge();
    case ControlProtocol::Reply::Kind::ReceiveData:
        return {SetupReply::Kind::Receive, {}, {}};
    case ControlProtocol::Reply::Kind::Data:
        return {SetupReply::Kind::Data, std::move(reply.data), {}};
    }
    return SetupReply::stall("unknown reply");
}

void GadgetSession::onSetupDone(const proto::SetupPacket &setup,
                                const Result<std::vector<std::uint8_t>> &result)
{
    // Only a Receive stage (host to device with data) has data to hand on.
    if (result && (setup.requestType & 0x80) == 0 && setup.length > 0)
        control_->handleData(setup, result.value());
}

void GadgetSession::readEndpointAddresses()
{
    // The UDC's autoconfig may give other endpoint numbers than the descriptors ask for;
    // FUNCTIONFS_ENDPOINT_DESC returns the descriptor the host sees (endpoints are enabled
    // before f_fs posts ENABLE).
    std::vector<std::uint8_t> addresses;
    for (std::size_t i = 1; i <= streams_.size(); i++) {
        auto desc = ffs::FfsEndpoint::descriptorOf(native_->endpointPath(i));
        if (!desc) {
            LOG(Session, Warning) << desc.error().message;
            return;
        }
        addresses.push_back(desc->bEndpointAddress);
    }
    control_->setEndpointAddresses(addresses);
    addressesKnown_ = true;
    std::ostringstream s;
    for (std::size_t i = 0; i < addresses.size(); i++)
        s << (i ? ", " : "") << streams_[i]->name() << " " << hex2(addresses[i]);
    if (config_.functionfs.metadata) {
        if (auto desc = ffs::FfsEndpoint::descriptorOf(native_->endpointPath(streams_.size() + 1));
            desc) {
            control_->setMetadata(desc->bEndpointAddress, [this] { return metaSink(); });
            s << ", metadata " << hex2(desc->bEndpointAddress);
        }
    }
    LOG(Session, Info) << "Endpoints: " << s.str();
}

} // namespace iiousb
