// RAII wrappers for the libusb-1.0 objects the tool uses: ownership is in the types,
// teardown in the destructors (in reverse order of setup by construction order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <libusb-1.0/libusb.h>

#include "Expected.h"

namespace iiousb::tool {

// "LIBUSB_ERROR_ACCESS (Access denied (insufficient permissions))"-style text.
std::string usbErrorText(int code);

// A libusb context (libusb_init/libusb_exit).
class UsbContext {
public:
    static Expected<UsbContext> create();

    libusb_context *get() const { return ctx_.get(); }

private:
    struct Deleter {
        void operator()(libusb_context *ctx) const { libusb_exit(ctx); }
    };
    explicit UsbContext(libusb_context *ctx) : ctx_(ctx) {}
    std::unique_ptr<libusb_context, Deleter> ctx_;
};

// A counted reference to a libusb_device (libusb_ref_device/libusb_unref_device).
class UsbDevice {
public:
    UsbDevice() = default;
    explicit UsbDevice(libusb_device *dev) : dev_(dev ? libusb_ref_device(dev) : nullptr) {}
    UsbDevice(const UsbDevice &other) : UsbDevice(other.dev_) {}
    UsbDevice(UsbDevice &&other) noexcept : dev_(other.dev_) { other.dev_ = nullptr; }
    UsbDevice &operator=(UsbDevice other) noexcept
    {
        std::swap(dev_, other.dev_);
        return *this;
    }
    ~UsbDevice()
    {
        if (dev_)
            libusb_unref_device(dev_);
    }

    libusb_device *get() const { return dev_; }
    std::uint8_t bus() const { return libusb_get_bus_number(dev_); }
    std::uint8_t address() const { return libusb_get_device_address(dev_); }
    // "bus 1 device 3"
    std::string location() const;

private:
    libusb_device *dev_ = nullptr;
};

// Every device on the bus at the time of the call.
Expected<std::vector<UsbDevice>> listUsbDevices(libusb_context *ctx);

// The active configuration descriptor (libusb_free_config_descriptor on destruction).
struct ConfigDescriptorDeleter {
    void operator()(libusb_config_descriptor *desc) const { libusb_free_config_descriptor(desc); }
};
using ConfigDescriptor = std::unique_ptr<libusb_config_descriptor, ConfigDescriptorDeleter>;
Expected<ConfigDescriptor> activeConfigDescriptor(const UsbDevice &dev);

// An open device (libusb_open/libusb_close).
class UsbDeviceHandle {
public:
    // Opens `dev`; a permission problem gets a message that points at the udev rule.
    static Expected<UsbDeviceHandle> open(const UsbDevice &dev);

    libusb_device_handle *get() const { return handle_.get(); }
    const UsbDevice &device() const { return dev_; }

    // A string descriptor in ASCII, empty if the index is 0 or it cannot be read.
    std::string stringDescriptor(std::uint8_t index) const;

private:
    struct Deleter {
        void operator()(libusb_device_handle *h) const { libusb_close(h); }
    };
    UsbDeviceHandle(UsbDevice dev, libusb_device_handle *h) : dev_(std::move(dev)), handle_(h) {}
    UsbDevice dev_;
    std::unique_ptr<libusb_device_handle, Deleter> handle_;
};

// A claimed interface (libusb_claim_interface/libusb_release_interface). Must not outlive
// the handle it was claimed on.
class InterfaceClaim {
public:
    static Expected<InterfaceClaim> claim(const UsbDeviceHandle &handle, int interfaceNumber);

    InterfaceClaim(InterfaceClaim &&other) noexcept : handle_(other.handle_), number_(other.number_)
    {
        other.handle_ = nullptr;
    }
    InterfaceClaim &operator=(InterfaceClaim &&) = delete;
    InterfaceClaim(const InterfaceClaim &) = delete;
    ~InterfaceClaim();

    int number() const { return number_; }

private:
    InterfaceClaim(libusb_device_handle *h, int n) : handle_(h), number_(n) {}
    libusb_device_handle *handle_;
    int number_;
};

// Memory for one transfer: usbfs zero-copy memory (libusb_dev_mem_alloc, mmapped from
// usbfs, counted against usbfs_memory_mb) when available, else page-aligned heap memory.
class TransferBuffer {
public:
    static Expected<TransferBuffer> allocate(libusb_device_handle *handle, std::size_t size,
                                             bool tryDevMem);
    TransferBuffer(TransferBuffer &&other) noexcept;
    TransferBuffer &operator=(TransferBuffer &&) = delete;
    TransferBuffer(const TransferBuffer &) = delete;
    ~TransferBuffer();

    unsigned char *data() const { return data_; }
    std::size_t size() const { return size_; }
    bool devMem() const { return devMem_; }

private:
    TransferBuffer(libusb_device_handle *h, unsigned char *d, std::size_t s, bool dm)
        : handle_(h), data_(d), size_(s), devMem_(dm)
    {}
    libusb_device_handle *handle_;
    unsigned char *data_;
    std::size_t size_;
    bool devMem_;
};

// A libusb_transfer (libusb_alloc_transfer/libusb_free_transfer). The owner must make sure
// it is not in flight when destroyed (BulkStream waits for every callback).
struct TransferDeleter {
    void operator()(libusb_transfer *t) const { libusb_free_transfer(t); }
};
using UsbTransfer = std::unique_ptr<libusb_transfer, TransferDeleter>;

} // namespace iiousb::tool
