// Kernel device events (uevents) on the event loop: a UDC or an IIO device that appears or
// goes away after start-up.
//
// Listens to the kernel's own NETLINK_KOBJECT_UEVENT multicast group rather than udev's
// (sd_device_monitor in libsystemd 252 only offers udev's group): it works the same with or
// without udevd running (an initramfs, BusyBox init on a Pluto) and reports a device as soon
// as the kernel creates it.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "event/EventLoop.h"

namespace iiousb {

struct Uevent {
    std::string action;    // "add", "remove", "bind", "change", ...
    std::string subsystem; // "udc", "iio", ...
    std::string devpath;   // /devices/... (below /sys)
    std::string devname;   // DEVNAME= (the /dev node), when the device has one
    // The device's name: the last component of devpath ("dummy_udc.0", "iio:device0").
    std::string name() const;
};

// Parses one kernel uevent datagram ("ACTION@DEVPATH\0KEY=VALUE\0..."); false if it is not
// one (udev's own messages start with "libudev").
bool parseUevent(std::string_view datagram, Uevent &out);

class UeventMonitor {
public:
    using Handler = std::function<void(const Uevent &)>;

    // Reports the events of `subsystems` to `handler`, from the loop.
    static Result<std::unique_ptr<UeventMonitor>>
    create(EventLoop &loop, std::set<std::string> subsystems, Handler handler);
    UeventMonitor(const UeventMonitor &) = delete;
    UeventMonitor &operator=(const UeventMonitor &) = delete;

private:
    UeventMonitor(std::set<std::string> subsystems, Handler handler)
        : subsystems_(std::move(subsystems)), handler_(std::move(handler))
    {}
    void onReadable();

    std::set<std::string> subsystems_;
    Handler handler_;
    UniqueFd fd_;
    EventSourcePtr source_;
};

} // namespace iiousb
