#include "control/ControlProtocol.h"

#include <algorithm>
#include <cstddef>

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Control, "control")

namespace {

bool running(const Stream &s)
{
    return s.stats().state == proto::StreamState::Running;
}

} // namespace

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

void ControlProtocol::setMetadata(std::uint8_t endpoint, MetaProvider provider)
{
    metaEndpoint_ = endpoint;
    metaProvider_ = std::move(provider);
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
    if (metaEndpoint_) {
        info.metaEndpoint = metaEndpoint_;
        info.metaVersion = proto::kMetaVersion;
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
    const bool startOrStop =
            req->code == proto::RequestCode::Start || req->code == proto::RequestCode::Stop;
    const bool wasRunning = startOrStop && running(*streams_[req->value]);
    switch (req->code) {
    case proto::RequestCode::GetInfo: {
        auto slice = proto::infoSlice(infoText_, req->value, req->length);
        reply.kind = Reply::Kind::Data;
        reply.data.assign(slice.begin(), slice.end());
        break;
    }
    case proto::RequestCode::Start: {
        Stream *s = streams_[req->value];
        if (req->metadata) {
            // A restart ends the stream's records first, so that the provider sees whether
            // any other stream still sends some.
            s->stop();
            MetaSink *sink = metaProvider_ ? metaProvider_() : nullptr;
            if (!sink) {
                reply.reason = "START " + s->name() +
                               " with metadata: the device has no "
                               "metadata endpoint (functionfs.metadata is off) or it is not open";
                return reply;
            }
            if (int r = s->startWithMetadata(*sink, static_cast<std::uint8_t>(req->value)); r < 0) {
                reply.reason = "START " + s->name() + ": " + errnoString(r);
                return reply;
            }
        } else if (int r = s->start(); r < 0) {
            reply.reason = "START " + s->name() + ": " + errnoString(r);
            return reply;
        }
        reply.kind = Reply::Kind::Acknowledge;
        break;
    }
    case proto::RequestCode::StartCyclic: {
        // Checked before the data stage is read, while it can still be stalled.
        Stream *s = streams_[req->value];
        if (s->config().direction != proto::Direction::Tx) {
            reply.reason = "START_CYCLIC " + s->name() + ": not a tx stream";
            return reply;
        }
        if (s->stats().state == proto::StreamState::Running) {
            reply.reason = "START_CYCLIC " + s->name() + ": the stream is running (STOP it first)";
            return reply;
        }
        reply.kind = Reply::Kind::ReceiveData;
        break;
    }
    case proto::RequestCode::Stop:
        streams_[req->value]->stop();
        reply.kind = Reply::Kind::Acknowledge;
        break;
    case proto::RequestCode::GetStats: {
        // A host that asks for fewer bytes than the record (>= 64, decodeRequest) gets its
        // beginning: fields are only ever appended (docs/protocol.md).
        auto record = proto::encodeStats(streams_[req->value]->stats());
        const std::size_t n = std::min<std::size_t>(req->length, record.size());
        reply.kind = Reply::Kind::Data;
        reply.data.assign(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(n));
        break;
    }
    }
    // One journal entry per stream state change the host caused.
    if (startOrStop && running(*streams_[req->value]) != wasRunning) {
        const Stream &s = *streams_[req->value];
        LOG(Control, Info)
                        .hostTriggered()
                        .field(log::kStream, s.name())
                        .field(log::kDevice, s.config().device)
                        .field(log::kEvent, wasRunning ? "stop" : "start")
                << "Stream " << s.name() << (wasRunning ? " stopped" : " started")
                << " by the host";
    }
    return reply;
}

void ControlProtocol::handleData(const proto::SetupPacket &setup,
                                 std::span<const std::uint8_t> data)
{
    auto req = proto::decodeRequest(setup, interface_, streams_.size());
    if (!req || req->code != proto::RequestCode::StartCyclic ||
        data.size() != proto::kCyclicDataSize)
        return;
    const std::uint64_t bytes = proto::decodeCyclicLength(data.first<proto::kCyclicDataSize>());
    // A refusal is logged by the stream and shows in GET_STATS (state failed).
    (void)streams_[req->value]->startCyclic(bytes);
}

void ControlProtocol::disable()
{
    for (Stream *s : streams_) {
        if (running(*s))
            LOG(Control, Info)
                            .hostTriggered()
                            .field(log::kStream, s->name())
                            .field(log::kDevice, s->config().device)
                            .field(log::kEvent, "disconnect")
                    << "Stream " << s->name() << " stopped: the host went away";
        s->usbDisabled();
    }
}

} // namespace iiousb
