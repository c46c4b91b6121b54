// IiodBackend's context part through libiio 0.24's v0 API.
#include "iiod/LibiioBackend.h"

#include <cerrno>
#include <cstring>
#include <vector>

#include <iio.h>

namespace iiousb::iiod {

namespace {

// iiod reads device attributes into 64 KiB (v0.25:iiod/ops.c read_dev_attr); the same for
// every kind here.
constexpr std::size_t kAttrBuffer = 0x10000;

Result<std::string> readInto(auto read)
{
    std::string buf(kAttrBuffer, '\0');
    const ssize_t n = read(buf.data(), buf.size() - 1);
    if (n < 0)
        return errnoError(static_cast<int>(n), "Failed to read the attribute");
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

Result<std::uint64_t> written(ssize_t n)
{
    if (n < 0)
        return errnoError(static_cast<int>(n), "Failed to write the attribute");
    return static_cast<std::uint64_t>(n);
}

Error notWired(const char *what)
{
    return makeError(-ENOSYS, std::string(what) + ": the iiod buffer data path is not wired yet");
}

// The device's attribute names of one kind, in XML order (what "read all" reads).
std::vector<const char *> attrNames(const iio_device *dev, AttrKind kind)
{
    std::vector<const char *> names;
    switch (kind) {
    case AttrKind::Device:
        for (unsigned i = 0; i < iio_device_get_attrs_count(dev); ++i)
            names.push_back(iio_device_get_attr(dev, i));
        break;
    case AttrKind::Debug:
        for (unsigned i = 0; i < iio_device_get_debug_attrs_count(dev); ++i)
            names.push_back(iio_device_get_debug_attr(dev, i));
        break;
    case AttrKind::Buffer:
        for (unsigned i = 0; i < iio_device_get_buffer_attrs_count(dev); ++i)
            names.push_back(iio_device_get_buffer_attr(dev, i));
        break;
    case AttrKind::Channel:
        break;
    }
    return names;
}

Result<std::string> readDeviceAttr(const iio_device *dev, AttrKind kind, const char *name)
{
    return readInto([&](char *buf, std::size_t len) {
        switch (kind) {
        case AttrKind::Debug:
            return iio_device_debug_attr_read(dev, name, buf, len);
        case AttrKind::Buffer:
            return iio_device_buffer_attr_read(dev, name, buf, len);
        default:
            return iio_device_attr_read(dev, name, buf, len);
        }
    });
}

} // namespace

std::string stripDebugAttributes(std::string_view xml)
{
    // libiio writes them as <debug-attribute name="..." /> (v0.24:device.c:24).
    constexpr std::string_view kOpen = "<debug-attribute ";
    std::string out;
    out.reserve(xml.size());
    std::size_t at = 0;
    while (true) {
        const std::size_t start = xml.find(kOpen, at);
        const std::size_t end =
                start == std::string_view::npos ? start : xml.find("/>", start + kOpen.size());
        if (end == std::string_view::npos) {
            out.append(xml.substr(at));
            return out;
        }
        out.append(xml.substr(at, start - at));
        at = end + 2;
    }
}

Result<LibiioBackend::ContextPtr> LibiioBackend::createLocalContext()
{
    iio_context *ctx = iio_create_local_context();
    if (!ctx)
        return errnoError(errno, "Failed to create the local IIO context");
    return ContextPtr(ctx, iio_context_destroy);
}

Result<LibiioBackend::ContextPtr> LibiioBackend::createXmlContext(std::string_view xml)
{
    iio_context *ctx = iio_create_xml_context_mem(xml.data(), xml.size());
    if (!ctx)
        return errnoError(errno, "Failed to create an IIO context from XML");
    return ContextPtr(ctx, iio_context_destroy);
}

LibiioBackend::LibiioBackend(ContextPtr ctx, LibiioBackendOptions options)
    : ctx_(std::move(ctx)), options_(options)
{}

IiodVersion LibiioBackend::version() const
{
    unsigned major = 0, minor = 0;
    char git[8] = {};
    iio_library_get_version(&major, &minor, git);
    return {major, minor, std::string(git, strnlen(git, sizeof(git)))};
}

Result<std::string> LibiioBackend::contextXml()
{
    const char *xml = iio_context_get_xml(ctx_.get());
    if (!xml)
        return makeError(-ENOMEM, "Failed to get the IIO context's XML");
    // Channels come sorted by scan index then shift, scan elements first: libiio sorts every
    // context's channels that way when it creates it (v0.24:context.c:308-337), which is
    // the order clients number the mask bits in (libiio-usb.md §3).
    return options_.allowDebug ? std::string(xml) : stripDebugAttributes(xml);
}

Result<void> LibiioBackend::setTimeout(std::uint32_t ms)
{
    timeoutMs_ = ms;
    return {};
}

Result<std::string> LibiioBackend::resolveDevice(std::string_view device)
{
    // By id, label or name, like iiod's lexer (iio_context_find_device).
    const iio_device *dev = iio_context_find_device(ctx_.get(), std::string(device).c_str());
    if (!dev)
        return makeError(-ENODEV, "No IIO device \"" + std::string(device) + "\"");
    return std::string(iio_device_get_id(dev));
}

Result<iio_device *> LibiioBackend::device(const std::string &id) const
{
    iio_device *dev = iio_context_find_device(ctx_.get(), id.c_str());
    if (!dev)
        return makeError(-ENODEV, "No IIO device \"" + id + "\"");
    return dev;
}

Result<std::string> LibiioBackend::readAttr(const IiodAttrRef &ref)
{
    if (ref.kind == AttrKind::Debug && !options_.allowDebug)
        return makeError(-EPERM, "Debug attributes are not allowed");
    auto dev = device(ref.device);
    if (!dev)
        return dev.takeError();
    if (ref.kind == AttrKind::Channel) {
        const iio_channel *chn = iio_device_find_channel(*dev, ref.channel.c_str(), ref.output);
        if (!chn)
            return makeError(-ENXIO, "No channel \"" + ref.channel + "\" on " + ref.device);
        if (ref.attribute) {
            return readInto([&](char *buf, std::size_t len) {
                return iio_channel_attr_read(chn, ref.attribute->c_str(), buf, len);
            });
        }
        std::vector<Result<std::string>> values;
        for (unsigned i = 0; i < iio_channel_get_attrs_count(chn); ++i) {
            const char *name = iio_channel_get_attr(chn, i);
            values.push_back(readInto([&](char *buf, std::size_t len) {
                return iio_channel_attr_read(chn, name, buf, len);
            }));
        }
        return packAttrValues(values);
    }
    if (ref.attribute)
        return readDeviceAttr(*dev, ref.kind, ref.attribute->c_str());
    std::vector<Result<std::string>> values;
    for (const char *name : attrNames(*dev, ref.kind))
        values.push_back(readDeviceAttr(*dev, ref.kind, name));
    return packAttrValues(values);
}

Result<std::uint64_t> LibiioBackend::writeAttr(const IiodAttrRef &ref, std::string_view value)
{
    if (!options_.allowWrites)
        return makeError(-EPERM, "Attribute writes are not allowed");
    if (ref.kind == AttrKind::Debug && !options_.allowDebug)
        return makeError(-EPERM, "Debug attributes are not allowed");
    auto dev = device(ref.device);
    if (!dev)
        return dev.takeError();
    // Without a name, libiio's local backend takes the packed "write all" format.
    const char *name = ref.attribute ? ref.attribute->c_str() : nullptr;
    switch (ref.kind) {
    case AttrKind::Channel: {
        const iio_channel *chn = iio_device_find_channel(*dev, ref.channel.c_str(), ref.output);
        if (!chn)
            return makeError(-ENXIO, "No channel \"" + ref.channel + "\" on " + ref.device);
        return written(iio_channel_attr_write_raw(chn, name, value.data(), value.size()));
    }
    case AttrKind::Debug:
        return written(iio_device_debug_attr_write_raw(*dev, name, value.data(), value.size()));
    case AttrKind::Buffer:
        return written(iio_device_buffer_attr_write_raw(*dev, name, value.data(), value.size()));
    case AttrKind::Device:
        break;
    }
    return written(iio_device_attr_write_raw(*dev, name, value.data(), value.size()));
}

Result<std::optional<std::string>> LibiioBackend::trigger(const std::string &id)
{
    auto dev = device(id);
    if (!dev)
        return dev.takeError();
    const iio_device *trig = nullptr;
    const int ret = iio_device_get_trigger(*dev, &trig);
    if (ret < 0)
        return errnoError(ret, "Failed to get the trigger of " + id);
    if (!trig)
        return std::optional<std::string>();
    // Clients match the name against the trigger devices' names (iiod-client.c:233-288).
    const char *name = iio_device_get_name(trig);
    return std::optional<std::string>(name ? name : iio_device_get_id(trig));
}

Result<void> LibiioBackend::setTrigger(const std::string &id,
                                       const std::optional<std::string> &trigger)
{
    auto dev = device(id);
    if (!dev)
        return dev.takeError();
    const iio_device *trig = nullptr;
    if (trigger) {
        trig = iio_context_find_device(ctx_.get(), trigger->c_str());
        if (!trig)
            return makeError(-ENOENT, "No trigger \"" + *trigger + "\"");
    }
    const int ret = iio_device_set_trigger(*dev, trig);
    if (ret < 0)
        return errnoError(ret, "Failed to set the trigger of " + id);
    return {};
}

Result<void> LibiioBackend::setBuffersCount(const std::string &id, unsigned count)
{
    auto dev = device(id);
    if (!dev)
        return dev.takeError();
    buffersCount_[id] = count;
    return {};
}

unsigned LibiioBackend::buffersCount(const std::string &id) const
{
    const auto it = buffersCount_.find(id);
    return it == buffersCount_.end() ? 4 : it->second;
}

Result<IiodBufferInfo> LibiioBackend::openBuffer(const IiodOpenRequest &)
{
    return notWired("OPEN");
}

Result<void> LibiioBackend::closeBuffer(const std::string &)
{
    return notWired("CLOSE");
}

void LibiioBackend::readBuffer(const std::string &, std::uint64_t, IiodTransferSink &sink)
{
    sink.transferDone(notWired("READBUF"));
}

void LibiioBackend::sendPayload(const IiodPayload &) {}

void LibiioBackend::writeBuffer(const std::string &, std::uint64_t, IiodTransferSink &sink)
{
    sink.transferDone(notWired("WRITEBUF"));
}

} // namespace iiousb::iiod
