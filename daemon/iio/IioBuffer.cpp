#include "iio/IioBuffer.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>

#include <fcntl.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include "base/KernelUapi.h"
#include "log/Log.h"

namespace iiousb::iio {

IIOUSB_LOG_CATEGORY(IioBuf, "iio")

namespace {

const char *const kSysfsRoot = "/sys/bus/iio/devices/";

Result<void> writeFile(const std::string &path, const std::string &value)
{
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd)
        return errnoError(errno, "Failed to open " + path);
    if (::write(fd.get(), value.data(), value.size()) < 0)
        return errnoError(errno, "Failed to write '" + value + "' to " + path);
    return {};
}

} // namespace

Result<std::unique_ptr<IioBuffer>> IioBuffer::open(const std::string &deviceId,
                                                   const std::vector<std::string> &channels,
                                                   proto::Direction dir)
{
    namespace fs = std::filesystem;
    const std::string devDir = kSysfsRoot + deviceId;
    std::string bufferDir = devDir + "/buffer0";
    std::error_code ec;
    if (!fs::is_directory(bufferDir, ec))
        bufferDir = devDir + "/buffer";
    if (!fs::is_directory(bufferDir, ec))
        return makeError(-ENODEV, "IIO device " + deviceId + " has no buffer (" + devDir +
                                          "/buffer0 missing)");
    std::unique_ptr<IioBuffer> buf(new IioBuffer(deviceId, bufferDir));

    // A leftover enabled buffer (a killed instance) refuses channel changes.
    (void)buf->writeAttr("enable", "0");

    // Scan elements live in buffer0/ (and the older scan_elements/).
    std::string scanDir = bufferDir;
    const std::string prefix = dir == proto::Direction::Rx ? "in_" : "out_";
    bool any = false;
    for (const auto &entry : fs::directory_iterator(scanDir, ec)) {
        const std::string name = entry.path().filename();
        if (name.size() > 3 && name.ends_with("_en") && name.starts_with(prefix))
            any = true;
    }
    if (!any)
        scanDir = devDir + "/scan_elements";
    std::set<std::string> wanted(channels.begin(), channels.end());
    std::set<std::string> found;
    for (const auto &entry : fs::directory_iterator(scanDir, ec)) {
        const std::string name = entry.path().filename();
        if (!name.ends_with("_en") || !name.starts_with(prefix))
            continue;
        const std::string id = name.substr(prefix.size(), name.size() - prefix.size() - 3);
        const bool on = wanted.contains(id);
        if (on)
            found.insert(id);
        if (auto r = writeFile(entry.path(), on ? "1" : "0"); !r)
            return r.takeError();
    }
    if (ec)
        return errnoError(ec.value(), "Failed to list " + scanDir);
    for (const auto &c : channels)
        if (!found.contains(c))
            return makeError(-ENOENT, "IIO device " + deviceId + " has no scan element " + prefix +
                                              c + "_en in " + scanDir);

    const std::string node = "/dev/" + deviceId;
    buf->chardev_.reset(::open(node.c_str(), O_RDWR | O_CLOEXEC));
    if (!buf->chardev_)
        return errnoError(errno, "Failed to open " + node);
    int index = 0;
    if (ioctl(buf->chardev_.get(), uapi::kIioBufferGetFd, &index) < 0)
        return errnoError(errno, "IIO_BUFFER_GET_FD_IOCTL on " + node + " failed");
    buf->fd_.reset(index);
    fcntl(buf->fd_.get(), F_SETFD, FD_CLOEXEC);
    return buf;
}

Result<void> IioBuffer::setNonBlocking()
{
    int flags = fcntl(fd_.get(), F_GETFL);
    if (flags < 0 || fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        return errnoError(errno, "Failed to make the buffer fd of " + deviceId_ + " non-blocking");
    return {};
}

IioBuffer::~IioBuffer()
{
    disable();
}

Result<void> IioBuffer::writeAttr(const std::string &name, const std::string &value) const
{
    return writeFile(bufferDir_ + "/" + name, value);
}

int IioBuffer::attach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kIioDmabufAttach, &dmabufFd) < 0 ? -errno : 0;
}

int IioBuffer::detach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kIioDmabufDetach, &dmabufFd) < 0 ? -errno : 0;
}

int IioBuffer::enqueue(int dmabufFd, std::uint64_t bytes, bool cyclic)
{
    uapi::IioDmabuf req{};
    req.fd = static_cast<std::uint32_t>(dmabufFd);
    req.flags = cyclic ? uapi::kIioDmabufCyclic : 0;
    req.bytesUsed = bytes;
    return ioctl(fd_.get(), uapi::kIioDmabufEnqueue, &req) < 0 ? -errno : 0;
}

Result<void> IioBuffer::setLength(std::uint64_t samples)
{
    return writeAttr("length", std::to_string(samples));
}

Result<void> IioBuffer::setWatermark(std::uint64_t samples)
{
    return writeAttr("watermark", std::to_string(samples));
}

Result<void> IioBuffer::enable()
{
    if (auto r = writeAttr("enable", "1"); !r)
        return r;
    enabled_ = true;
    return {};
}

void IioBuffer::disable()
{
    if (!enabled_)
        return;
    if (auto r = writeAttr("enable", "0"); !r)
        LOG(IioBuf, Warning) << r.error().message;
    enabled_ = false;
}

} // namespace iiousb::iio
