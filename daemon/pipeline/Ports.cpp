#include "pipeline/Ports.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>

#include <unistd.h>

#include <sys/epoll.h>

#include "base/KernelUapi.h"
#include "log/Log.h"

namespace iiousb::pipeline {

IIOUSB_LOG_CATEGORY(Pipeline, "pipeline")

std::uint64_t monotonicNs()
{
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

bool cannotImport(int err)
{
    return err == -EPERM || err == -ENOTTY || err == -EOPNOTSUPP || err == -EINVAL;
}

Result<std::uint64_t> sizeFileio(iio::IioBuffer &buffer, std::uint64_t blockBytes,
                                 std::uint64_t sampleBytes)
{
    const std::uint64_t samples =
            std::max<std::uint64_t>(std::min(blockBytes, kMaxFileioBlock) / sampleBytes, 1);
    if (auto r = buffer.setLength(2 * samples); !r)
        return r.takeError();
    return samples;
}

Result<int> attachBlocks(const std::vector<Block> &blocks, const std::function<int(int)> &attach,
                         const std::string &side)
{
    for (std::size_t i = 0; i < blocks.size(); i++) {
        const int r = attach(blocks[i].buf.fd());
        if (r == 0)
            continue;
        if (i == 0 && cannotImport(r))
            return r;
        return errnoError(r, "Failed to attach DMABUF " + std::to_string(i) + " to " + side);
    }
    return 0;
}

// --- JobQueue ---------------------------------------------------------------------------

Result<std::unique_ptr<JobQueue>> JobQueue::create(EventLoop &loop, DoneFn done,
                                                   FenceStatusFn fenceStatus)
{
    std::unique_ptr<JobQueue> q(new JobQueue(loop, std::move(done), fenceStatus));
    auto d = loop.addDeferred([raw = q.get()] { raw->drain(); });
    if (!d)
        return d.takeError();
    q->drainer_ = std::move(*d);
    return q;
}

JobQueue::~JobQueue()
{
    if (destroyed_)
        *destroyed_ = true;
}

Result<void> JobQueue::watchFences()
{
    UniqueFd set(::epoll_create1(EPOLL_CLOEXEC));
    if (!set)
        return errnoError(-errno, "Failed to create an epoll set for fences");
    auto w = loop_.addIo(set.get(), EPOLLIN, [this](std::uint32_t) { onFences(); });
    if (!w)
        return w.takeError();
    fences_ = std::move(set);
    fenceWatch_ = std::move(*w);
    return {};
}

Result<void> JobQueue::pushFence(std::size_t block, std::uint64_t bytes, dmabuf::SyncFile sync,
                                 std::uint64_t queuedNs, bool watch)
{
    if (watch && !fences_)
        if (auto r = watchFences(); !r)
            return r;
    // One-shot: a signalled sync_file stays readable; its entry leaves the set when the
    // sync_file is closed. (No tag: the fences are read from the queue's head, onFences().)
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    if (watch && ::epoll_ctl(fences_.get(), EPOLL_CTL_ADD, sync.fd(), &ev) < 0)
        return errnoError(-errno, "Failed to watch the fence of block " + std::to_string(block));
    Job &job = jobs_.emplace_back();
    job.block = block;
    job.bytes = bytes;
    job.queuedNs = queuedNs;
    job.exportedNs = queuedNs ? monotonicNs() : 0;
    job.sync.emplace(std::move(sync));
    return {};
}

void JobQueue::push(std::size_t block, std::uint64_t bytes)
{
    Job &job = jobs_.emplace_back();
    job.block = block;
    job.bytes = bytes;
}

void JobQueue::complete(std::size_t block, int status, std::uint64_t bytes)
{
    for (Job &job : jobs_) {
        if (job.block == block && !job.status) {
            job.status = status;
            job.bytes = bytes;
            job.doneNs = monotonicNs();
            drainer_->trigger();
            return;
        }
    }
    LOG(Pipeline, Warning) << "Completion for block " << block << " with no job";
}

void JobQueue::onFences()
{
    // The set is readable because a fence signalled. A queue's jobs complete in the order
    // they were queued (one DMA queue, one endpoint), so drain() reads the fences from the
    // head on: no epoll_wait() for the set, no status read of a fence that is not the
    // oldest. A fence that signals behind a pending one would keep the set readable: then
    // epoll_wait() takes it off the ready list (one-shot), and its turn comes later.
    if (drain() != Drained::Nothing)
        return;
    std::array<epoll_event, 16> ev{};
    (void)::epoll_wait(fences_.get(), ev.data(), static_cast<int>(ev.size()), 0);
    // The oldest fence may have signalled since drain() read it, and that report is gone
    // with the others: read it again, or nothing would wake us for it.
    (void)drain();
}

bool JobQueue::readFence(Job &job)
{
    // A sync_file polls readable once every fence signalled; the status says how.
    std::uint64_t signalled = 0;
    const int s = fenceStatus_(*job.sync, &signalled);
    if (s == 0)
        return false;
    if (job.queuedNs && signalled < job.queuedNs) {
        // The job's fence signalled before the sync_file was taken, so the sync_file holds
        // only older ones (or none): it completed between queueing and the export.
        job.doneNs = job.exportedNs;
        job.slackNs = job.exportedNs - job.queuedNs;
    } else {
        job.doneNs = signalled ? signalled : monotonicNs();
    }
    job.status = s > 0 ? 0 : s;
    return true;
}

JobQueue::Drained JobQueue::drain()
{
    bool destroyed = false;
    destroyed_ = &destroyed;
    Drained result = Drained::Nothing;
    while (!jobs_.empty()) {
        Job &head = jobs_.front();
        // A fence job's status is read when it is the oldest (pending: wait for the set).
        if (!head.status && (!head.sync || !readFence(head)))
            break;
        Job job = std::move(head);
        jobs_.pop_front();
        job.sync.reset(); // (its entry leaves the fence set)
        lastDoneNs_ = job.doneNs;
        lastDoneSlackNs_ = job.slackNs;
        result = Drained::HandedOn;
        done_(job.block, *job.status, job.bytes);
        if (destroyed)
            return Drained::Destroyed;
    }
    destroyed_ = nullptr;
    return result;
}

namespace {

// --- Zero-copy ports ---------------------------------------------------------------------

// A job queued with an ioctl whose completion is the DMABUF's fence: IIO enqueue or
// FunctionFS transfer.
class FencePort : public Port {
public:
    // Queues the job; 0, a negative errno, or (`returnsSyncFile`) the job's own sync_file fd.
    using QueueFn = std::function<int(int dmabufFd, std::uint64_t bytes)>;
    // `fences`: fences()'s text where it is not "own fences" or "exported fences"; `watch`
    // false: the loop does not watch the jobs' fences (handOnSignalled()).
    FencePort(std::vector<Block> &blocks, std::unique_ptr<JobQueue> queue, QueueFn queueJob,
              bool returnsSyncFile = false, const char *fences = nullptr, bool watch = true)
        : blocks_(blocks), queue_(std::move(queue)), queueJob_(std::move(queueJob)),
          returnsSyncFile_(returnsSyncFile), fences_(fences), watch_(watch)
    {}
    proto::PortMode mode() const override { return proto::PortMode::ZeroCopy; }
    std::size_t inFlight() const override { return queue_->size(); }
    std::uint64_t lastDoneNs() const override { return queue_->lastDoneNs(); }
    std::uint64_t lastDoneSlackNs() const override { return queue_->lastDoneSlackNs(); }
    const char *fences() const override
    {
        return fences_ ? fences_ : returnsSyncFile_ ? "own fences" : "exported fences";
    }
    void handOnSignalled() override
    {
        if (!watch_)
            queue_->handOnSignalled(); // (may destroy this port)
    }

    int submit(std::size_t block, std::uint64_t bytes) override
    {
        const int fd = blocks_[block].buf.fd();
        // (A returned sync_file holds the job's own fence: no export window to bound.)
        const std::uint64_t queued = returnsSyncFile_ ? 0 : monotonicNs();
        const int r = queueJob_(fd, bytes);
        if (r < 0)
            return r;
        std::optional<dmabuf::SyncFile> sync;
        if (returnsSyncFile_) {
            sync.emplace(dmabuf::SyncFile::adopt(UniqueFd(r)));
        } else {
            // Exported right away, before the fence can signal (a later export hides an
            // error; one that signalled already is not exported at all).
            auto e = dmabuf::SyncFile::exportFrom(fd);
            if (!e)
                return e.error().code;
            sync.emplace(std::move(*e));
        }
        if (auto p = queue_->pushFence(block, bytes, std::move(*sync), queued, watch_); !p)
            return p.error().code;
        return 0;
    }

private:
    std::vector<Block> &blocks_;
    std::unique_ptr<JobQueue> queue_;
    QueueFn queueJob_;
    bool returnsSyncFile_;
    const char *fences_;
    bool watch_;
};

// --- Copy ports --------------------------------------------------------------------------

// RX (device to host): the CPU reads the block and writes it to the IN endpoint; TX: the
// CPU writes what the OUT endpoint received into the block.
class UsbAioPort : public Port {
public:
    UsbAioPort(ffs::FfsEndpoint &endpoint, proto::Direction dir, std::vector<Block> &blocks,
               std::unique_ptr<JobQueue> queue, ffs::AioContext aio)
        : endpoint_(endpoint), toHost_(dir == proto::Direction::Rx), blocks_(blocks),
          queue_(std::move(queue)), aio_(std::move(aio))
    {}
    Result<void> watch(EventLoop &loop)
    {
        auto src = loop.addIo(aio_.eventFd(), EPOLLIN, [this](std::uint32_t) { onEvents(); });
        if (!src)
            return src.takeError();
        source_ = std::move(*src);
        return {};
    }
    proto::PortMode mode() const override { return proto::PortMode::Copy; }
    std::size_t inFlight() const override { return queue_->size(); }
    std::uint64_t lastDoneNs() const override { return queue_->lastDoneNs(); }
    std::uint64_t lastDoneSlackNs() const override { return queue_->lastDoneSlackNs(); }

    int submit(std::size_t block, std::uint64_t bytes) override
    {
        Block &b = blocks_[block];
        if (auto r = b.buf.beginCpuAccess(toHost_, !toHost_); !r)
            return r.error().code;
        if (int r = aio_.submit(endpoint_.fd(), toHost_, b.cpu, bytes, block); r < 0) {
            (void)b.buf.endCpuAccess(toHost_, !toHost_);
            return r;
        }
        queue_->push(block, bytes);
        return 0;
    }

private:
    void onEvents()
    {
        for (const auto &c : aio_.reap()) {
            const auto block = static_cast<std::size_t>(c.tag);
            if (block >= blocks_.size())
                continue;
            (void)blocks_[block].buf.endCpuAccess(toHost_, !toHost_);
            if (c.result < 0)
                queue_->complete(block, static_cast<int>(c.result), 0);
            else
                queue_->complete(block, 0, static_cast<std::uint64_t>(c.result));
        }
    }

    ffs::FfsEndpoint &endpoint_;
    bool toHost_;
    std::vector<Block> &blocks_;
    std::unique_ptr<JobQueue> queue_;
    ffs::AioContext aio_; // destroyed after the watch: cancels and waits for its jobs
    EventSourcePtr source_;
};

// fileio on the IIO buffer fd: RX reads samples into the block, TX writes the block out.
class IioFileioPort : public Port {
public:
    IioFileioPort(iio::IioBuffer &buffer, proto::Direction dir, std::vector<Block> &blocks,
                  std::unique_ptr<JobQueue> queue)
        : buffer_(buffer), fromDevice_(dir == proto::Direction::Rx), blocks_(blocks),
          queue_(std::move(queue))
    {}
    Result<void> watch(EventLoop &loop)
    {
        auto src = loop.addIo(buffer_.fd(), fromDevice_ ? EPOLLIN : EPOLLOUT,
                              [this](std::uint32_t) { onReady(); });
        if (!src)
            return src.takeError();
        source_ = std::move(*src);
        source_->setEnabled(false);
        return {};
    }
    proto::PortMode mode() const override { return proto::PortMode::Copy; }
    std::size_t inFlight() const override { return queue_->size(); }
    std::uint64_t lastDoneNs() const override { return queue_->lastDoneNs(); }
    std::uint64_t lastDoneSlackNs() const override { return queue_->lastDoneSlackNs(); }

    int submit(std::size_t block, std::uint64_t bytes) override
    {
        if (auto r = blocks_[block].buf.beginCpuAccess(!fromDevice_, fromDevice_); !r)
            return r.error().code;
        pending_.push_back({block, bytes, 0});
        queue_->push(block, bytes);
        source_->setEnabled(true);
        return 0;
    }

private:
    struct Pending {
        std::size_t block;
        std::uint64_t bytes;
        std::uint64_t done;
    };

    void onReady()
    {
        while (!pending_.empty()) {
            Pending &p = pending_.front();
            Block &b = blocks_[p.block];
            const std::size_t left = p.bytes - p.done;
            const ssize_t n = fromDevice_ ? ::read(buffer_.fd(), b.cpu + p.done, left)
                                          : ::write(buffer_.fd(), b.cpu + p.done, left);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            const int status = n < 0 ? -errno : 0;
            if (n > 0)
                p.done += static_cast<std::uint64_t>(n);
            if (n == 0 && fromDevice_)
                return; // nothing yet
            if (status == 0 && p.done < p.bytes)
                continue;
            (void)b.buf.endCpuAccess(!fromDevice_, fromDevice_);
            queue_->complete(p.block, status, p.done);
            pending_.pop_front();
        }
        source_->setEnabled(false);
    }

    iio::IioBuffer &buffer_;
    bool fromDevice_;
    std::vector<Block> &blocks_;
    std::unique_ptr<JobQueue> queue_;
    std::deque<Pending> pending_;
    EventSourcePtr source_;
};

} // namespace

Result<std::unique_ptr<Port>> makeIioDmabufPort(EventLoop &loop, iio::IioBuffer &buffer,
                                                std::vector<Block> &blocks, DoneFn done,
                                                bool cyclic, bool chained)
{
    auto q = JobQueue::create(loop, std::move(done));
    if (!q)
        return q.takeError();
    const bool syncFile = iioReturnsSyncFile(buffer);
    const std::uint32_t flags =
            (cyclic ? uapi::kIioDmabufCyclic : 0) | (syncFile ? uapi::kIioDmabufSyncFile : 0);
    return std::unique_ptr<Port>(new FencePort(
            blocks, std::move(*q),
            [&buffer, flags](int fd, std::uint64_t bytes) {
                return buffer.enqueue(fd, bytes, flags);
            },
            syncFile,
            !chained   ? nullptr
            : syncFile ? "own fences, read as the USB transfers behind them complete"
                       : "exported fences, read as the USB transfers behind them complete",
            !chained));
}

bool iioReturnsSyncFile(iio::IioBuffer &buffer)
{
    return buffer.enqueue(-1, 1, uapi::kIioDmabufSyncFile) != -EINVAL;
}

Result<std::unique_ptr<Port>> makeUsbDmabufPort(EventLoop &loop, ffs::FfsEndpoint &endpoint,
                                                std::vector<Block> &blocks, DoneFn done,
                                                std::uint32_t transferFlags)
{
    auto q = JobQueue::create(loop, std::move(done));
    if (!q)
        return q.takeError();
    return std::unique_ptr<Port>(new FencePort(
            blocks, std::move(*q),
            [&endpoint, transferFlags](int fd, std::uint64_t bytes) {
                return endpoint.transfer(fd, bytes, transferFlags);
            },
            (transferFlags & uapi::kFfsDmabufTransferSyncFile) != 0,
            (transferFlags & uapi::kFfsDmabufTransferAfterFences) != 0
                    ? "own fences, each transfer queued behind its IIO fence in the kernel"
                    : nullptr));
}

bool usbReportsShortTransfers(ffs::FfsEndpoint &endpoint, std::uint64_t length)
{
    return endpoint.transfer(-1, length, kOutTransferFlags) != -EINVAL;
}

std::uint32_t usbInTransferFlags(ffs::FfsEndpoint &endpoint, std::uint64_t length, bool chain)
{
    const std::uint32_t chained =
            uapi::kFfsDmabufTransferSyncFile | uapi::kFfsDmabufTransferAfterFences;
    if (chain && endpoint.transfer(-1, length, chained) != -EINVAL)
        return chained;
    return endpoint.transfer(-1, length, uapi::kFfsDmabufTransferSyncFile) != -EINVAL
                   ? uapi::kFfsDmabufTransferSyncFile
                   : 0;
}

Result<std::unique_ptr<Port>> makeUsbAioPort(EventLoop &loop, ffs::FfsEndpoint &endpoint,
                                             proto::Direction dir, std::vector<Block> &blocks,
                                             DoneFn done)
{
    auto q = JobQueue::create(loop, std::move(done));
    if (!q)
        return q.takeError();
    auto aio = ffs::AioContext::create(static_cast<unsigned>(blocks.size()));
    if (!aio)
        return aio.takeError();
    std::unique_ptr<UsbAioPort> port(
            new UsbAioPort(endpoint, dir, blocks, std::move(*q), std::move(*aio)));
    if (auto r = port->watch(loop); !r)
        return r.takeError();
    return std::unique_ptr<Port>(std::move(port));
}

Result<std::unique_ptr<Port>> makeIioFileioPort(EventLoop &loop, iio::IioBuffer &buffer,
                                                proto::Direction dir, std::vector<Block> &blocks,
                                                DoneFn done)
{
    auto q = JobQueue::create(loop, std::move(done));
    if (!q)
        return q.takeError();
    std::unique_ptr<IioFileioPort> port(new IioFileioPort(buffer, dir, blocks, std::move(*q)));
    if (auto r = port->watch(loop); !r)
        return r.takeError();
    return std::unique_ptr<Port>(std::move(port));
}

} // namespace iiousb::pipeline
