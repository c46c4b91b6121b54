// IiodBackend's context part through libiio 0.24's v0 API.
#include "iiod/LibiioBackend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <iio.h>
#include <unistd.h>

#include <sys/eventfd.h>

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

// A buffer of output (DAC) channels: its enabled channels are outputs.
bool isOutput(const iio_device *dev)
{
    for (unsigned i = 0; i < iio_device_get_channels_count(dev); i++) {
        const iio_channel *chn = iio_device_get_channel(dev, i);
        if (iio_channel_is_enabled(chn) && iio_channel_is_output(chn))
            return true;
    }
    return false;
}

// The ids of the channels OPEN enabled, for a buffer the daemon opens itself.
std::vector<std::string> enabledChannels(const iio_device *dev)
{
    std::vector<std::string> ids;
    for (unsigned i = 0; i < iio_device_get_channels_count(dev); i++) {
        const iio_channel *chn = iio_device_get_channel(dev, i);
        if (iio_channel_is_enabled(chn))
            ids.emplace_back(iio_channel_get_id(chn));
    }
    return ids;
}

// -EBUSY when someone else uses the device's buffer (a native stream, another client).
// Devices without a character device (an XML context in tests) are not checked.
Result<void> deviceInUse(const std::string &id)
{
    const std::string node = "/dev/" + id;
    if (access(node.c_str(), F_OK) < 0)
        return {};
    {
        std::ifstream enable("/sys/bus/iio/devices/" + id + "/buffer/enable");
        std::string v;
        if (std::getline(enable, v) && v == "1")
            return makeError(-EBUSY, "The buffer of " + id + " is enabled by another user");
    }
    UniqueFd fd(::open(node.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fd && errno == EBUSY)
        return makeError(-EBUSY, node + " is open by another user");
    return {}; // closed again: libiio opens it
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

std::string keepDevices(std::string_view xml, const std::vector<std::string> &ids)
{
    // libiio writes each device as <device id="..." ...>...</device> (v0.24:device.c
    // iio_device_get_xml); a device without children may be <device id="..." />.
    constexpr std::string_view kOpen = "<device id=\"";
    std::string out;
    out.reserve(xml.size());
    std::size_t at = 0;
    while (true) {
        const std::size_t start = xml.find(kOpen, at);
        if (start == std::string_view::npos)
            break;
        const std::size_t idEnd = xml.find('"', start + kOpen.size());
        const std::size_t tagEnd = idEnd == std::string_view::npos ? idEnd : xml.find('>', idEnd);
        if (tagEnd == std::string_view::npos)
            break;
        std::size_t end = tagEnd + 1;
        if (xml[tagEnd - 1] != '/') {
            constexpr std::string_view kClose = "</device>";
            const std::size_t close = xml.find(kClose, tagEnd);
            if (close == std::string_view::npos)
                break;
            end = close + kClose.size();
        }
        const std::string_view id = xml.substr(start + kOpen.size(), idEnd - start - kOpen.size());
        out.append(xml.substr(at, start - at));
        if (std::find(ids.begin(), ids.end(), id) != ids.end())
            out.append(xml.substr(start, end - start));
        at = end;
    }
    out.append(xml.substr(at));
    return out;
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

// One device's buffer opened by this session, and the READBUF in progress on it.
struct LibiioBackend::OpenBuffer {
    std::string id;
    iio_device *dev = nullptr;
    iio_buffer *buf = nullptr;
    // The samples of the last refill not handed out yet (a READBUF smaller than the buffer).
    std::string leftover;
    std::uint64_t sampleBytes = 0;
    // The READBUF or WRITEBUF in progress.
    IiodTransferSink *sink = nullptr;
    bool write = false;
    std::uint64_t remaining = 0;
    std::uint64_t moved = 0;
    // Bytes moved since OPEN (the STATUS line's rate).
    std::uint64_t total = 0;
    // WRITEBUF: the bytes of the current piece (at most the buffer's size) received so far,
    // and its size.
    std::string tx;
    std::uint64_t piece = 0;
    // The refill thread; `result` is written by it, read once it has been joined.
    std::thread refill;
    std::mutex lock;
    std::optional<ssize_t> result;
    // The zero-copy path (READBUF of an input device, setZeroCopy()); `buf` is unused then.
    std::unique_ptr<ZeroCopyRx> zc;
    // The zero-copy path of WRITEBUF (an output device, setZeroCopy()); `buf` is unused then.
    std::unique_ptr<ZeroCopyTx> ztx;
    // OPEN ... CYCLIC of an output device (setZeroCopy()); `buf` is unused then. Its
    // WRITEBUF ends from dispatch() with `cyclicResult`.
    std::unique_ptr<CyclicTx> cyclic;
    std::optional<Result<std::uint64_t>> cyclicResult;
};

LibiioBackend::LibiioBackend(ContextPtr ctx, LibiioBackendOptions options)
    : ctx_(std::move(ctx)), completion_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      options_(std::move(options))
{}

LibiioBackend::~LibiioBackend()
{
    for (auto &[id, b] : buffers_)
        destroy(*b); // the transport is going away: no PayloadDone
}

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
    std::string out = options_.allowDebug ? std::string(xml) : stripDebugAttributes(xml);
    if (!options_.devices)
        return out;
    std::vector<std::string> ids;
    for (unsigned i = 0; i < iio_context_get_devices_count(ctx_.get()); ++i) {
        const iio_device *dev = iio_context_get_device(ctx_.get(), i);
        if (exposed(dev))
            ids.emplace_back(iio_device_get_id(dev));
    }
    return keepDevices(out, ids);
}

bool LibiioBackend::exposed(const iio_device *dev) const
{
    if (!options_.devices)
        return true;
    for (const char *key :
         {iio_device_get_id(dev), iio_device_get_name(dev), iio_device_get_label(dev)}) {
        if (key && std::find(options_.devices->begin(), options_.devices->end(), key) !=
                           options_.devices->end())
            return true;
    }
    return false;
}

Result<void> LibiioBackend::setTimeout(std::uint32_t ms)
{
    timeoutMs_ = ms;
    // The refills' wait (libiio's local backend polls the buffer with it). An XML context
    // has no such setting (-ENOSYS): nothing to do there.
    (void)iio_context_set_timeout(ctx_.get(), ms);
    return {};
}

Result<std::string> LibiioBackend::resolveDevice(std::string_view device)
{
    auto dev = this->device(std::string(device));
    if (!dev)
        return dev.takeError();
    return std::string(iio_device_get_id(*dev));
}

Result<iio_device *> LibiioBackend::device(const std::string &id) const
{
    // By id, label or name, like iiod's lexer (iio_context_find_device). A device the
    // configuration hides does not exist for clients.
    iio_device *dev = iio_context_find_device(ctx_.get(), id.c_str());
    if (!dev || !exposed(dev))
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
        if (!trig || !exposed(trig))
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
    return it == buffersCount_.end() ? options_.buffers : it->second;
}

Result<IiodBufferInfo> LibiioBackend::openBuffer(const IiodOpenRequest &request)
{
    if (!completion_)
        return makeError(-ENOMEM, "No eventfd for the refill threads");
    if (buffers_.contains(request.device))
        return makeError(-EBUSY, request.device + " is already open in this session");
    auto dev = device(request.device);
    if (!dev)
        return dev.takeError();
    const unsigned count = iio_device_get_channels_count(*dev);
    const std::size_t words = (count + 31) / 32;
    if (request.mask.size() != words)
        return makeError(-EINVAL, "OPEN " + request.device + ": mask of " +
                                          std::to_string(request.mask.size()) + " words, want " +
                                          std::to_string(words));
    if (request.samples == 0)
        return makeError(-EINVAL, "OPEN " + request.device + ": 0 samples");
    // Bit n = the n-th channel in libiio's sorted order, which is the local context's order.
    bool any = false;
    for (unsigned i = 0; i < count; i++) {
        iio_channel *chn = iio_device_get_channel(*dev, i);
        const bool on = (request.mask[i / 32] >> (i % 32)) & 1;
        if (on && iio_channel_is_scan_element(chn)) {
            iio_channel_enable(chn);
            any = true;
        } else {
            iio_channel_disable(chn);
        }
    }
    if (!any)
        return makeError(-EINVAL, "OPEN " + request.device + ": no scan channel in the mask");
    // One owner per IIO buffer. libiio's local backend writes buffer/enable = 0 before it
    // opens the character device (v0.24 local.c local_open()), which would stop another
    // user's running buffer (a native stream): look first. The character device has one
    // user at a time (iio_chrdev_open() returns EBUSY), and an enabled buffer has an owner.
    if (auto busy = deviceInUse(request.device); !busy)
        return busy.takeError();
    IiodBufferInfo info;
    info.mask.assign(words, 0);
    for (unsigned i = 0; i < count; i++) {
        if (iio_channel_is_enabled(iio_device_get_channel(*dev, i)))
            info.mask[i / 32] |= 1u << (i % 32);
    }
    const ssize_t sampleBytes = iio_device_get_sample_size(*dev);
    if (sampleBytes <= 0)
        return errnoError(sampleBytes < 0 ? static_cast<int>(sampleBytes) : -EINVAL,
                          "No sample size for " + request.device);
    info.sampleBytes = static_cast<std::uint64_t>(sampleBytes);
    auto b = std::make_unique<OpenBuffer>();
    b->id = request.device;
    b->dev = *dev;
    b->sampleBytes = info.sampleBytes;
    if (request.cyclic) {
        if (!isOutput(*dev))
            return makeError(-EINVAL, "OPEN " + request.device + " CYCLIC: not an output device");
        if (!loop_)
            return makeError(-ENOSYS, "OPEN ... CYCLIC needs the daemon's event loop");
        auto c = openCyclic(request, *dev, info.sampleBytes);
        if (!c)
            return c.takeError();
        b->cyclic = std::move(*c);
        buffers_.emplace(request.device, std::move(b));
        return info;
    }
    if (loop_ && options_.zeroCopy != ZeroCopy::Off && !isOutput(*dev)) {
        auto zc = openZeroCopy(request, *dev, info.sampleBytes);
        if (!zc)
            return zc.takeError();
        b->zc = std::move(*zc);
        buffers_.emplace(request.device, std::move(b));
        return info;
    }
    if (loop_ && options_.zeroCopy != ZeroCopy::Off && isOutput(*dev)) {
        auto ztx = openZeroCopyTx(request, *dev, info.sampleBytes);
        if (!ztx)
            return ztx.takeError();
        b->ztx = std::move(*ztx);
        buffers_.emplace(request.device, std::move(b));
        return info;
    }
    iio_buffer *buf = iio_device_create_buffer(*dev, request.samples, false);
    if (!buf)
        return errnoError(errno, "Failed to open the buffer of " + request.device);
    b->buf = buf;
    buffers_.emplace(request.device, std::move(b));
    return info;
}

LibiioBlocksOptions LibiioBackend::blocksOptions(const IiodOpenRequest &request, iio_device *dev,
                                                 std::uint64_t sampleBytes,
                                                 std::string endpoint) const
{
    LibiioBlocksOptions o;
    o.device = request.device;
    o.channels = enabledChannels(dev);
    o.sampleBytes = sampleBytes;
    o.blockBytes = request.samples * sampleBytes;
    o.blocks = buffersCount(request.device);
    o.endpoint = std::move(endpoint);
    o.heap = options_.heap;
    o.mode = options_.zeroCopy;
    return o;
}

Result<std::unique_ptr<ZeroCopyRx>> LibiioBackend::openZeroCopy(const IiodOpenRequest &request,
                                                                iio_device *dev,
                                                                std::uint64_t sampleBytes)
{
    const std::string id = request.device;
    ZeroCopyRx::Events ev;
    ev.filled = [this, id] {
        if (const auto it = buffers_.find(id); it != buffers_.end())
            feedZeroCopy(*it->second);
    };
    ev.sent = [this](int status) { zeroCopySent(status); };
    return ZeroCopyRx::open(*loop_, blocksOptions(request, dev, sampleBytes, inEndpoint_),
                            std::move(ev));
}

Result<std::unique_ptr<ZeroCopyTx>> LibiioBackend::openZeroCopyTx(const IiodOpenRequest &request,
                                                                  iio_device *dev,
                                                                  std::uint64_t sampleBytes)
{
    const std::string id = request.device;
    ZeroCopyTx::Events ev;
    ev.freed = [this, id] {
        if (const auto it = buffers_.find(id); it != buffers_.end())
            drainZeroCopy(*it->second);
    };
    ev.received = [this, id](Result<std::uint64_t> bytes) {
        zeroCopyReceived(id, std::move(bytes));
    };
    return ZeroCopyTx::open(*loop_, blocksOptions(request, dev, sampleBytes, outEndpoint_),
                            std::move(ev));
}

void LibiioBackend::drainZeroCopy(OpenBuffer &b)
{
    if (writing_ != &b || b.remaining == 0)
        return;
    ZeroCopyTx &z = *b.ztx;
    if (z.error() < 0) {
        endWrite(b, errnoError(z.error(), "Failed to push the buffer of " + b.id));
        return;
    }
    if (!z.canReceive())
        return; // a piece is on its way, or every block is with the DAC
    if (auto r = z.receive(z.maxPiece(b.remaining)); !r)
        endWrite(b, r.takeError());
}

void LibiioBackend::zeroCopyReceived(const std::string &id, Result<std::uint64_t> bytes)
{
    const auto it = buffers_.find(id);
    if (it == buffers_.end() || writing_ != it->second.get())
        return;
    OpenBuffer &b = *it->second;
    if (!bytes) {
        endWrite(b, bytes.takeError());
        return;
    }
    b.moved += *bytes;
    b.total += *bytes;
    b.remaining -= std::min(b.remaining, *bytes);
    if (b.remaining == 0)
        endWrite(b, b.moved);
    else
        drainZeroCopy(b);
}

void LibiioBackend::endWrite(OpenBuffer &b, Result<std::uint64_t> result)
{
    writing_ = nullptr;
    b.tx.clear();
    if (IiodTransferSink *sink = std::exchange(b.sink, nullptr))
        sink->transferDone(std::move(result));
}

Result<std::unique_ptr<CyclicTx>> LibiioBackend::openCyclic(const IiodOpenRequest &request,
                                                            iio_device *dev,
                                                            std::uint64_t sampleBytes)
{
    return CyclicTx::open(*loop_, blocksOptions(request, dev, sampleBytes, {}));
}

std::uint64_t LibiioBackend::capacity(const OpenBuffer &b) const
{
    if (b.cyclic)
        return b.cyclic->capacity();
    return static_cast<std::uint64_t>(static_cast<const char *>(iio_buffer_end(b.buf)) -
                                      static_cast<const char *>(iio_buffer_start(b.buf)));
}

void LibiioBackend::destroy(OpenBuffer &b, bool notify)
{
    b.cyclic.reset(); // stops the waveform
    b.ztx.reset();    // aborts its transfer and blocks: no event comes any more
    if (b.zc) {
        b.zc.reset(); // aborts its transfers: no event comes any more
        if (payloadInFlight_ && payloadDevice_ == b.id) {
            payloadInFlight_ = false;
            if (notify && payloadDone_)
                payloadDone_(-ECANCELED);
        }
    }
    if (b.refill.joinable()) {
        // Wakes the refill's poll (libiio's cancel eventfd); it returns -EBADF.
        iio_buffer_cancel(b.buf);
        b.refill.join();
    }
    if (b.buf)
        iio_buffer_destroy(b.buf);
    b.buf = nullptr;
    b.sink = nullptr;
    if (writing_ == &b)
        writing_ = nullptr;
}

Result<void> LibiioBackend::closeBuffer(const std::string &id)
{
    const auto it = buffers_.find(id);
    if (it == buffers_.end())
        return makeError(-ENXIO, id + " is not open in this session");
    destroy(*it->second, true);
    buffers_.erase(it);
    return {};
}

void LibiioBackend::readBuffer(const std::string &id, std::uint64_t bytes, IiodTransferSink &sink)
{
    const auto it = buffers_.find(id);
    if (it == buffers_.end()) {
        sink.transferDone(makeError(-EBADF, id + " is not open in this session"));
        return;
    }
    OpenBuffer &b = *it->second;
    if (b.sink) {
        sink.transferDone(makeError(-EBUSY, "READBUF " + id + " while another is in progress"));
        return;
    }
    b.sink = &sink;
    b.write = false;
    b.remaining = bytes;
    b.moved = 0;
    if (b.zc)
        feedZeroCopy(b);
    else
        feed(b);
}

void LibiioBackend::feedZeroCopy(OpenBuffer &b)
{
    while (b.sink && b.remaining > 0 && b.zc->hasData()) {
        const ZeroCopyRx::Chunk c = b.zc->take(b.remaining);
        handOut(b, BlockPiece{b.id, c}, c.bytes);
    }
    if (readDone(b))
        return;
    if (const int err = b.zc->error(); err < 0) {
        IiodTransferSink *sink = std::exchange(b.sink, nullptr);
        sink->transferDone(errnoError(err, "Failed to fill the buffer of " + b.id));
    }
}

void LibiioBackend::handOut(OpenBuffer &b, Payload payload, std::uint64_t bytes)
{
    const std::uint64_t handle = nextPayload_++;
    payloads_.emplace(handle, std::move(payload));
    b.remaining -= bytes;
    b.moved += bytes;
    b.total += bytes;
    b.sink->readChunk({handle, bytes});
}

bool LibiioBackend::readDone(OpenBuffer &b)
{
    if (!b.sink)
        return true;
    if (b.remaining > 0)
        return false;
    IiodTransferSink *sink = std::exchange(b.sink, nullptr);
    sink->transferDone(b.moved);
    return true;
}

void LibiioBackend::zeroCopySent(int status)
{
    if (!payloadInFlight_)
        return;
    payloadInFlight_ = false;
    if (payloadDone_)
        payloadDone_(status);
}

void LibiioBackend::feed(OpenBuffer &b)
{
    while (b.sink && b.remaining > 0 && !b.leftover.empty()) {
        const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(b.remaining, b.leftover.size()));
        std::string bytes = b.leftover.substr(0, n);
        b.leftover.erase(0, n);
        handOut(b, std::move(bytes), n);
    }
    if (readDone(b))
        return;
    if (!b.refill.joinable())
        startRefill(b);
}

void LibiioBackend::startRefill(OpenBuffer &b)
{
    {
        std::lock_guard guard(b.lock);
        b.result.reset();
    }
    const int notify = completion_.get();
    b.refill = std::thread([&b, notify] {
        const ssize_t r = iio_buffer_refill(b.buf);
        {
            std::lock_guard guard(b.lock);
            b.result = r;
        }
        const std::uint64_t one = 1;
        (void)!::write(notify, &one, sizeof(one));
    });
}

void LibiioBackend::dispatch()
{
    std::uint64_t count = 0;
    (void)!::read(completion_.get(), &count, sizeof(count));
    // A sink call may make the session run its next command (CLOSE: the buffer goes away):
    // look each buffer up again, and never touch one after a sink call.
    std::vector<std::string> ids;
    for (const auto &entry : buffers_)
        ids.push_back(entry.first);
    for (const std::string &id : ids) {
        const auto it = buffers_.find(id);
        if (it == buffers_.end())
            continue;
        OpenBuffer &b = *it->second;
        if (b.cyclicResult) {
            Result<std::uint64_t> r = std::move(*b.cyclicResult);
            b.cyclicResult.reset();
            endWrite(b, std::move(r));
            continue;
        }
        std::optional<ssize_t> result;
        {
            std::lock_guard guard(b.lock);
            result = b.result;
        }
        if (!result || !b.refill.joinable())
            continue;
        b.refill.join();
        b.result.reset();
        if (b.write) {
            if (*result < 0) {
                endWrite(b, errnoError(static_cast<int>(*result),
                                       "Failed to push the buffer of " + id));
                continue;
            }
            b.moved += b.piece;
            b.total += b.piece;
            b.remaining -= b.piece;
            b.tx.clear();
            if (b.remaining == 0) {
                endWrite(b, b.moved);
                continue;
            }
            requestWriteData(b);
            continue;
        }
        if (*result < 0) {
            // A client that stopped reading for longer than the TIMEOUT it set, the device
            // gone...: the READBUF ends with the error, the buffer stays open.
            b.leftover.clear();
            if (IiodTransferSink *sink = std::exchange(b.sink, nullptr))
                sink->transferDone(errnoError(static_cast<int>(*result),
                                              "Failed to refill the buffer of " + id));
            continue;
        }
        const char *start = static_cast<const char *>(iio_buffer_start(b.buf));
        const char *end = static_cast<const char *>(iio_buffer_end(b.buf));
        b.leftover.append(start, static_cast<std::size_t>(end - start));
        feed(b);
    }
}

std::vector<LibiioBufferStatus> LibiioBackend::bufferStatus() const
{
    std::vector<LibiioBufferStatus> list;
    for (const auto &[id, b] : buffers_) {
        LibiioBufferStatus s;
        s.device = id;
        s.bytes = b->total;
        if (b->zc) {
            s.iio = b->zc->iioMode();
            s.usb = b->zc->usbMode();
        } else if (b->ztx) {
            s.kind = LibiioBufferStatus::Kind::Out;
            s.iio = b->ztx->iioMode();
            s.usb = b->ztx->usbMode();
        } else if (b->cyclic) {
            s.kind = LibiioBufferStatus::Kind::Cyclic;
            s.iio = b->cyclic->iioMode();
        } else {
            s.kind =
                    isOutput(b->dev) ? LibiioBufferStatus::Kind::Out : LibiioBufferStatus::Kind::In;
        }
        list.push_back(std::move(s));
    }
    return list;
}

std::string LibiioBufferStatus::text() const
{
    const std::string iioSide = "IIO " + std::string(proto::portModeName(iio));
    const std::string usbSide = "USB " + std::string(proto::portModeName(usb));
    switch (kind) {
    case Kind::In:
        return device + " in (" + iioSide + ", " + usbSide + ")";
    case Kind::Out:
        return device + " out (" + usbSide + ", " + iioSide + ")";
    case Kind::Cyclic:
        return device + " cyclic (" + iioSide + ")";
    }
    return device;
}

void LibiioBackend::sendPayload(const IiodPayload &payload)
{
    auto node = payloads_.extract(payload.block);
    if (node.empty() || !payloadWriter_)
        return;
    if (auto *bytes = std::get_if<std::string>(&node.mapped())) {
        payloadWriter_(std::move(*bytes));
        return;
    }
    const BlockPiece &piece = std::get<BlockPiece>(node.mapped());
    const auto it = buffers_.find(piece.device);
    if (it == buffers_.end() || !it->second->zc)
        return; // closed since READBUF (CLOSE cancelled its payloads)
    auto sent = it->second->zc->send(piece.chunk);
    if (!sent) {
        if (payloadDone_)
            payloadDone_(sent.error().code);
        return;
    }
    if (*sent) {
        payloadWriter_(std::move(**sent));
        return;
    }
    payloadInFlight_ = true;
    payloadDevice_ = piece.device;
}

void LibiioBackend::writeBuffer(const std::string &id, std::uint64_t bytes, IiodTransferSink &sink)
{
    const auto it = buffers_.find(id);
    if (it == buffers_.end()) {
        sink.transferDone(makeError(-EBADF, id + " is not open in this session"));
        return;
    }
    OpenBuffer &b = *it->second;
    if (!isOutput(b.dev)) {
        sink.transferDone(makeError(-EINVAL, "WRITEBUF on " + id + ", an input device"));
        return;
    }
    if (b.sink || writing_ || !dataRequester_) {
        sink.transferDone(makeError(-EBUSY, "WRITEBUF " + id + " while another is in progress"));
        return;
    }
    if (b.cyclic) {
        // libiio's own cyclic buffers take one push (v0.24 local.c: -EBUSY after it); a
        // waveform that stopped playing is reported here (there is no other way to tell the
        // client).
        if (auto r = b.cyclic->canPlay(); !r) {
            sink.transferDone(r.takeError());
            return;
        }
    }
    if (b.cyclic && (bytes == 0 || bytes > b.cyclic->capacity())) {
        sink.transferDone(makeError(-EINVAL, "WRITEBUF " + id + " CYCLIC of " +
                                                     std::to_string(bytes) + " bytes, buffer " +
                                                     std::to_string(b.cyclic->capacity())));
        return;
    }
    if (b.ztx) {
        if (b.ztx->error() < 0) {
            sink.transferDone(errnoError(b.ztx->error(), "Failed to push the buffer of " + id));
            return;
        }
        if (bytes % b.sampleBytes || b.ztx->maxPiece(bytes) == 0) {
            sink.transferDone(makeError(
                    -EINVAL, "WRITEBUF " + id + " of " + std::to_string(bytes) +
                                     " bytes: not whole sample sets, or more than the " +
                                     std::to_string(b.ztx->blockBytes()) +
                                     "-byte buffer and that not a multiple of 1024 bytes"));
            return;
        }
        b.sink = &sink;
        b.write = true;
        b.remaining = bytes;
        b.moved = 0;
        writing_ = &b;
        sink.writeReady(); // "0\n": the client sends the data after it
        drainZeroCopy(b);
        return;
    }
    b.sink = &sink;
    b.write = true;
    b.remaining = bytes;
    b.moved = 0;
    b.tx.clear();
    writing_ = &b;
    sink.writeReady(); // "0\n": the client sends the data after it
    requestWriteData(b);
}

void LibiioBackend::requestWriteData(OpenBuffer &b)
{
    b.piece = std::min(b.remaining, capacity(b));
    b.tx.reserve(static_cast<std::size_t>(b.piece));
    dataRequester_(b.piece);
}

void LibiioBackend::writeData(std::string_view bytes)
{
    if (!writing_)
        return;
    OpenBuffer &b = *writing_;
    b.tx.append(bytes);
    if (b.tx.size() < b.piece)
        return;
    if (b.cyclic) {
        // Ended from dispatch(), as a push is: never inside the transport's read completion.
        auto r = b.cyclic->play(b.tx);
        if (r) {
            b.cyclicResult.emplace(b.piece);
            b.total += b.piece;
        } else {
            b.cyclicResult.emplace(r.takeError());
        }
        const std::uint64_t one = 1;
        (void)!::write(completion_.get(), &one, sizeof(one));
        return;
    }
    std::memcpy(iio_buffer_start(b.buf), b.tx.data(), static_cast<std::size_t>(b.piece));
    startPush(b);
}

void LibiioBackend::startPush(OpenBuffer &b)
{
    {
        std::lock_guard guard(b.lock);
        b.result.reset();
    }
    const int notify = completion_.get();
    const auto capacity =
            static_cast<std::uint64_t>(static_cast<const char *>(iio_buffer_end(b.buf)) -
                                       static_cast<const char *>(iio_buffer_start(b.buf)));
    const bool whole = b.piece == capacity;
    const std::size_t samples = static_cast<std::size_t>(b.piece / b.sampleBytes);
    b.refill = std::thread([&b, notify, whole, samples] {
        const ssize_t r = whole ? iio_buffer_push(b.buf) : iio_buffer_push_partial(b.buf, samples);
        {
            std::lock_guard guard(b.lock);
            b.result = r;
        }
        const std::uint64_t one = 1;
        (void)!::write(notify, &one, sizeof(one));
    });
}

} // namespace iiousb::iiod
