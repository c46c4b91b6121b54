// What `iiousb info`, `stats` and `list` print: plain text for people, JSON for programs.
// Pure functions of decoded protocol data, so they are unit tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/Protocol.h"

namespace iiousb::tool {

// What the host knows about the device from USB itself.
struct UsbSummary {
    unsigned bus = 0;
    unsigned address = 0;
    std::uint16_t vendor = 0;
    std::uint16_t product = 0;
    std::string speed;  // speedName()
    std::string serial; // USB serial number string
    int interfaceNumber = 0;
};

std::string infoText(const proto::DeviceInfo &info, const UsbSummary &usb);
std::string infoJson(const proto::DeviceInfo &info, const UsbSummary &usb);

struct StreamStats {
    const proto::StreamInfo *stream = nullptr;
    proto::Stats stats;
};
std::string statsText(const std::vector<StreamStats> &streams);
std::string statsJson(const std::vector<StreamStats> &streams);

// One device in `iiousb list`. `info` is empty when the device could not be asked (no
// access, busy); `problem` then says why.
struct ListEntry {
    UsbSummary usb;
    unsigned protocol = 0;
    std::optional<proto::DeviceInfo> info;
    std::string problem;
    unsigned endpoints = 0; // bulk endpoints on the interface (streams, without GET_INFO)
};
std::string listText(const std::vector<ListEntry> &entries);
std::string listJson(const std::vector<ListEntry> &entries);

// The stream named or numbered by `key` ("rx0", "0").
const proto::StreamInfo *findStream(const proto::DeviceInfo &info, std::string_view key);

// The scan index of an IIO channel from its id: the number at its end ("voltage3" -> 3).
std::optional<unsigned> channelScanIndex(std::string_view id);

} // namespace iiousb::tool
