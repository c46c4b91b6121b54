// The blobs written to a FunctionFS ep0 before it goes live: descriptors
// (FUNCTIONFS_DESCRIPTORS_MAGIC_V2 with full-, high- and SuperSpeed sets) and strings.
//
// iiousb's function is one vendor interface (docs/protocol.md) with one bulk endpoint per
// stream, in stream order: rx streams get IN endpoints, tx streams OUT endpoints. The
// addresses written here (1, 2, ... in order) are requests: the UDC's autoconfig may assign
// others, which the daemon reads back after ENABLE (FUNCTIONFS_ENDPOINT_DESC).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/Protocol.h"

namespace iiousb::ffs {

// `metadata`: one more endpoint after the streams', the metadata one (docs/protocol.md,
// "Metadata"): interrupt IN, wMaxPacketSize 64/1024/1024, polled every (micro)frame.
std::vector<std::uint8_t> buildDescriptors(std::span<const proto::Direction> endpoints,
                                           bool metadata = false);

struct InterfaceClass {
    std::uint8_t interfaceClass = 0;
    std::uint8_t subClass = 0;
    std::uint8_t protocol = 0;
};

// The general form: one interface of class `cls` with bulk endpoints at the requested
// `addresses` (bit 7 set: IN), in that order, and a SuperSpeed companion with
// proto::kSuperSpeedMaxBurst after each one at SuperSpeed.
std::vector<std::uint8_t> buildDescriptors(std::span<const std::uint8_t> addresses,
                                           const InterfaceClass &cls);

struct EndpointSpec {
    std::uint8_t address = 0; // requested; bit 7: IN
    bool interrupt = false;   // else bulk
};
std::vector<std::uint8_t> buildDescriptors(std::span<const EndpointSpec> endpoints,
                                           const InterfaceClass &cls);

// One string (iInterface = 1), US English.
std::vector<std::uint8_t> buildStrings(std::string_view interfaceName);

} // namespace iiousb::ffs
