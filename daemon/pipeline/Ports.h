// The two sides of a stream's pipeline. A port takes blocks (DMABUFs) and hands each back
// when its job on that side is done, in the order they were submitted: IIO fills or drains
// a block, USB sends or receives one. Each side has a zero-copy port (the DMABUF is
// attached, jobs are queued with ioctls, completion is a fence read through a sync_file)
// and a copy port (the CPU moves the bytes between the mapped DMABUF and the device file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/KernelUapi.h"
#include "base/Result.h"
#include "dmabuf/DmaBuf.h"
#include "event/EventLoop.h"
#include "ffs/FfsEndpoint.h"
#include "iio/IioBuffer.h"
#include "protocol/Protocol.h"

namespace iiousb::pipeline {

// Errors with which the kernel says "this side cannot import DMABUFs": FunctionFS on a UDC
// without scatter-gather (EPERM), IIO buffers that are not DMA buffers (EPERM in 6.12, ENOTTY
// before 6.11), kernels without the ioctl (ENOTTY, EINVAL).
bool cannotImport(int err);

// Largest fileio block for the copy path on the IIO side (industrialio-buffer-dma allocates
// two of them coherent; large ones are high-order allocations).
inline constexpr std::uint64_t kMaxFileioBlock = 1 << 20;

// Sizes a buffer's fileio (the IIO copy path) for blocks of `blockBytes`: two fileio blocks
// of min(blockBytes, kMaxFileioBlock) each (buffer/length), so POLLIN/POLLOUT comes once one
// is ready. The samples of one fileio block.
Result<std::uint64_t> sizeFileio(iio::IioBuffer &buffer, std::uint64_t blockBytes,
                                 std::uint64_t sampleBytes);

struct Block {
    dmabuf::DmaBuf buf;
    std::uint8_t *cpu = nullptr; // the mapping, when a copy port uses the block
};

// Attaches every block to one side (`attach`: 0 or a negative errno). 0: all attached; the
// first block's errno when it says the side cannot import DMABUFs (cannotImport(), nothing
// attached: the side copies, or refuses to); an error naming `side` for any other failure.
Result<int> attachBlocks(const std::vector<Block> &blocks, const std::function<int(int)> &attach,
                         const std::string &side);

// CLOCK_MONOTONIC now, in ns (the clock of dma-fence timestamps).
std::uint64_t monotonicNs();

// status: 0 or a negative errno; bytes: what the job moved.
using DoneFn = std::function<void(std::size_t block, int status, std::uint64_t bytes)>;

// Jobs in submission order, handed on head first. A job its port completes (complete()) is
// handed on from the loop's next iteration, never from inside the handler that saw it. Fence
// jobs are watched together, one-shot, in an epoll set of the queue's own that the loop
// watches as one source: no loop source per job, and the jobs whose fences signalled are
// handed on as soon as the loop sees them (as many as are ready, in one dispatch). A done
// callback may tear the port down, this queue with it.
class JobQueue {
public:
    // How a fence job's sync_file is read (SyncFile::status(): 0 while pending); tests give
    // stand-in fences their own.
    using FenceStatusFn = int (*)(const dmabuf::SyncFile &sync, std::uint64_t *signalledNs);
    static int syncFileStatus(const dmabuf::SyncFile &sync, std::uint64_t *signalledNs)
    {
        return sync.status(signalledNs);
    }

    static Result<std::unique_ptr<JobQueue>> create(EventLoop &loop, DoneFn done,
                                                    FenceStatusFn fenceStatus = syncFileStatus);
    ~JobQueue();
    JobQueue(const JobQueue &) = delete;
    JobQueue &operator=(const JobQueue &) = delete;

    // A job whose completion is a sync_file: watched from the loop. `queuedNs`: for a
    // sync_file exported after the job was queued, when it was queued (before its ioctl): a
    // fence that signalled before the export is not in it, and then its time is only known
    // to lie between `queuedNs` and the export (lastDoneSlackNs()). 0: the sync_file holds
    // the job's own fence (a driver returned it).
    // `watch` false: the loop does not watch the fence; handOnSignalled() reads it.
    Result<void> pushFence(std::size_t block, std::uint64_t bytes, dmabuf::SyncFile sync,
                           std::uint64_t queuedNs = 0, bool watch = true);
    // Hands on the finished jobs at the head now, from the caller's handler (a done callback
    // may destroy the queue: touch nothing of it afterwards).
    void handOnSignalled() { (void)drain(); }
    // A job completed by its port (complete()).
    void push(std::size_t block, std::uint64_t bytes);
    // Completes the oldest unfinished job of `block`.
    void complete(std::size_t block, int status, std::uint64_t bytes);

    std::size_t size() const { return jobs_.size(); }
    bool empty() const { return jobs_.empty(); }
    std::size_t front() const { return jobs_.front().block; }
    // During a done callback: when that job completed (CLOCK_MONOTONIC ns): its fences'
    // signal time, or when its port reported it (complete()).
    std::uint64_t lastDoneNs() const { return lastDoneNs_; }
    // ... and how much earlier it may have been: 0 where the fence's own time was read; for a
    // job whose fence was not in its sync_file, lastDoneNs() is when the sync_file was taken
    // and this reaches back to when the job was queued.
    std::uint64_t lastDoneSlackNs() const { return lastDoneSlackNs_; }

private:
    JobQueue(EventLoop &loop, DoneFn done, FenceStatusFn fenceStatus)
        : loop_(loop), done_(std::move(done)), fenceStatus_(fenceStatus)
    {}
    struct Job {
        std::size_t block = 0;
        std::uint64_t bytes = 0;
        std::optional<int> status;
        std::uint64_t doneNs = 0;
        std::uint64_t slackNs = 0;
        std::uint64_t queuedNs = 0;   // pushFence()'s
        std::uint64_t exportedNs = 0; // when pushFence() was called (with queuedNs)
        std::optional<dmabuf::SyncFile> sync;
    };
    Result<void> watchFences();
    void onFences();
    // Reads a fence job's status: false while its fence is pending.
    bool readFence(Job &job);
    enum class Drained { Nothing, HandedOn, Destroyed };
    // Hands on the finished jobs at the head; Destroyed: a done callback destroyed the queue.
    Drained drain();

