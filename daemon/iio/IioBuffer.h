// An IIO device's buffer 0 as a stream uses it: the scan channels enabled through sysfs, the
// buffer fd from IIO_BUFFER_GET_FD_IOCTL (O_NONBLOCK), DMABUF attach/detach/enqueue on it,
// and the fileio settings (length, watermark). libiio 0.24 predates buffer fds and DMABUFs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "protocol/Protocol.h"

namespace iiousb::iio {

// "PID 123 (iio_readdev), PID 456 (iiod)": the processes with an fd whose link reads
// `target` ("/dev/iio:device0"), from /proc/*/fd; "" if none is visible.
std::string holdersOf(const std::string &target);

// The device's chardev and the fd of its buffer 0 (IIO_BUFFER_GET_FD_IOCTL), taken without
// writing anything: -EBUSY naming the holders when another program has either; GET_FD's own
// errno otherwise (ENOTTY/EINVAL: a kernel without buffer fds, before 5.11).
struct BufferHandles {
    UniqueFd chardev;
    UniqueFd buffer;
};
Result<BufferHandles> takeBuffer(const std::string &deviceId);

class IioBuffer {
public:
    // `deviceId` is "iio:deviceN"; `channels` are channel ids ("voltage0") to enable, every
    // other scan element of that direction is disabled. Takes the device's chardev and the
    // buffer's fd before writing anything to sysfs: -EBUSY, naming who holds them, when
    // another program does. `attributes` (sysfs file, value) are written once they are ours.
    static Result<std::unique_ptr<IioBuffer>>
    open(const std::string &deviceId, const std::vector<std::string> &channels,
         proto::Direction dir,
         const std::vector<std::pair<std::string, std::string>> &attributes = {});
    IioBuffer(const IioBuffer &) = delete;
    IioBuffer &operator=(const IioBuffer &) = delete;
    ~IioBuffer(); // disables the buffer if enabled

    int fd() const { return fd_.get(); }
    const std::string &deviceId() const { return deviceId_; }

    // After the DMABUFs are attached (attaching on a non-blocking fd may fail with EBUSY).
    Result<void> setNonBlocking();

    // 0 or a negative errno (EPERM/ENOTTY: this buffer cannot import DMABUFs).
    int attach(int dmabufFd);
    int detach(int dmabufFd);
    // `flags`: uapi::kIioDmabuf*. 0, or with kIioDmabufSyncFile the transfer's sync_file fd;
    // a negative errno.
    int enqueue(int dmabufFd, std::uint64_t bytes, std::uint32_t flags);

    // fileio: buffer length and watermark in samples (sample sets).
    Result<void> setLength(std::uint64_t samples);
    Result<void> setWatermark(std::uint64_t samples);

    Result<void> enable();
    void disable();
    bool enabled() const { return enabled_; }

private:
    IioBuffer(std::string deviceId, std::string bufferDir)
        : deviceId_(std::move(deviceId)), bufferDir_(std::move(bufferDir))
    {}
    Result<void> writeAttr(const std::string &name, const std::string &value) const;
    std::string readAttr(const std::string &name) const; // first line, "" if unreadable

    std::string deviceId_;
    std::string bufferDir_; // /sys/bus/iio/devices/iio:deviceN/buffer0
    UniqueFd chardev_;
    UniqueFd fd_;
    bool enabled_ = false;
};

} // namespace iiousb::iio
