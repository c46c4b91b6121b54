// The control requests of protocol v1 (GET_INFO, START, STOP, GET_STATS, START_CYCLIC) on an open
// device; the encoding and decoding is the shared iiousb_protocol library's.
#pragma once

#include <cstdint>
#include <string>

#include <libusb-1.0/libusb.h>

#include "Expected.h"
#include "protocol/Protocol.h"

namespace iiousb::tool {

class ControlClient {
public:
    // START and START_CYCLIC are answered once the device has set the stream's buffers up
    // (docs/protocol.md): they get startTimeoutMs, the other requests timeoutMs.
    ControlClient(libusb_device_handle *handle, std::uint16_t interfaceNumber,
                  unsigned timeoutMs = 2000, unsigned startTimeoutMs = 10000)
        : handle_(handle), interface_(interfaceNumber), timeoutMs_(timeoutMs),
          startTimeoutMs_(startTimeoutMs)
    {}

    // The info text, read slice by slice until a short reply.
    Expected<std::string> readInfoText() const;
    Expected<proto::DeviceInfo> readInfo() const;
    // `metadata`: proto::kStartWithMetadata (records on the metadata endpoint).
    Expected<void> start(unsigned stream, bool metadata = false) const;
    Expected<void> stop(unsigned stream) const;
    // START_CYCLIC: the device then takes a waveform of `bytes` on the stream's endpoint
    // and plays it until STOP.
    Expected<void> startCyclic(unsigned stream, std::uint64_t bytes) const;
    Expected<proto::Stats> stats(unsigned stream) const;

private:
    // Returns the bytes transferred or the libusb error, turned into a message naming the
    // request.
    Expected<int> transfer(proto::RequestCode code, std::uint16_t value, unsigned char *data,
                           std::uint16_t length, std::string_view what) const;
    unsigned timeoutFor(proto::RequestCode code) const;

    libusb_device_handle *handle_;
    std::uint16_t interface_;
    unsigned timeoutMs_;
    unsigned startTimeoutMs_;
};

} // namespace iiousb::tool
