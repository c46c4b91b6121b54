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

std::vector<std::uint8_t> buildDescriptors(std::span<const proto::Direction> endpoints);

// One string (iInterface = 1), US English.
std::vector<std::uint8_t> buildStrings(std::string_view interfaceName);

} // namespace iiousb::ffs
