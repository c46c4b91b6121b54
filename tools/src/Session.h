// One open iiousb device for a command: the libusb context, the device handle, the claimed
// interface and the device description, torn down in reverse order.
#pragma once

#include <memory>
#include <optional>

#include "ControlClient.h"
#include "DeviceFinder.h"
#include "Expected.h"
#include "Options.h"
#include "Report.h"
#include "Usb.h"
#include "protocol/Protocol.h"

namespace iiousb::tool {

class Session {
public:
    // Finds the device the options choose, claims its interface and reads GET_INFO.
    static Expected<std::unique_ptr<Session>> open(const Options &opts);

    const proto::DeviceInfo &info() const { return info_; }
    const ControlClient &control() const { return *control_; }
    const OpenedDevice &device() const { return device_; }
    libusb_context *context() const { return ctx_.get(); }
    UsbSummary usbSummary() const;

    // The stream named or numbered `key`, checked against the interface's endpoints.
    Expected<const proto::StreamInfo *> stream(std::string_view key) const;

private:
    Session(UsbContext ctx, OpenedDevice device) : ctx_(std::move(ctx)), device_(std::move(device))
    {}

    // Declaration order is construction order; destruction runs backwards: release the
    // interface, close the device, exit libusb.
    UsbContext ctx_;
    OpenedDevice device_;
    std::optional<InterfaceClaim> claim_;
    std::optional<ControlClient> control_;
    proto::DeviceInfo info_;
};

UsbSummary usbSummaryOf(const DeviceCandidate &candidate, const std::string &serial);

} // namespace iiousb::tool
