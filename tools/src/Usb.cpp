#include "Usb.h"

#include <cstdlib>

namespace iiousb::tool {

#ifndef IIOUSB_UDEV_RULE
#define IIOUSB_UDEV_RULE "60-iiousb.rules"
#endif

std::string usbErrorText(int code)
{
    return std::string(libusb_error_name(code)) + " (" +
           libusb_strerror(static_cast<libusb_error>(code)) + ")";
}

Expected<UsbContext> UsbContext::create()
{
    libusb_context *ctx = nullptr;
    int r = libusb_init(&ctx);
    if (r < 0)
        return Error{"cannot initialise libusb: " + usbErrorText(r)};
    return UsbContext(ctx);
}

std::string UsbDevice::location() const
{
    return "bus " + std::to_string(bus()) + " device " + std::to_string(address());
}

Expected<std::vector<UsbDevice>> listUsbDevices(libusb_context *ctx)
{
    libusb_device **list = nullptr;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return Error{"cannot list USB devices: " + usbErrorText(static_cast<int>(n))};
    std::vector<UsbDevice> devices;
    devices.reserve(static_cast<std::size_t>(n));
    for (ssize_t i = 0; i < n; ++i)
        devices.emplace_back(list[i]);
    libusb_free_device_list(list, 1); // our UsbDevice copies hold their own references
    return devices;
}

Expected<ConfigDescriptor> activeConfigDescriptor(const UsbDevice &dev)
{
    libusb_config_descriptor *desc = nullptr;
    int r = libusb_get_active_config_descriptor(dev.get(), &desc);
    if (r < 0)
        return Error{"cannot read the configuration descriptor of " + dev.location() + ": " +
                     usbErrorText(r)};
    return ConfigDescriptor(desc);
}

Expected<UsbDeviceHandle> UsbDeviceHandle::open(const UsbDevice &dev)
{
    libusb_device_handle *h = nullptr;
    int r = libusb_open(dev.get(), &h);
    if (r == LIBUSB_ERROR_ACCESS)
        return Error{"cannot open the iiousb device on " + dev.location() +
                     ": permission denied (/dev/bus/usb/" +
                     (dev.bus() < 10    ? "00"
                      : dev.bus() < 100 ? "0"
                                        : "") +
                     std::to_string(dev.bus()) + "/" +
                     (dev.address() < 10    ? "00"
                      : dev.address() < 100 ? "0"
                                            : "") +
                     std::to_string(dev.address()) +
                     ").\n  Install the udev rule " IIOUSB_UDEV_RULE
                     " (make install does), reload it with 'udevadm control --reload && "
                     "udevadm trigger', add yourself to group plugdev and log in again, or run "
                     "as root."};
    if (r == LIBUSB_ERROR_NO_DEVICE)
        return Error{"the iiousb device on " + dev.location() + " is gone (unplugged?)"};
    if (r < 0)
        return Error{"cannot open the iiousb device on " + dev.location() + ": " + usbErrorText(r)};
    return UsbDeviceHandle(dev, h);
}

std::string UsbDeviceHandle::stringDescriptor(std::uint8_t index) const
{
    if (index == 0)
        return {};
    unsigned char buf[256];
    int r = libusb_get_string_descriptor_ascii(handle_.get(), index, buf, sizeof(buf));
    if (r < 0)
        return {};
    return std::string(reinterpret_cast<const char *>(buf), static_cast<std::size_t>(r));
}

Expected<InterfaceClaim> InterfaceClaim::claim(const UsbDeviceHandle &handle, int interfaceNumber)
{
    // No kernel driver binds a vendor interface, but detach one if something did.
    libusb_set_auto_detach_kernel_driver(handle.get(), 1);
    int r = libusb_claim_interface(handle.get(), interfaceNumber);
    if (r == LIBUSB_ERROR_BUSY)
        return Error{"interface " + std::to_string(interfaceNumber) + " of the device on " +
                     handle.device().location() +
                     " is busy: another program (a running 'iiousb capture'?) has claimed it"};
    if (r == LIBUSB_ERROR_NO_DEVICE)
        return Error{"the device on " + handle.device().location() + " is gone (unplugged?)"};
    if (r < 0)
        return Error{"cannot claim interface " + std::to_string(interfaceNumber) + " on " +
                     handle.device().location() + ": " + usbErrorText(r)};
    return InterfaceClaim(handle.get(), interfaceNumber);
}

InterfaceClaim::~InterfaceClaim()
{
    // Releasing sends SET_INTERFACE, which per the protocol stops the device's streams too.
    if (handle_)
        libusb_release_interface(handle_, number_);
}

Expected<TransferBuffer> TransferBuffer::allocate(libusb_device_handle *handle, std::size_t size,
                                                  bool tryDevMem)
{
    if (tryDevMem) {
        if (unsigned char *p = libusb_dev_mem_alloc(handle, size))
            return TransferBuffer(handle, p, size, true);
    }
    void *p = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
    if (!p)
        return Error{"out of memory allocating a " + std::to_string(size) +
                     "-byte transfer buffer"};
    return TransferBuffer(handle, static_cast<unsigned char *>(p), size, false);
}

TransferBuffer::TransferBuffer(TransferBuffer &&other) noexcept
    : handle_(other.handle_), data_(other.data_), size_(other.size_), devMem_(other.devMem_)
{
    other.data_ = nullptr;
}

TransferBuffer::~TransferBuffer()
{
    if (!data_)
        return;
    if (devMem_)
        libusb_dev_mem_free(handle_, data_, size_);
    else
        std::free(data_);
}

} // namespace iiousb::tool
