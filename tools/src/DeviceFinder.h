// Finding iiousb devices on the bus: by the interface triple the daemon exposes
// (class 0xff, subclass 0x49, protocol 1; docs/protocol.md), optionally restricted to a
// VID:PID, then by serial number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <libusb-1.0/libusb.h>

#include "Expected.h"
#include "Options.h"
#include "Usb.h"

namespace iiousb::tool {

struct BulkEndpoint {
    std::uint8_t address = 0;
    std::uint16_t maxPacket = 0;
};

// The iiousb interface found in a configuration descriptor.
struct InterfaceMatch {
    int number = 0;
    std::uint8_t protocol = 0;           // bInterfaceProtocol: the protocol version
    std::vector<BulkEndpoint> endpoints; // in descriptor order
};

// The first interface (alternate setting 0) with class 0xff and subclass 0x49, any protocol
// (the caller tells an unsupported version apart).
std::optional<InterfaceMatch> findIiousbInterface(const libusb_config_descriptor &config);

struct DeviceCandidate {
    UsbDevice device;
    std::uint16_t vendor = 0;
    std::uint16_t product = 0;
    std::uint8_t serialIndex = 0; // iSerialNumber
    int speed = LIBUSB_SPEED_UNKNOWN;
    InterfaceMatch interface;
};

// "high (480 Mbit/s)"
std::string speedName(int speed);
// "1d6b:0104"
std::string usbIdText(std::uint16_t vendor, std::uint16_t product);

// Every device with an iiousb interface (any protocol version); with a filter only those
// with that VID:PID.
Expected<std::vector<DeviceCandidate>> findCandidates(libusb_context *ctx,
                                                      const std::optional<UsbId> &filter);

// "no iiousb device found (looked for ...). Is iiousbd running ...?"
std::string noDeviceMessage(const Options &opts);

// An opened device chosen by the options (-d SERIAL, --usb VID:PID): exactly one must
// match. Devices speaking another protocol version are refused with a message saying so.
struct OpenedDevice {
    DeviceCandidate candidate;
    UsbDeviceHandle handle;
    std::string serial; // the USB serial number string, may be empty
};
Expected<OpenedDevice> openDevice(libusb_context *ctx, const Options &opts);

} // namespace iiousb::tool
