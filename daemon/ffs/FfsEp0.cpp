#include "ffs/FfsEp0.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include <linux/usb/functionfs.h>

#include "log/Log.h"

namespace iiousb::ffs {

IIOUSB_LOG_CATEGORY(Ffs, "ffs")

std::string_view eventName(FfsEvent::Type type)
{
    switch (type) {
    case FfsEvent::Type::Bind:
        return "BIND";
    case FfsEvent::Type::Unbind:
        return "UNBIND";
    case FfsEvent::Type::Enable:
        return "ENABLE";
    case FfsEvent::Type::Disable:
        return "DISABLE";
    case FfsEvent::Type::Setup:
        return "SETUP";
    case FfsEvent::Type::Suspend:
        return "SUSPEND";
    case FfsEvent::Type::Resume:
        return "RESUME";
    case FfsEvent::Type::Unknown:
        break;
    }
    return "UNKNOWN";
}

Result<FfsEp0> FfsEp0::open(const std::string &mountPoint)
{
    std::string path = mountPoint + "/ep0";
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errnoError(errno, "Failed to open " + path);
    return FfsEp0(UniqueFd(fd), std::move(path));
}

Result<void> FfsEp0::writeDescriptors(std::span<const std::uint8_t> descriptors,
                                      std::span<const std::uint8_t> strings)
{
    ssize_t n = ::write(fd_.get(), descriptors.data(), descriptors.size());
    if (n < 0)
        return errnoError(errno, "Failed to write the descriptors to " + path_);
    if (static_cast<std::size_t>(n) != descriptors.size())
        return makeError(-EIO, "Short descriptor write to " + path_);
    n = ::write(fd_.get(), strings.data(), strings.size());
    if (n < 0)
        return errnoError(errno, "Failed to write the strings to " + path_);
    if (static_cast<std::size_t>(n) != strings.size())
        return makeError(-EIO, "Short strings write to " + path_);
    int flags = fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        return errnoError(errno, "Failed to make " + path_ + " non-blocking");
    return {};
}

Result<std::vector<FfsEvent>> FfsEp0::readEvents()
{
    std::vector<FfsEvent> events;
    struct usb_functionfs_event raw[4];
    ssize_t n = ::read(fd_.get(), raw, sizeof(raw));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return events;
        return errnoError(errno, "Failed to read events from " + path_);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof(raw[0]); i++) {
        FfsEvent ev;
        ev.raw = raw[i].type;
        switch (raw[i].type) {
        case FUNCTIONFS_BIND:
            ev.type = FfsEvent::Type::Bind;
            break;
        case FUNCTIONFS_UNBIND:
            ev.type = FfsEvent::Type::Unbind;
            break;
        case FUNCTIONFS_ENABLE:
            ev.type = FfsEvent::Type::Enable;
            break;
        case FUNCTIONFS_DISABLE:
            ev.type = FfsEvent::Type::Disable;
            break;
        case FUNCTIONFS_SETUP: {
            ev.type = FfsEvent::Type::Setup;
            const auto &s = raw[i].u.setup;
            ev.setup.requestType = s.bRequestType;
            ev.setup.request = s.bRequest;
            ev.setup.value = le16toh(s.wValue);
            ev.setup.index = le16toh(s.wIndex);
            ev.setup.length = le16toh(s.wLength);
            break;
        }
        case FUNCTIONFS_SUSPEND:
            ev.type = FfsEvent::Type::Suspend;
            break;
        case FUNCTIONFS_RESUME:
            ev.type = FfsEvent::Type::Resume;
            break;
        default:
            ev.type = FfsEvent::Type::Unknown;
            break;
        }
        events.push_back(ev);
    }
    return events;
}

Result<void> FfsEp0::reply(std::span<const std::uint8_t> data)
{
    // f_fs queues the data stage and sleeps until the host has taken it (see Ep0Worker).
    if (::write(fd_.get(), data.data(), data.size()) < 0)
        return errnoError(errno, "Failed to answer a control request on " + path_);
    return {};
}

Result<void> FfsEp0::acknowledge()
{
    if (::read(fd_.get(), nullptr, 0) < 0)
        return errnoError(errno, "Failed to acknowledge a control request on " + path_);
    return {};
}

Result<std::vector<std::uint8_t>> FfsEp0::receive(std::uint16_t length)
{
    std::vector<std::uint8_t> data(length);
    ssize_t n = ::read(fd_.get(), data.data(), data.size());
    if (n < 0)
        return errnoError(errno, "Failed to receive a control request's data on " + path_);
    data.resize(static_cast<std::size_t>(n));
    return data;
}

Result<void> FfsEp0::stall(const proto::SetupPacket &setup)
{
    // Reading ep0 for an IN request or writing it for an OUT request halts ep0
    // (f_fs __ffs_ep0_stall(): the call fails with EL2HLT).
    ssize_t n;
    std::uint8_t dummy = 0;
    do {
        if (setup.requestType & 0x80)
            n = ::read(fd_.get(), &dummy, 0);
        else
            n = ::write(fd_.get(), &dummy, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EL2HLT)
        return {};
    if (n < 0)
        return errnoError(errno, "Failed to stall a control request on " + path_);
    return makeError(-EIO, "ep0 " + path_ + " did not stall");
}

} // namespace iiousb::ffs
