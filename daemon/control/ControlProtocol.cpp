#include "control/ControlProtocol.h"

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Control, "control")

ControlProtocol::ControlProtocol(std::string serial, std::vector<Stream *> streams,
                                 std::uint16_t interfaceNumber)
    : serial_(std::move(serial)), streams_(std::move(streams)), interface_(interfaceNumber)
{
    for (std::size_t i = 0; i < streams_.size(); i++)
        endpoints_.push_back(proto::endpointAddress(i, streams_[i]->config().direction));
    rebuildInfo();
}

void ControlProtocol::setEndpointAddresses(const std::vector<std::uint8_t> &addresses)
{
    if (addresses.size() != streams_.size())
        return;
    endpoints_ = addresses;
    rebuildInfo();
}

proto::DeviceInfo ControlProtocol::deviceInfo() const
{
    proto::DeviceInfo info;
    info.serial = serial_;
    for (std::size_t i = 0; i < streams_.size(); i++) {
        proto::StreamInfo s = streams_[i]->info();
        s.index = static_cast<unsigned>(i);
        s.endpoint = endpoints_[i];
        info.streams.push_back(std::move(s));
    }
    return info;
}

void ControlProtocol::rebuildInfo()
{
    infoText_ = proto::encodeInfo(deviceInfo());
}

ControlProtocol::Reply ControlProtocol::handle(const proto::SetupPacket &setup)
{
    Reply reply;
    std::string error;
    auto req = proto::decodeRequest(setup, interface_, streams_.size(), &error);
    if (!req) {
        reply.reason = std::move(error);
        return reply;
    }
    switch (req->code) {
    case proto::RequestCode::GetInfo: {
        auto slice = proto::infoSlice(infoText_, req->value, req->length);
        reply.kind = Reply::Kind::Data;
        reply.data.assign(slice.begin(), slice.end());
        break;
    }
    case proto::RequestCode::Start: {
        Stream *s = streams_[req->value];
        const bool wasRunning = s->stats().state == proto::StreamState::Running;
        if (int r = s->start(); r < 0) {
            reply.reason = "START " + s->name() + ": " + errnoString(r);
            LOG(Control, Warning)
                            .field(log::kStream, s->name())
                            .field(log::kDevice, s->config().device)
                            .field(log::kEvent, "start-failed")
                    << "Stream " << s->name() << " failed to start: " << errnoString(r);
            return reply;
        }
        if (!wasRunning)
            LOG(Control, Info)
                            .field(log::kStream, s->name())
                            .field(log::kDevice, s->config().device)
                            .field(log::kEvent, "start")
                    << "Stream " << s->name() << " started by the host";
        reply.kind = Reply::Kind::Acknowledge;
        break;
    }
    case proto::RequestCode::Stop: {
        Stream *s = streams_[req->value];
        const bool wasRunning = s->stats().state == proto::StreamState::Running;
        s->stop();
        if (wasRunning)
            LOG(Control, Info)
                            .field(log::kStream, s->name())
                            .field(log::kDevice, s->config().device)
                            .field(log::kEvent, "stop")
                    << "Stream " << s->name() << " stopped by the host";
        reply.kind = Reply::Kind::Acknowledge;
        break;
    }
    case proto::RequestCode::GetStats: {
        auto record = proto::encodeStats(streams_[req->value]->stats());
        reply.kind = Reply::Kind::Data;
        reply.data.assign(record.begin(), record.end());
        break;
    }
    }
    return reply;
}

void ControlProtocol::disable()
{
    for (Stream *s : streams_) {
        if (s->stats().state == proto::StreamState::Running)
            LOG(Control, Info)
                            .field(log::kStream, s->name())
                            .field(log::kDevice, s->config().device)
                            .field(log::kEvent, "disconnect")
                    << "Host gone: stopping stream " << s->name();
        s->usbDisabled();
    }
}

} // namespace iiousb
