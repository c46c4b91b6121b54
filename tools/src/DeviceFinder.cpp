#include "DeviceFinder.h"

#include <cstdio>

#include "protocol/Protocol.h"

namespace iiousb::tool {

std::optional<InterfaceMatch> findIiousbInterface(const libusb_config_descriptor &config)
{
    for (int i = 0; i < config.bNumInterfaces; ++i) {
        const libusb_interface &intf = config.interface[i];
        for (int a = 0; a < intf.num_altsetting; ++a) {
            const libusb_interface_descriptor &alt = intf.altsetting[a];
            if (alt.bAlternateSetting != 0 || alt.bInterfaceClass != proto::kInterfaceClass ||
                alt.bInterfaceSubClass != proto::kInterfaceSubClass)
                continue;
            InterfaceMatch match;
            match.number = alt.bInterfaceNumber;
            match.protocol = alt.bInterfaceProtocol;
            for (int e = 0; e < alt.bNumEndpoints; ++e) {
                const libusb_endpoint_descriptor &ep = alt.endpoint[e];
                if ((ep.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
                    continue;
                match.endpoints.push_back({ep.bEndpointAddress,
                                           static_cast<std::uint16_t>(ep.wMaxPacketSize & 0x7ff)});
            }
            return match;
        }
    }
    return std::nullopt;
}

std::string speedName(int speed)
{
    switch (speed) {
    case LIBUSB_SPEED_LOW:
        return "low (1.5 Mbit/s)";
    case LIBUSB_SPEED_FULL:
        return "full (12 Mbit/s)";
    case LIBUSB_SPEED_HIGH:
        return "high (480 Mbit/s)";
    case LIBUSB_SPEED_SUPER:
        return "super (5 Gbit/s)";
    case LIBUSB_SPEED_SUPER_PLUS:
        return "super+ (10 Gbit/s)";
    default:
        return "unknown";
    }
}

std::string usbIdText(std::uint16_t vendor, std::uint16_t product)
{
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04x:%04x", vendor, product);
    return buf;
}

Expected<std::vector<DeviceCandidate>> findCandidates(libusb_context *ctx,
                                                      const std::optional<UsbId> &filter)
{
    auto devices = listUsbDevices(ctx);
    if (!devices)
        return devices.error();
    std::vector<DeviceCandidate> found;
    for (const UsbDevice &dev : *devices) {
        libusb_device_descriptor desc{};
        if (libusb_get_device_descriptor(dev.get(), &desc) < 0)
            continue;
        if (filter && (desc.idVendor != filter->vendor || desc.idProduct != filter->product))
            continue;
        // Hubs and unconfigured devices have no (interesting) active configuration.
        auto config = activeConfigDescriptor(dev);
        if (!config)
            continue;
        auto match = findIiousbInterface(**config);
        if (!match)
            continue;
        DeviceCandidate c;
        c.device = dev;
        c.vendor = desc.idVendor;
        c.product = desc.idProduct;
        c.serialIndex = desc.iSerialNumber;
        c.speed = libusb_get_device_speed(dev.get());
        c.interface = std::move(*match);
        found.push_back(std::move(c));
    }
    return found;
}

std::string noDeviceMessage(const Options &opts)
{
    std::string text = "no iiousb device found (looked for a USB interface with class ff, "
                       "subclass 49";
    if (opts.usbId)
        text += " on " + usbIdText(opts.usbId->vendor, opts.usbId->product);
    if (!opts.serial.empty())
        text += " and serial " + opts.serial;
    return text + "). Is iiousbd running on the board and its USB cable connected? 'lsusb' "
                  "shows what the host sees.";
}

Expected<OpenedDevice> openDevice(libusb_context *ctx, const Options &opts)
{
    auto candidates = findCandidates(ctx, opts.usbId);
    if (!candidates)
        return candidates.error();
    if (candidates->empty())
        return Error{noDeviceMessage(opts)};

    std::vector<OpenedDevice> matches;
    std::optional<Error> openError;
    std::vector<std::string> otherSerials;
    for (DeviceCandidate &c : *candidates) {
        auto handle = UsbDeviceHandle::open(c.device);
        if (!handle) {
            // Without access the serial cannot be read; remember why for the message.
            if (!openError)
                openError = handle.error();
            continue;
        }
        std::string serial = handle->stringDescriptor(c.serialIndex);
        if (!opts.serial.empty() && serial != opts.serial) {
            otherSerials.push_back(serial.empty() ? "(none)" : serial);
            continue;
        }
        matches.push_back({std::move(c), std::move(*handle), std::move(serial)});
    }

    if (matches.empty()) {
        if (openError)
            return *openError;
        std::string list;
        for (const std::string &s : otherSerials)
            list += (list.empty() ? "" : ", ") + s;
        return Error{"no iiousb device with serial '" + opts.serial + "' (found: " + list + ")"};
    }
    if (matches.size() > 1) {
        std::string list;
        for (const OpenedDevice &m : matches)
            list += (list.empty() ? "" : ", ") +
                    (m.serial.empty() ? m.candidate.device.location() : m.serial);
        return Error{std::to_string(matches.size()) + " iiousb devices found (" + list +
                     "): choose one with -d SERIAL (see 'iiousb list')"};
    }
    OpenedDevice &dev = matches.front();
    if (dev.candidate.interface.protocol != proto::kInterfaceProtocol)
        return Error{
                "the iiousb device on " + dev.candidate.device.location() +
                " speaks protocol version " + std::to_string(dev.candidate.interface.protocol) +
                "; this iiousb understands version " + std::to_string(proto::kInterfaceProtocol)};
    return std::move(dev);
}

} // namespace iiousb::tool
