#include "stream/MetaChannel.h"

#include <algorithm>
#include <cerrno>

#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Meta, "meta")

Result<std::unique_ptr<MetaChannel>> MetaChannel::open(EventLoop &loop, const std::string &path)
{
    auto ep = ffs::FfsEndpoint::open(path);
    if (!ep)
        return ep.takeError();
    auto desc = ep->descriptor();
    if (!desc)
        return desc.takeError();
    const std::size_t maxPacket = __le16_to_cpu(desc->wMaxPacketSize) & 0x7ff;
    // One short packet per transfer; a full-speed packet holds exactly one record.
    const std::size_t perTransfer =
            std::max<std::size_t>(1, maxPacket / proto::kMetaRecordSize - 1);
    if (auto r = ep->setNonBlocking(); !r)
        return r.takeError();
    auto aio = ffs::AioContext::create(kInFlight);
    if (!aio)
        return aio.takeError();
    std::unique_ptr<MetaChannel> m(new MetaChannel(std::move(*ep), std::move(*aio), perTransfer));
    auto w = loop.addIo(m->aio_->eventFd(), EPOLLIN,
                        [raw = m.get()](std::uint32_t) { raw->onCompletions(); });
    if (!w)
        return w.takeError();
    m->watch_ = std::move(*w);
    LOG(Meta, Info) << "Metadata endpoint " << path << ": wMaxPacketSize " << maxPacket << ", "
                    << perTransfer << " records per transfer";
    return m;
}

MetaChannel::MetaChannel(ffs::FfsEndpoint endpoint, ffs::AioContext aio, std::size_t perTransfer)
    : endpoint_(std::move(endpoint)), perTransfer_(perTransfer), aio_(std::move(aio))
{
    for (auto &t : transfers_)
        t.data.resize(perTransfer_ * proto::kMetaRecordSize);
}

MetaChannel::~MetaChannel()
{
    watch_.reset();
    aio_.reset();
    // What a cancelled transfer left in the controller's FIFO (docs/kernel-notes.md).
    (void)ioctl(endpoint_.fd(), FUNCTIONFS_FIFO_FLUSH);
    if (sent_ || dropped_)
        LOG(Meta, Info) << "Metadata endpoint closed: " << sent_ << " records sent, " << dropped_
                        << " dropped";
}

void MetaChannel::push(const proto::MetaRecord &record)
{
    if (queue_.size() >= kMaxQueued) {
        queue_.pop_front();
        if (dropped_++ == 0)
            LOG(Meta, Notice).hostTriggered().field(log::kEvent, "meta-dropped")
                    << "The host does not read the metadata endpoint: dropping the oldest "
                       "records (their sequence numbers show the gap)";
    }
    queue_.push_back(proto::encodeMeta(record));
    flush();
}

void MetaChannel::flush()
{
    if (failed_)
        return;
    for (std::size_t i = 0; i < transfers_.size() && !queue_.empty(); i++) {
        Transfer &t = transfers_[i];
        if (t.busy)
            continue;
        t.records = std::min(perTransfer_, queue_.size());
        for (std::size_t r = 0; r < t.records; r++) {
            std::copy(queue_.front().begin(), queue_.front().end(),
                      t.data.begin() + static_cast<std::ptrdiff_t>(r * proto::kMetaRecordSize));
            queue_.pop_front();
        }
        const int rc = aio_->submit(endpoint_.fd(), true, t.data.data(),
                                    t.records * proto::kMetaRecordSize, i);
        if (rc < 0) {
            // ESHUTDOWN and the like: the host went away; the channel is replaced at the
            // next ENABLE.
            failed_ = true;
            dropped_ += t.records;
            LOG(Meta, Notice).hostTriggered()
                    << "Metadata endpoint write failed: " << errnoString(rc);
            return;
        }
        t.busy = true;
    }
}

void MetaChannel::onCompletions()
{
    for (const auto &c : aio_->reap()) {
        if (c.tag >= transfers_.size())
            continue;
        Transfer &t = transfers_[c.tag];
        t.busy = false;
        if (c.result < 0) {
            dropped_ += t.records;
            if (!failed_)
                LOG(Meta, Notice).hostTriggered()
                        << "Metadata transfer failed: " << errnoString(static_cast<int>(c.result));
            failed_ = true;
            continue;
        }
        sent_ += t.records;
    }
    flush();
}

} // namespace iiousb
