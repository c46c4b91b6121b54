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

std::string readFile(const std::string &path)
{
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

} // namespace

std::string holdersOf(const std::string &target)
{
    namespace fs = std::filesystem;
    std::string out;
    std::error_code ec;
    for (const auto &proc : fs::directory_iterator("/proc", ec)) {
        const std::string pid = proc.path().filename();
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
            continue;
        std::error_code fdEc;
        for (const auto &fd : fs::directory_iterator(proc.path() / "fd", fdEc)) {
            std::error_code linkEc;
            if (fs::read_symlink(fd.path(), linkEc) != target || linkEc)
                continue;
            out += std::string(out.empty() ? "" : ", ") + "PID " + pid + " (" +
                   readFile(proc.path() / "comm") +
                   (pid == std::to_string(getpid()) ? ", this daemon: another stream" : "") + ")";
            break;
        }
    }
    return out;
}

Result<BufferHandles> takeBuffer(const std::string &deviceId)
{
    // Ownership first, before anything is written to sysfs: the IIO core lets one file at a
    // time open the chardev (iio_chrdev_open() in 6.12 returns EBUSY while the device's
    // busy bit is set) and hands each buffer's fd out once (IIO_BUFFER_GET_FD_IOCTL: EBUSY).
    // A program reading the buffer (iiod, iio_readdev, another stream) holds one of them, so
    // holding both means nobody in user space uses the buffer.
    BufferHandles h;
    const std::string node = "/dev/" + deviceId;
    h.chardev.reset(::open(node.c_str(), O_RDWR | O_CLOEXEC));
    if (!h.chardev) {
        const int err = errno;
        if (err != EBUSY)
            return errnoError(err, "Failed to open " + node);
        const std::string who = holdersOf(node);
        return makeError(-EBUSY, node + " is open by another program (EBUSY)" +
                                         (who.empty() ? "" : ": " + who));
    }
    int index = 0;
    if (ioctl(h.chardev.get(), uapi::kIioBufferGetFd, &index) < 0) {
        const int err = errno;
        if (err != EBUSY)
            return errnoError(err, "IIO_BUFFER_GET_FD_IOCTL on " + node + " failed");
        const std::string who = holdersOf("anon_inode:iio:buffer");
        return makeError(-EBUSY, "the buffer of " + node +
                                         " is held by another program (IIO_BUFFER_GET_FD_IOCTL: "
                                         "EBUSY)" +
                                         (who.empty() ? "" : "; IIO buffer fds open in: " + who));
    }
    h.buffer.reset(index);
    fcntl(h.buffer.get(), F_SETFD, FD_CLOEXEC);
    return h;
}

Result<std::unique_ptr<IioBuffer>>
IioBuffer::open(const std::string &deviceId, const std::vector<std::string> &channels,
                proto::Direction dir,
                const std::vector<std::pair<std::string, std::string>> &attributes)
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

    // Ownership first, before anything is written to sysfs (takeBuffer()).
    auto handles = takeBuffer(deviceId);
    if (!handles)
        return handles.takeError();
    buf->chardev_ = std::move(handles->chardev);
    buf->fd_ = std::move(handles->buffer);

    // Enabled with nobody holding the chardev or the buffer: left by a program that exited
    // without disabling it (a killed iiousbd, a shell's echo 1 > enable). Nobody can read
    // it; it would refuse channel changes.
    if (buf->readAttr("enable") == "1") {
        LOG(IioBuf, Notice) << "The buffer of " << deviceId
                            << " was left enabled by a program that is gone; disabling it";
        if (auto r = buf->writeAttr("enable", "0"); !r)
            return r.takeError();
    }

    // Attributes left to START because the device was busy at set-up (IioContext).
    for (const auto &[path, value] : attributes) {
        if (auto r = writeFile(path, value); !r)
            return r.takeError();
        LOG(IioBuf, Debug) << "Set " << path << " = " << value;
    }

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

std::string IioBuffer::readAttr(const std::string &name) const
{
    return readFile(bufferDir_ + "/" + name);
}

int IioBuffer::attach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kIioDmabufAttach, &dmabufFd) < 0 ? -errno : 0;
}

int IioBuffer::detach(int dmabufFd)
{
    return ioctl(fd_.get(), uapi::kIioDmabufDetach, &dmabufFd) < 0 ? -errno : 0;
}

int IioBuffer::enqueue(int dmabufFd, std::uint64_t bytes, std::uint32_t flags)
{
    uapi::IioDmabuf req{};
    req.fd = static_cast<std::uint32_t>(dmabufFd);
    req.flags = flags;
    req.bytesUsed = bytes;
    const int r = ioctl(fd_.get(), uapi::kIioDmabufEnqueue, &req);
    return r < 0 ? -errno : r;
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
