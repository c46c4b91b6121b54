// The iiousb vendor control protocol (docs/protocol.md) on top of the Stream interface:
// decides the answer to each SETUP the function receives. No USB I/O here: the caller
// carries the answer out on ep0.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "protocol/Protocol.h"
#include "stream/Stream.h"

namespace iiousb {

class ControlProtocol {
public:
    struct Reply {
        // ReceiveData: read the request's data stage from ep0 and pass it to handleData()
        // (a data stage cannot be refused once it is read: errors go to the log and
        // GET_STATS).
        enum class Kind { Stall, Acknowledge, Data, ReceiveData };
        Kind kind = Kind::Stall;
        std::vector<std::uint8_t> data; // Kind::Data
        std::string reason;             // Kind::Stall: why (for the log)
    };

    // `streams` in endpoint order; they must outlive this object.
    ControlProtocol(std::string serial, std::vector<Stream *> streams,
                    std::uint16_t interfaceNumber = 0);

    // The endpoint addresses the UDC assigned (one per stream, in order); until called, the
    // requested ones (proto::endpointAddress()) are reported.
    void setEndpointAddresses(const std::vector<std::uint8_t> &addresses);

    // The metadata endpoint's address (GET_INFO `meta-ep`; 0: none) and where a START with
    // proto::kStartWithMetadata gets its sink (nullptr: refused, e.g. no host connected). The
    // provider is asked after the stream stopped, so it may start a fresh channel when no
    // other stream sends records.
    using MetaProvider = std::function<MetaSink *()>;
    void setMetadata(std::uint8_t endpoint, MetaProvider provider);

    // The GET_INFO text. It changes only when a stream's IIO device appears or goes away
    // (refreshInfo()).
    const std::string &infoText() const { return infoText_; }
    void refreshInfo() { rebuildInfo(); }
    proto::DeviceInfo deviceInfo() const;

    Reply handle(const proto::SetupPacket &setup);

    // The data stage of a request handle() answered with ReceiveData.
    void handleData(const proto::SetupPacket &setup, std::span<const std::uint8_t> data);

    // The host deconfigured the interface or went away: every stream stops.
    void disable();

private:
    void rebuildInfo();

    std::string serial_;
    std::vector<Stream *> streams_;
    std::vector<std::uint8_t> endpoints_;
    std::uint8_t metaEndpoint_ = 0;
    MetaProvider metaProvider_;
    std::uint16_t interface_;
    std::string infoText_;
};

} // namespace iiousb
