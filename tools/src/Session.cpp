#include "Session.h"

#include <algorithm>

namespace iiousb::tool {

UsbSummary usbSummaryOf(const DeviceCandidate &c, const std::string &serial)
{
    UsbSummary usb;
    usb.bus = c.device.bus();
    usb.address = c.device.address();
    usb.vendor = c.vendor;
    usb.product = c.product;
    usb.speed = speedName(c.speed);
    usb.serial = serial;
    usb.interfaceNumber = c.interface.number;
    return usb;
}

UsbSummary Session::usbSummary() const
{
    return usbSummaryOf(device_.candidate, device_.serial);
}

Expected<std::unique_ptr<Session>> Session::open(const Options &opts)
{
    auto ctx = UsbContext::create();
    if (!ctx)
        return ctx.error();
    auto device = openDevice(ctx->get(), opts);
    if (!device)
        return device.error();
    std::unique_ptr<Session> session(new Session(std::move(*ctx), std::move(*device)));
    auto claim = InterfaceClaim::claim(session->device_.handle,
                                       session->device_.candidate.interface.number);
    if (!claim)
        return claim.error();
    session->claim_.emplace(std::move(*claim));
    session->control_.emplace(session->device_.handle.get(),
                              static_cast<std::uint16_t>(session->claim_->number()));
    auto info = session->control_->readInfo();
    if (!info)
        return info.error();
    session->info_ = std::move(*info);
    return session;
}

Expected<const proto::StreamInfo *> Session::stream(std::string_view key) const
{
    const proto::StreamInfo *s = findStream(info_, key);
    if (!s) {
        std::string names;
        for (const proto::StreamInfo &st : info_.streams)
            names += (names.empty() ? "" : ", ") + std::to_string(st.index) + " " + st.name;
        return Error{"no stream '" + std::string(key) +
                     "' on this device (streams: " + (names.empty() ? "none" : names) + ")"};
    }
    const auto &eps = device_.candidate.interface.endpoints;
    if (std::none_of(eps.begin(), eps.end(),
                     [&](const BulkEndpoint &ep) { return ep.address == s->endpoint; })) {
        char ep[8];
        std::snprintf(ep, sizeof(ep), "0x%02x", s->endpoint);
        return Error{"stream '" + s->name + "' names endpoint " + ep +
                     ", which the device's interface does not have"};
    }
    return s;
}

} // namespace iiousb::tool
