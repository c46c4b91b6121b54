// A FunctionFS ep0: takes the descriptors and strings, then delivers the function's events
// and answers the control requests addressed to it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "protocol/Protocol.h"

namespace iiousb::ffs {

struct FfsEvent {
    enum class Type { Bind, Unbind, Enable, Disable, Setup, Suspend, Resume, Unknown };
    Type type = Type::Unknown;
    unsigned raw = 0;           // the kernel's event type
    proto::SetupPacket setup{}; // Type::Setup only (wIndex already remapped by f_fs)
};

std::string_view eventName(FfsEvent::Type type);

class FfsEp0 {
public:
    // Opens <mountPoint>/ep0 (blocking until the descriptors are written).
    static Result<FfsEp0> open(const std::string &mountPoint);

    // Writes the descriptors and strings blobs; on success the function is live (its ep
    // files exist) and ep0 is switched to non-blocking for the event loop.
    Result<void> writeDescriptors(std::span<const std::uint8_t> descriptors,
                                  std::span<const std::uint8_t> strings);

    int fd() const { return fd_.get(); }

    // Reads the pending events (none when there are none: ep0 is non-blocking).
    Result<std::vector<FfsEvent>> readEvents();

    // Answers the pending SETUP. The data stage of IN requests (a reply shorter than wLength
    // ends with a short packet or a ZLP), the status stage of OUT requests without data, or a
    // stall: f_fs halts ep0 when it is read or written in the wrong direction and returns
    // EL2HLT.
    // reply(), acknowledge() and receive() wait for the host (f_fs sleeps until the UDC
    // completes the stage, O_NONBLOCK or not): call them from the Ep0Worker, never from the
    // event loop. They return -EINTR when a signal interrupts the wait and -EAGAIN when
    // f_fs's mutex is taken; the caller decides whether to try again.
    Result<void> reply(std::span<const std::uint8_t> data);
    Result<void> acknowledge();
    // Reads the data stage of the pending OUT SETUP (`length` bytes); the status stage
    // follows on its own.
    Result<std::vector<std::uint8_t>> receive(std::uint16_t length);
    // Does not wait: f_fs halts ep0 at once.
    Result<void> stall(const proto::SetupPacket &setup);

private:
    explicit FfsEp0(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

    UniqueFd fd_;
    std::string path_;
};

} // namespace iiousb::ffs