    EventLoop &loop_;
    DoneFn done_;
    FenceStatusFn fenceStatus_;
    std::deque<Job> jobs_;
    UniqueFd fences_;           // epoll set of the fence jobs' sync_files (EPOLLONESHOT)
    EventSourcePtr fenceWatch_; // the loop's watch on it (goes before the set closes)
    EventSourcePtr drainer_;
    std::uint64_t lastDoneNs_ = 0;
    std::uint64_t lastDoneSlackNs_ = 0;
    bool *destroyed_ = nullptr; // set while drain() runs: the done callback may destroy us
};

class Port {
public:
    virtual ~Port() = default;
    virtual proto::PortMode mode() const = 0;
    // Starts a job on `block` moving `bytes`. 0, or a negative errno (no completion comes).
    virtual int submit(std::size_t block, std::uint64_t bytes) = 0;
    // Jobs submitted and not handed back yet.
    virtual std::size_t inFlight() const = 0;
    // During a done callback: when the job completed (JobQueue::lastDoneNs()): for a
    // zero-copy port the time its fence signalled, i.e. when the device finished; 0 unknown.
    virtual std::uint64_t lastDoneNs() const { return 0; }
    virtual std::uint64_t lastDoneSlackNs() const { return 0; } // JobQueue::lastDoneSlackNs()
    // How a zero-copy port learns of completions, for the log: "own fences" (the ioctl
    // returns each job's sync_file) or "exported fences"; nullptr for a copy port.
    virtual const char *fences() const { return nullptr; }
    // A port whose completions the loop does not watch (makeIioDmabufPort(chained)): hands
    // on the jobs whose fences have signalled, now, from the caller's handler (a done
    // callback may tear the port down). Other ports: nothing to do.
    virtual void handOnSignalled() {}
};

// IIO zero-copy: DMABUF enqueue on the buffer fd (`cyclic`: IIO_BUFFER_DMABUF_CYCLIC, the
// output device plays the block until the buffer is disabled). Each job's fence comes back
// from the ENQUEUE where the IIO core can return it (iioReturnsSyncFile()), else it is
// exported from the DMABUF. `chained`: the USB transfer of each block is queued behind its
// IIO fence in the kernel (kFfsDmabufTransferAfterFences), so the loop watches only the USB
// fences, and the stream reads the IIO ones when a transfer completes (handOnSignalled()):
// one wake-up per block instead of two.
Result<std::unique_ptr<Port>> makeIioDmabufPort(EventLoop &loop, iio::IioBuffer &buffer,
                                                std::vector<Block> &blocks, DoneFn done,
                                                bool cyclic = false, bool chained = false);
// Whether the buffer's IIO core takes uapi::kIioDmabufSyncFile (kernel-patches 0017), probed
// with an ENQUEUE of no DMABUF: a core without it refuses the flag (EINVAL) before it looks at
// the fd (EBADF).
bool iioReturnsSyncFile(iio::IioBuffer &buffer);
// IIO copy: read()/write() on the buffer fd (fileio) into/from the mapped block.
Result<std::unique_ptr<Port>> makeIioFileioPort(EventLoop &loop, iio::IioBuffer &buffer,
                                                proto::Direction dir, std::vector<Block> &blocks,
                                                DoneFn done);
// USB zero-copy: FUNCTIONFS_DMABUF_TRANSFER with `transferFlags` (uapi::kFfsDmabufTransfer*).
// A completion reports the bytes asked for: the fence has no length.
Result<std::unique_ptr<Port>> makeUsbDmabufPort(EventLoop &loop, ffs::FfsEndpoint &endpoint,
                                                std::vector<Block> &blocks, DoneFn done,
                                                std::uint32_t transferFlags = 0);
// DMABUF OUT transfers that fail (EREMOTEIO) when the host ends them short and hand back
// their own fence (kernel-patches 0024, 0025): without them a short transfer completes as a
// whole block, its stale rest taken for data.
inline constexpr std::uint32_t kOutTransferFlags =
        uapi::kFfsDmabufTransferShortNotOk | uapi::kFfsDmabufTransferSyncFile;
// Whether the endpoint's f_fs takes kOutTransferFlags, probed with a transfer of no DMABUF:
// a kernel without them refuses the flags (EINVAL) before it looks at the fd (EBADF).
bool usbReportsShortTransfers(ffs::FfsEndpoint &endpoint, std::uint64_t length);
// The flags for DMABUF IN transfers: the transfer's own sync_file where f_fs can return it
// (kernel-patches 0025; probed like usbReportsShortTransfers()), which saves exporting the
// DMABUF's fences for every block and keeps the status of a transfer that ends before an
// export could have taken its fence; else none. `chain`: with it, kFfsDmabufTransferAfterFences
// where f_fs takes that too (kernel-patches 0028, probed the same way).
std::uint32_t usbInTransferFlags(ffs::FfsEndpoint &endpoint, std::uint64_t length,
                                 bool chain = false);
// USB copy: AIO read/write of the mapped block on the endpoint file.
Result<std::unique_ptr<Port>> makeUsbAioPort(EventLoop &loop, ffs::FfsEndpoint &endpoint,
                                             proto::Direction dir, std::vector<Block> &blocks,
                                             DoneFn done);

} // namespace iiousb::pipeline
