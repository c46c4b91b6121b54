#include "iio/IioContext.h"

#include <algorithm>
#include <cerrno>
#include <cmath>

#include <fcntl.h>
#include <iio.h>

#include "base/UniqueFd.h"
#include "iio/IioBuffer.h"
#include "log/Log.h"

namespace iiousb::iio {

IIOUSB_LOG_CATEGORY(Iio, "iio")

namespace {

bool channelMatchesDirection(const iio_channel *ch, proto::Direction dir)
{
    return iio_channel_is_output(ch) == (dir == proto::Direction::Tx);
}

proto::ScanFormat toScanFormat(const iio_data_format &f)
{
    proto::ScanFormat s;
    s.bigEndian = f.is_be;
    s.isSigned = f.is_signed;
    s.bits = f.bits;
    s.storageBits = f.length;
    s.shift = f.shift;
    s.repeat = f.repeat ? f.repeat : 1;
    return s;
}

} // namespace

unsigned scanBytes(const std::vector<proto::ScanFormat> &elements)
{
    // The kernel's ALIGN(), bit trick included (it assumes powers of two; a repeat of 3
    // gives odd sizes, and the data follows what the kernel computes, not what is sane).
    auto align = [](unsigned x, unsigned a) { return (x + a - 1) & ~(a - 1); };
    unsigned bytes = 0, largest = 0;
    for (const auto &e : elements) {
        const unsigned length = e.bytes();
        if (length == 0)
            continue;
        bytes = align(bytes, length) + length;
        largest = std::max(largest, length);
    }
    return largest ? align(bytes, largest) : 0;
}

Result<std::unique_ptr<IioContext>> IioContext::createLocal()
{
    iio_context *ctx = iio_create_local_context();
    if (!ctx)
        return errnoError(errno, "Failed to open the local IIO context (/sys/bus/iio)");
    return std::unique_ptr<IioContext>(new IioContext(ctx));
}

IioContext::~IioContext()
{
    iio_context_destroy(ctx_);
}

Result<iio_device *> IioContext::findDevice(const std::string &selector) const
{
    const unsigned count = iio_context_get_devices_count(ctx_);
    // An id names one device; names and labels may not.
    for (unsigned i = 0; i < count; i++) {
        iio_device *dev = iio_context_get_device(ctx_, i);
        if (selector == iio_device_get_id(dev))
            return dev;
    }
    for (auto get : {iio_device_get_name, iio_device_get_label}) {
        std::vector<iio_device *> matches;
        for (unsigned i = 0; i < count; i++) {
            iio_device *dev = iio_context_get_device(ctx_, i);
            const char *s = get(dev);
            if (s && selector == s)
                matches.push_back(dev);
        }
        if (matches.size() == 1)
            return matches[0];
        if (matches.size() > 1) {
            std::string ids;
            for (auto *d : matches)
                ids += std::string(ids.empty() ? "" : ", ") + iio_device_get_id(d);
            return makeError(-EINVAL, "IIO device '" + selector + "' is ambiguous (" + ids +
                                              "): use the id");
        }
    }
    std::string all;
    for (unsigned i = 0; i < count; i++) {
        iio_device *dev = iio_context_get_device(ctx_, i);
        const char *name = iio_device_get_name(dev);
        all += std::string(all.empty() ? "" : ", ") + iio_device_get_id(dev) + " (" +
               (name ? name : "?") + ")";
    }
    return makeError(-ENODEV, "No IIO device '" + selector +
                                      "' (devices: " + (all.empty() ? "none" : all) + ")");
}

Result<IioStreamDescription> IioContext::describe(const StreamConfig &stream) const
{
    auto found = findDevice(stream.device);
    if (!found)
        return found.takeError();
    iio_device *dev = *found;

    IioStreamDescription d;
    d.deviceId = iio_device_get_id(dev);
    const char *name = iio_device_get_name(dev);
    d.deviceName = name ? name : d.deviceId;

    std::vector<iio_channel *> scan;
    const unsigned nch = iio_device_get_channels_count(dev);
    for (unsigned i = 0; i < nch; i++) {
        iio_channel *ch = iio_device_get_channel(dev, i);
        if (iio_channel_is_scan_element(ch) && channelMatchesDirection(ch, stream.direction))
            scan.push_back(ch);
    }
    std::sort(scan.begin(), scan.end(), [](const iio_channel *a, const iio_channel *b) {
        return iio_channel_get_index(a) < iio_channel_get_index(b);
    });

    std::vector<iio_channel *> enabled;
    if (!stream.channels) {
        for (iio_channel *ch : scan) {
            if (std::string(iio_channel_get_id(ch)) != "timestamp")
                enabled.push_back(ch);
        }
    } else {
        for (const auto &id : *stream.channels) {
            auto it = std::find_if(scan.begin(), scan.end(), [&](const iio_channel *ch) {
                return id == iio_channel_get_id(ch);
            });
            if (it == scan.end()) {
                std::string ids;
                for (auto *ch : scan)
                    ids += std::string(ids.empty() ? "" : ", ") + iio_channel_get_id(ch);
                return makeError(
                        -ENOENT,
                        "IIO device " + d.deviceId + " (" + d.deviceName + ") has no " +
                                (stream.direction == proto::Direction::Rx ? "input" : "output") +
                                " scan channel '" + id +
                                "' (it has: " + (ids.empty() ? "none" : ids) + ")");
            }
            enabled.push_back(*it);
        }
        std::sort(enabled.begin(), enabled.end(), [](const iio_channel *a, const iio_channel *b) {
            return iio_channel_get_index(a) < iio_channel_get_index(b);
        });
    }
    if (enabled.empty())
        return makeError(-ENOENT,
                         "IIO device " + d.deviceId + " (" + d.deviceName + ") has no " +
                                 (stream.direction == proto::Direction::Rx ? "input" : "output") +
                                 " scan channels");

    std::vector<proto::ScanFormat> formats;
    for (iio_channel *ch : enabled) {
        IioChannelDescription c;
        c.id = iio_channel_get_id(ch);
        c.scanIndex = iio_channel_get_index(ch);
        c.format = toScanFormat(*iio_channel_get_data_format(ch));
        formats.push_back(c.format);
        d.channels.push_back(std::move(c));
    }
    d.sampleBytes = scanBytes(formats);

    double rate = 0;
    if (iio_device_find_attr(dev, "sampling_frequency")) {
        if (iio_device_attr_read_double(dev, "sampling_frequency", &rate) < 0)
            rate = 0;
    } else {
        for (iio_channel *ch : enabled) {
            if (iio_channel_find_attr(ch, "sampling_frequency") &&
                iio_channel_attr_read_double(ch, "sampling_frequency", &rate) >= 0)
                break;
        }
    }
    d.rate = rate > 0 ? static_cast<std::uint64_t>(std::llround(rate)) : 0;
    if (auto it = pending_.find(stream.name); it != pending_.end())
        d.pendingAttributes = it->second;
    return d;
}

Result<void> IioContext::applyAttributes(const StreamConfig &stream) const
{
    pending_.erase(stream.name);
    if (stream.attributes.empty())
        return {};
    auto found = findDevice(stream.device);
    if (!found)
        return found.takeError();
    iio_device *dev = *found;
    const std::string devId = iio_device_get_id(dev);

    // Held while writing, so that nobody starts a capture in between. EBUSY: another
    // program has the device open (iio_chrdev_open()); ENOENT: no chardev, so no buffer
    // to disturb.
    const std::string node = "/dev/" + devId;
    UniqueFd chardev(::open(node.c_str(), O_RDWR | O_CLOEXEC));
    const bool busy = !chardev && errno == EBUSY;
    std::vector<std::pair<std::string, std::string>> pending;

    for (const auto &[attr, value] : stream.attributes) {
        ssize_t r = -ENOENT;
        std::string where, file;
        if (iio_device_find_attr(dev, attr.c_str())) {
            file = attr;
            where = devId + "/" + attr;
            if (!busy)
                r = iio_device_attr_write(dev, attr.c_str(), value.c_str());
        } else {
            const unsigned nch = iio_device_get_channels_count(dev);
            for (unsigned i = 0; i < nch; i++) {
                iio_channel *ch = iio_device_get_channel(dev, i);
                if (!channelMatchesDirection(ch, stream.direction) ||
                    !iio_channel_find_attr(ch, attr.c_str()))
                    continue;
                file = iio_channel_attr_get_filename(ch, attr.c_str());
                where = devId + " channel " + iio_channel_get_id(ch) + " " + attr;
                if (!busy)
                    r = iio_channel_attr_write(ch, attr.c_str(), value.c_str());
                break;
            }
        }
        if (where.empty())
            return makeError(-ENOENT, "IIO device " + devId + " has no attribute '" + attr + "'");
        if (busy) {
            pending.emplace_back("/sys/bus/iio/devices/" + devId + "/" + file, value);
            continue;
        }
        if (r < 0)
            return errnoError(static_cast<int>(r), "Failed to write '" + value + "' to " + where);
        LOG(Iio, Debug) << "Set " << where << " = " << value;
    }
    if (busy) {
        const std::string who = holdersOf(node);
        LOG(Iio, Warning) << "Stream " << stream.name << ": " << node
                          << " is open by another program (EBUSY)" << (who.empty() ? "" : ": ")
                          << who << "; its attributes are written at START, not now";
        pending_[stream.name] = std::move(pending);
    }
    return {};
}

} // namespace iiousb::iio
