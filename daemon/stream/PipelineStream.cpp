#include "stream/PipelineStream.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "base/KernelUapi.h"
#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Stream, "stream")

namespace {

// The sample sets a converter at `rate` per second produces in `ns` nanoseconds, without
// 128-bit arithmetic (32-bit targets have none): exact for rates below 1.8e10.
std::uint64_t samplesIn(std::uint64_t ns, std::uint64_t rate)
{
    constexpr std::uint64_t kNsPerSecond = 1000000000u;
    return ns / kNsPerSecond * rate + ns % kNsPerSecond * rate / kNsPerSecond;
}

} // namespace

namespace {

// The host is gone or deconfigured the interface.
bool hostGone(int err)
{
    return err == -ESHUTDOWN || err == -ECONNRESET || err == -ENODEV || err == -EPIPE;
}

} // namespace

PipelineStream::PipelineStream(StreamConfig config, Result<iio::IioStreamDescription> description,
                               EventLoop &loop, std::string endpointPath, PortFactory testPorts)
    : config_(std::move(config)), loop_(loop), endpointPath_(std::move(endpointPath)),
      testPorts_(std::move(testPorts))
{
    if (description) {
        iio_ = std::move(*description);
    } else {
        failure_ = description.error().message;
        failureCode_ = description.error().code;
        state_ = proto::StreamState::Failed;
    }
}

PipelineStream::~PipelineStream()
{
    tearDown();
}

proto::StreamInfo PipelineStream::info() const
{
    proto::StreamInfo s;
    s.name = config_.name;
    s.dir = config_.direction;
    s.blockBytes = config_.blockSize;
    s.blocks = config_.blockCount;
    if (iio_) {
        s.iio = iio_->deviceName;
        s.rate = iio_->rate;
        s.sampleBytes = iio_->sampleBytes;
        for (std::size_t i = 0; i < iio_->channels.size(); i++)
            s.channels.push_back({static_cast<unsigned>(i), iio_->channels[i].id,
                                  proto::formatScanFormat(iio_->channels[i].format)});
    } else {
        s.iio = config_.device;
    }
    return s;
}

int PipelineStream::start()
{
    // START always begins a new session: blocks still in flight were meant for a host that
    // may be gone (a program killed without STOP), so they are dropped, not delivered.
    if (state_ == proto::StreamState::Running) {
        LOG(Stream, Info).hostTriggered()
                << "Stream " << config_.name
                << " restarted by START: the blocks in flight are dropped";
        stop();
    }
    cyclic_ = false;
    stallRestarts_ = 0;
    meta_ = nullptr;
    return startRun();
}

int PipelineStream::startWithMetadata(MetaSink &sink, std::uint8_t index)
{
    const int r = start();
    if (r == 0) {
        meta_ = &sink;
        metaIndex_ = index;
    }
    return r;
}

int PipelineStream::startCyclic(std::uint64_t bytes)
{
    if (config_.direction != proto::Direction::Tx)
        return -EINVAL;
    if (state_ == proto::StreamState::Running)
        return -EBUSY;
    if (iio_ && (bytes == 0 || bytes > config_.blockSize || bytes % iio_->sampleBytes != 0)) {
        LOG(Stream, Error) << "Stream " << config_.name << ": a cyclic waveform of " << bytes
                           << " bytes does not fit: it must be 1 to " << config_.blockSize
                           << " bytes (block-size) of whole " << iio_->sampleBytes
                           << "-byte sample sets";
        state_ = proto::StreamState::Failed;
        return -EINVAL;
    }
    cyclic_ = true;
    cyclicBytes_ = bytes;
    stallRestarts_ = 0;
    return startRun();
}

int PipelineStream::startRun(bool resume)
{
    if (!iio_) {
        LOG(Stream, Warning) << "Stream " << config_.name << " cannot start: " << failure_;
        return failureCode_ ? failureCode_ : -ENODEV;
    }
    if (!stopper_) {
        auto s = loop_.addDeferred([this] {
            if (!stopping_)
                return;
            const bool failed = stopFailed_;
            if (failed)
                LOG(Stream, Error).field(log::kStream, config_.name).field(log::kEvent, "stop")
                        << "Stream " << config_.name << ": " << stopReason_;
            else
                LOG(Stream, Notice)
                                .field(log::kStream, config_.name)
                                .field(log::kEvent, "disconnect")
                        << "Stream " << config_.name << ": " << stopReason_;
            stop();
            if (failed)
                state_ = proto::StreamState::Failed;
        });
        if (!s) {
            LOG(Stream, Error) << s.error().message;
            return s.error().code;
        }
        stopper_ = std::move(*s);
    }
    if (auto r = armWatchdog(); !r) {
        LOG(Stream, Error) << r.error().message;
        return r.error().code;
    }
    if (!resume) {
        counters_ = {};
        metaSequence_ = 0;
        nextSample_ = 0;
        lastIioDoneNs_ = 0;
        lastIioSlackNs_ = 0;
        usbLostSamples_ = 0;
    }
    blockMeta_.assign(cyclic_ ? 1 : config_.blockCount, BlockMeta{});
    usbFailRun_ = 0;
    iioFailRun_ = 0;
    usbShortNotOk_ = false;
    chained_ = false;
    stopping_ = false;
    if (auto r = testPorts_ ? setUpTestPorts() : setUp(); !r) {
        LOG(Stream, Error) << "Stream " << config_.name
                           << " failed to start: " << r.error().message;
        tearDown();
        state_ = proto::StreamState::Failed;
        cyclic_ = false;
        return r.error().code < 0 ? r.error().code : -EIO;
    }
    state_ = proto::StreamState::Running;
    const auto now = Clock::now();
    if (!resume)
        startedAt_ = now;
    const auto side = [](const pipeline::Port &p, proto::PortMode m) {
        return std::string(proto::portModeName(m)) +
               (p.fences() ? std::string(" (") + p.fences() + ")" : std::string());
    };
    LOG(Stream, Info) << "Stream " << config_.name << (cyclic_ ? " started (cyclic)" : " started")
                      << ": IIO side " << side(*run_->iioPort, counters_.iio) << ", USB side "
                      << side(*run_->usbPort, counters_.usb) << ", " << run_->blockCount << " x "
                      << config_.blockSize << " bytes from "
                      << (run_->blocks.empty() ? std::string("test ports")
                                               : run_->blocks.front().buf.origin());
    iioWatch_ = {};
    iioWatch_.since = now;
    usbWatch_ = {};
    usbWatch_.since = now;
    if (watchdog_) {
        // At least two block times at the device's rate: the first block of a run
        // completes only once it is full.
        iioStallAfter_ = config_.stallTimeout;
        if (iio_->rate > 0 && iio_->sampleBytes > 0) {
            const std::uint64_t bytes = cyclic_ ? cyclicBytes_ : config_.blockSize;
            const auto blockTime =
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                            static_cast<double>(bytes) / static_cast<double>(iio_->sampleBytes) /
                            static_cast<double>(iio_->rate)));
            iioStallAfter_ = std::max<Clock::duration>(iioStallAfter_, 2 * blockTime);
        }
        watchdog_->setEnabled(true);
    }
    prime();
    return 0;
}

Result<bool> PipelineStream::attachAll(const Run &run, std::string_view port,
                                       const std::string &side,
                                       const std::function<int(int)> &attach,
                                       const std::string &hint)
{
    if (config_.zeroCopy == ZeroCopy::Off)
        return false;
    auto r = pipeline::attachBlocks(run.blocks, attach, side);
    if (!r)
        return r.takeError();
    if (*r == 0)
        return true;
    const std::string why =
            side + " cannot import DMABUFs (" + errnoString(*r) + (*r == -EPERM ? hint : "") + ")";
    if (config_.zeroCopy == ZeroCopy::Require)
        return makeError(*r, why + " and zero-copy is 'require'");
    LOG(Stream, Warning)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, iio_->deviceName)
                    .field(log::kEvent, "fallback")
            << "Stream " << config_.name << ": " << why << "; falling back to copying on the "
            << port << " side";
    return false;
}

Result<bool> PipelineStream::attachIio(Run &run)
{
    return attachAll(
            run, "IIO", "IIO device " + run.iio->deviceId(),
            [&run](int fd) { return run.iio->attach(fd); }, " (not a DMA buffer)");
}

Result<bool> PipelineStream::attachUsb(Run &run)
{
    auto zero = attachAll(
            run, "USB", endpointPath_, [&run](int fd) { return run.endpoint->attach(fd); },
            ": the USB device controller lacks scatter-gather");
    if (!zero || !*zero || config_.direction != proto::Direction::Tx)
        return zero;
    if (usbFailsShortTransfers(run)) {
        usbShortNotOk_ = true;
        return true;
    }
    // A DMABUF OUT transfer that the host ends short would complete as a whole block of
    // stale data: copy instead, where each read says how much arrived.
    const std::string why = "the kernel's FunctionFS cannot report short DMABUF transfers "
                            "(no USB_FFS_DMABUF_TRANSFER_SHORT_NOT_OK and _SYNC_FILE, "
                            "kernel-patches 0024 and 0025)";
    if (config_.zeroCopy == ZeroCopy::Require)
        return makeError(-EOPNOTSUPP, why + " and zero-copy is 'require'");
    if (!shortProbeLogged_) {
        shortProbeLogged_ = true;
        LOG(Stream, Warning)
                        .field(log::kStream, config_.name)
                        .field(log::kDevice, iio_->deviceName)
                        .field(log::kEvent, "fallback")
                << "Stream " << config_.name << ": " << why
                << "; copying on the USB side so that short transfers are caught";
    }
    for (const auto &b : run.blocks)
        if (int r = run.endpoint->detach(b.buf.fd()); r < 0)
            return errnoError(r, "Failed to detach a DMABUF from " + endpointPath_);
    return false;
}

bool PipelineStream::usbFailsShortTransfers(Run &run)
{
    const bool ok = pipeline::usbReportsShortTransfers(*run.endpoint, config_.blockSize);
    LOG(Stream, Debug) << "Stream " << config_.name << ": SHORT_NOT_OK|SYNC_FILE "
                       << (ok ? "taken" : "refused");
    return ok;
}

Result<void> PipelineStream::setUp()
{
    const std::uint64_t block = config_.blockSize;
    if (iio_->sampleBytes == 0 || block % iio_->sampleBytes != 0)
        return makeError(-EINVAL, "block-size " + std::to_string(block) +
                                          " is not a multiple of the " +
                                          std::to_string(iio_->sampleBytes) +
                                          "-byte sample set of " + iio_->deviceId);
    auto run = std::make_unique<Run>();
    run->blockCount = cyclic_ ? 1 : config_.blockCount;
    std::vector<std::string> channels;
    for (const auto &c : iio_->channels)
        channels.push_back(c.id);
    auto buf = iio::IioBuffer::open(iio_->deviceId, channels, config_.direction,
                                    iio_->pendingAttributes);
    if (!buf)
        return buf.takeError();
    run->iio = std::move(*buf);

    const unsigned count = cyclic_ ? 1 : config_.blockCount;
    for (unsigned i = 0; i < count; i++) {
        auto b = dmabuf::DmaBuf::allocate(config_.dmabufHeap, block);
        if (!b)
            return b.takeError();
        run->blocks.push_back({std::move(*b), nullptr});
    }

    auto iioZero = attachIio(*run);
    if (!iioZero)
        return iioZero.takeError();
    if (auto r = run->iio->setNonBlocking(); !r)
        return r;
    if (!*iioZero) {
        auto fileioSamples = pipeline::sizeFileio(*run->iio, block, iio_->sampleBytes);
        if (!fileioSamples)
            return fileioSamples.takeError();
        // Not every buffer lets the watermark be set (industrialio-buffer-dma's is
        // read-only); it only saves wake-ups.
        if (auto r = run->iio->setWatermark(*fileioSamples); !r)
            LOG(Stream, Debug) << r.error().message;
    }

    auto ep = ffs::FfsEndpoint::open(endpointPath_);
    if (!ep)
        return ep.takeError();
    run->endpoint.emplace(std::move(*ep));
    auto usbZero = attachUsb(*run);
    if (!usbZero)
        return usbZero.takeError();
    if (auto r = run->endpoint->setNonBlocking(); !r)
        return r;

    if (!*iioZero || !*usbZero) {
        for (auto &b : run->blocks) {
            auto p = b.buf.map();
            if (!p)
                return p.takeError();
            b.cpu = *p;
        }
    }

    // RX with both sides zero-copy: each USB transfer goes out right after its IIO enqueue,
    // queued behind the IIO fence by f_fs where it can (kernel-patches 0028).
    std::uint32_t transferFlags = 0;
    if (config_.direction == proto::Direction::Tx)
        transferFlags = usbShortNotOk_ ? pipeline::kOutTransferFlags : 0;
    else if (*usbZero)
        transferFlags = pipeline::usbInTransferFlags(*run->endpoint, block, *iioZero && !cyclic_);
    chained_ = (transferFlags & uapi::kFfsDmabufTransferAfterFences) != 0;

    auto iioDone = [this](std::size_t b, int s, std::uint64_t n) { onIioDone(b, s, n); };
    auto usbDone = [this](std::size_t b, int s, std::uint64_t n) { onUsbDone(b, s, n); };
    auto iioPort = *iioZero ? pipeline::makeIioDmabufPort(loop_, *run->iio, run->blocks, iioDone,
                                                          cyclic_, chained_)
                            : pipeline::makeIioFileioPort(loop_, *run->iio, config_.direction,
                                                          run->blocks, iioDone);
    if (!iioPort)
        return iioPort.takeError();
    run->iioPort = std::move(*iioPort);
    auto usbPort = *usbZero ? pipeline::makeUsbDmabufPort(loop_, *run->endpoint, run->blocks,
                                                          usbDone, transferFlags)
                            : pipeline::makeUsbAioPort(loop_, *run->endpoint, config_.direction,
                                                       run->blocks, usbDone);
    if (!usbPort)
        return usbPort.takeError();
    run->usbPort = std::move(*usbPort);

    if (auto r = run->iio->enable(); !r)
        return r;
    counters_.iio = run->iioPort->mode();
    counters_.usb = run->usbPort->mode();
    run_ = std::move(run);
    return {};
}

Result<void> PipelineStream::setUpTestPorts()
{
    auto run = std::make_unique<Run>();
    run->blockCount = cyclic_ ? 1 : config_.blockCount;
    auto ports = testPorts_(
            run->blockCount, cyclic_,
            [this](std::size_t b, int s, std::uint64_t n) { onIioDone(b, s, n); },
            [this](std::size_t b, int s, std::uint64_t n) { onUsbDone(b, s, n); });
    if (!ports)
        return ports.takeError();
    run->iioPort = std::move(ports->iio);
    run->usbPort = std::move(ports->usb);
    counters_.iio = run->iioPort->mode();
    counters_.usb = run->usbPort->mode();
    run_ = std::move(run);
    return {};
}

void PipelineStream::prime()
{
    if (cyclic_) {
        submitUsb(0, cyclicBytes_);
        return;
    }
    const std::uint64_t block = config_.blockSize;
    for (std::size_t i = 0; i < run_->blockCount && !stopping_; i++) {
        if (config_.direction == proto::Direction::Rx)
            submitIio(i, block);
        else
            submitUsb(i, block);
    }
}

void PipelineStream::submitIio(std::size_t block, std::uint64_t bytes)
{
    if (stopping_ || !run_)
        return;
    BlockMeta &m = blockMeta_[block];
    m.queuedNs = pipeline::monotonicNs();
    const int r = run_->iioPort->submit(block, bytes);
    m.queuedEndNs = pipeline::monotonicNs();
    if (r < 0)
        requestStop(
                "IIO " + std::string(config_.direction == proto::Direction::Rx ? "read" : "write") +
                        " of block " + std::to_string(block) + " failed: " + errnoString(r),
                true);
    else if (chained_)
        submitUsb(block, bytes);
}

void PipelineStream::submitUsb(std::size_t block, std::uint64_t bytes)
{
    if (stopping_ || !run_)
        return;
    if (int r = run_->usbPort->submit(block, bytes); r < 0) {
        if (hostGone(r) || r == -EAGAIN)
            requestStop("the host went away (" + errnoString(r) + "); stopping", false);
        else
            requestStop("USB transfer of block " + std::to_string(block) +
                                " failed: " + errnoString(r),
                        true);
    }
}

void PipelineStream::recycle(std::size_t block)
{
    // A failed block is not passed on: RX refills it, TX takes the next one from the host
    // (a cyclic run: the waveform again).
    if (config_.direction == proto::Direction::Rx)
        submitIio(block, config_.blockSize);
    else
        submitUsb(block, cyclic_ ? cyclicBytes_ : config_.blockSize);
}

void PipelineStream::blockFailed(unsigned &run, const char *side, std::size_t block,
                                 const std::string &why)
{
    if (++run < kErrorBudget) {
        recycle(block);
        return;
    }
    const std::string what =
            std::to_string(run) + " " + side + " blocks failed in a row (" + why + "); giving up";
    LOG(Stream, Error)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, iio_->deviceName)
                    .field(log::kEvent, "error-budget")
            << "Stream " << config_.name << ": " << what;
    requestStop(what, true);
}

void PipelineStream::onIioDone(std::size_t block, int status, std::uint64_t bytes)
{
    if (stopping_)
        return;
    iioWatch_.done++;
    if (status == 0)
        stallRestarts_ = 0;
    if (cyclic_) {
        // A cyclic DMABUF only completes when it is aborted; fileio plays the waveform by
        // writing it again.
        if (status < 0) {
            counters_.iioErrors++;
            requestStop("the cyclic waveform stopped: " + errnoString(status), true);
        } else if (counters_.iio == proto::PortMode::Copy) {
            submitIio(block, cyclicBytes_);
        }
        return;
    }
    if (status < 0) {
        counters_.iioErrors++;
        LOG(Stream, Warning) << "Stream " << config_.name << ": IIO block " << block
                             << " failed: " << errnoString(status);
        // Its transfer, queued behind it, fails with its error: not a USB failure.
        blockMeta_[block].iioFailed = chained_;
        blockFailed(iioFailRun_, "IIO", block, "IIO: " + errnoString(status));
        return;
    }
    iioFailRun_ = 0;
    if (!bytes)
        bytes = config_.blockSize;
    const bool starved = iioBlockDone(block, bytes);
    if (config_.direction == proto::Direction::Rx) {
        // A real converter dropped samples while the device had no block to fill.
        if (starved)
            noteIioStarved(counters_.overruns, "overrun",
                           "fill (USB slower than the device; GET_STATS counts each time)");
        if (!chained_)
            submitUsb(block, bytes);
    } else {
        counters_.bytes += bytes;
        counters_.blocks++;
        if (starved)
            noteIioStarved(counters_.underruns, "underrun",
                           "play (the host is slower than the device; GET_STATS counts each "
                           "time)");
        sendMeta(block);
        submitUsb(block, config_.blockSize);
    }
}

bool PipelineStream::iioBlockDone(std::size_t block, std::uint64_t bytes)
{
    BlockMeta &m = blockMeta_[block];
    const std::uint64_t signalled =
            counters_.iio == proto::PortMode::ZeroCopy ? run_->iioPort->lastDoneNs() : 0;
    m.flags = config_.direction == proto::Direction::Tx ? proto::kMetaTx : 0;
    m.lost = 0;
    m.lostMargin = 0;
    m.bytes = static_cast<std::uint32_t>(bytes);
    bool starved = false;
    if (signalled) {
        const std::uint64_t slack = run_->iioPort->lastDoneSlackNs();
        // A completion known only within a window (its fence signalled before its
        // sync_file was taken) has no exact time to report.
        if (!slack)
            m.flags |= proto::kMetaTime;
        m.doneNs = signalled;
        // The device got the block somewhere inside the enqueue ioctl, and the previous
        // block completed at lastIioDoneNs_ (or up to its slack before): only a block whose
        // ioctl returned before that was surely in time. One whose ioctl spans it may have
        // been late: announced, with what the middles of the two windows give as the count
        // (often 0), and half of both windows (plus one for rounding) as the margin.
        const std::uint64_t prevEarliest = lastIioDoneNs_ - lastIioSlackNs_;
        starved = lastIioDoneNs_ && m.queuedEndNs > prevEarliest;
        if (starved) {
            m.flags |= proto::kMetaGap;
            const std::uint64_t mid = m.queuedNs + (m.queuedEndNs - m.queuedNs) / 2;
            const std::uint64_t prev = lastIioDoneNs_ - lastIioSlackNs_ / 2;
            if (!iio_->rate)
                m.flags |= proto::kMetaLostUnknown;
            else if (mid > prev)
                m.lost = samplesIn(mid - prev, iio_->rate);
            if (iio_->rate) {
                const std::uint64_t half =
                        (m.queuedEndNs - m.queuedNs + 1) / 2 + (lastIioSlackNs_ + 1) / 2;
                m.lostMargin = static_cast<std::uint32_t>(
                        std::min<std::uint64_t>(samplesIn(half, iio_->rate) + 2, UINT32_MAX));
            }
        }
        lastIioDoneNs_ = signalled;
        lastIioSlackNs_ = slack;
    } else {
        m.doneNs = pipeline::monotonicNs();
        starved = run_->iioPort->inFlight() == 0;
    }
    nextSample_ += m.lost;
    m.firstSample = nextSample_;
    if (iio_->sampleBytes)
        nextSample_ += bytes / iio_->sampleBytes;
    return starved;
}

void PipelineStream::sendMeta(std::size_t block)
{
    if (!meta_ || cyclic_)
        return;
    const BlockMeta &m = blockMeta_[block];
    proto::MetaRecord r;
    r.stream = metaIndex_;
    r.flags = m.flags;
    r.sequence = metaSequence_++;
    r.firstSample = m.firstSample;
    r.lost = m.lost + usbLostSamples_;
    if (usbLostSamples_)
        r.flags |= proto::kMetaGap | proto::kMetaUsbLoss;
    usbLostSamples_ = 0;
    r.overruns = counters_.overruns;
    r.underruns = counters_.underruns;
    r.completionNs = m.doneNs;
    r.bytes = m.bytes;
    r.lostMargin = m.lostMargin;
    meta_->push(r);
}

void PipelineStream::noteIioStarved(std::uint64_t &counter, const char *event, const char *what)
{
    if (counter++ != 0)
        return;
    LOG(Stream, Notice)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, iio_->deviceName)
                    .field(log::kEvent, event)
            << "Stream " << config_.name << ": the IIO device ran out of blocks to " << what;
}

bool PipelineStream::handOnChainedIio()
{
    run_->iioPort->handOnSignalled();
    return !stopping_ && run_;
}

void PipelineStream::onUsbDone(std::size_t block, int status, std::uint64_t bytes)
{
    if (stopping_)
        return;
    if (chained_) {
        // The IIO blocks the transfer waited for (or ran behind), handed on first: their
        // times, overruns and records come before the transfer's.
        if (!handOnChainedIio())
            return;
        if (std::exchange(blockMeta_[block].iioFailed, false))
            return; // its IIO block failed, with this error, and was started again
    }
    usbWatch_.done++;
    if (usbWatch_.idle) {
        usbWatch_.idle = false;
        LOG(Stream, Notice)
                        .hostTriggered()
                        .field(log::kStream, config_.name)
                        .field(log::kEvent, "usb-resumed")
                << "Stream " << config_.name << ": the host "
                << (config_.direction == proto::Direction::Rx ? "reads" : "sends")
                << " again after "
                << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - usbWatch_.since)
                           .count()
                << " s";
    }
    const bool tx = config_.direction == proto::Direction::Tx;
    if (status < 0 && hostGone(status)) {
        counters_.usbErrors++;
        requestStop("the host went away (" + errnoString(status) + "); stopping", false);
        return;
    }
    // TX takes exactly one block per transfer (a cyclic run: exactly the waveform). The copy
    // port reports what arrived; the zero-copy port reports what was asked for, and f_fs
    // fails a short transfer with EREMOTEIO (SHORT_NOT_OK). The rest of a short block is
    // stale: drop it all.
    const std::uint64_t want = cyclic_ ? cyclicBytes_ : config_.blockSize;
    if (tx && (status == -EREMOTEIO || (status == 0 && bytes != want))) {
        counters_.shortTransfers++;
        // (A zero-copy transfer's fence says it was short, not how short.)
        const std::string got = (status < 0 ? "fewer than " : std::to_string(bytes) + " of ") +
                                std::to_string(want) + " bytes";
        if (counters_.shortTransfers == 1)
            LOG(Stream, Notice)
                            .field(log::kStream, config_.name)
                            .field(log::kEvent, "short-transfer")
                    << "Stream " << config_.name << ": the host sent a transfer of " << got
                    << "; dropped (GET_STATS counts each time)";
        blockFailed(usbFailRun_, "USB", block, "short transfer: " + got);
        return;
    }
    if (status < 0) {
        counters_.usbErrors++;
        if (!tx && iio_->sampleBytes)
            usbLostSamples_ += blockMeta_[block].bytes / iio_->sampleBytes;
        LOG(Stream, Warning) << "Stream " << config_.name << ": USB transfer of block " << block
                             << " failed: " << errnoString(status);
        blockFailed(usbFailRun_, "USB", block, "USB: " + errnoString(status));
        return;
    }
    usbFailRun_ = 0;
    if (cyclic_) {
        counters_.bytes = want;
        counters_.blocks = 1;
        LOG(Stream, Info) << "Stream " << config_.name << ": cyclic waveform of " << want
                          << " bytes received; playing it until STOP";
        submitIio(block, want);
        return;
    }
    if (!tx) {
        counters_.bytes += bytes ? bytes : config_.blockSize;
        counters_.blocks++;
        sendMeta(block);
        submitIio(block, config_.blockSize);
    } else {
        submitIio(block, want);
    }
}

void PipelineStream::requestStop(const std::string &why, bool failed)
{
    if (stopping_)
        return;
    stopping_ = true;
    stopReason_ = why;
    stopFailed_ = failed;
    stopper_->trigger();
}

void PipelineStream::tearDown()
{
    if (watchdog_)
        watchdog_->setEnabled(false);
    if (!run_)
        return;
    // Order matters (docs/kernel-notes.md): every sync_file is closed before an endpoint is
    // detached or closed; queued IIO blocks are aborted by disabling the buffer; closing the
    // endpoint (not DETACH, which oopses after a UDC unbind in 6.12) aborts USB transfers
    // and detaches the DMABUFs; closing the IIO buffer fd detaches the rest.
    run_->usbPort.reset();
    run_->iioPort.reset();
    if (run_->iio)
        run_->iio->disable();
    run_->endpoint.reset();
    run_->iio.reset();
    run_->blocks.clear();
    run_.reset();
}

void PipelineStream::stop()
{
    if (state_ != proto::StreamState::Running) {
        tearDown();
        return;
    }
    stopping_ = true;
    counters_.runningNs = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - startedAt_)
                    .count());
    tearDown();
    state_ = proto::StreamState::Stopped;
    cyclic_ = false;
    meta_ = nullptr;
    LOG(Stream, Info) << "Stream " << config_.name << " stopped: " << counters_.bytes
                      << " bytes in " << counters_.blocks << " blocks, " << counters_.usbErrors
                      << " USB errors, " << counters_.iioErrors << " IIO errors, "
                      << counters_.overruns << " overruns, " << counters_.underruns
                      << " underruns, " << counters_.shortTransfers << " short transfers";
}

Result<void> PipelineStream::armWatchdog()
{
    if (watchdog_ || config_.stallTimeout.count() == 0)
        return {};
    // Ticks of a quarter of the timeout (10 ms to 1 s): an event comes T to T + tick after
    // the last progress. Each completion only counts; nothing is re-armed per block.
    const auto tick = std::clamp<std::chrono::microseconds>(
            std::chrono::duration_cast<std::chrono::microseconds>(config_.stallTimeout / 4),
            std::chrono::milliseconds(10), std::chrono::seconds(1));
    auto t = loop_.addPeriodicTimer(tick, [this] { onWatchdog(); });
    if (!t)
        return t.takeError();
    watchdog_ = std::move(*t);
    watchdog_->setEnabled(false);
    return {};
}

namespace {

std::string seconds(std::chrono::steady_clock::duration d)
{
    char s[32];
    std::snprintf(s, sizeof s, "%.1f", std::chrono::duration<double>(d).count());
    return s;
}

} // namespace

void PipelineStream::onWatchdog()
{
    if (state_ != proto::StreamState::Running || stopping_ || !run_)
        return;
    // Nothing else reads the IIO fences while the host reads nothing.
    if (chained_ && !handOnChainedIio())
        return;
    const auto now = Clock::now();
    // Not a cyclic run's: a cyclic DMABUF completes only when it is aborted, and a restart
    // would lose the waveform, which the host uploads once.
    const bool iioWatched = !cyclic_;
    if (!iioWatched || iioWatch_.done != iioWatch_.seen || run_->iioPort->inFlight() == 0) {
        iioWatch_.seen = iioWatch_.done;
        iioWatch_.since = now;
    } else if (now - iioWatch_.since >= iioStallAfter_) {
        iioStalled(now - iioWatch_.since);
        return;
    }
    if (usbWatch_.done != usbWatch_.seen || run_->usbPort->inFlight() == 0) {
        usbWatch_.seen = usbWatch_.done;
        if (!usbWatch_.idle)
            usbWatch_.since = now;
    } else if (!usbWatch_.idle && now - usbWatch_.since >= config_.stallTimeout) {
        // The host's choice (a program paused, a slow reader): not a fault.
        usbWatch_.idle = true;
        LOG(Stream, Notice)
                        .hostTriggered()
                        .field(log::kStream, config_.name)
                        .field(log::kEvent, "usb-idle")
                << "Stream " << config_.name << ": the host has "
                << (config_.direction == proto::Direction::Rx ? "read" : "sent") << " nothing for "
                << seconds(now - usbWatch_.since) << " s (" << run_->usbPort->inFlight()
                << " transfers queued); waiting for it";
    }
}

void PipelineStream::iioStalled(Clock::duration stalled)
{
    const std::size_t queued = run_->iioPort->inFlight();
    const std::string what = "IIO device " + iio_->deviceName + " (" + iio_->deviceId +
                             ") completed no block in " + seconds(stalled) + " s with " +
                             std::to_string(queued) + " queued";
    if (stallRestarts_ >= kStallRestarts) {
        const std::string why = what + ", again after " + std::to_string(kStallRestarts) +
                                " restarts without progress; giving up";
        LOG(Stream, Error)
                        .field(log::kStream, config_.name)
                        .field(log::kDevice, iio_->deviceName)
                        .field(log::kEvent, "iio-stalled")
                << "Stream " << config_.name << ": " << why;
        requestStop(why, true);
        return;
    }
    stallRestarts_++;
    LOG(Stream, Warning)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, iio_->deviceName)
                    .field(log::kEvent, "iio-stalled")
            << "Stream " << config_.name << ": " << what << "; restarting the stream (restart "
            << stallRestarts_ << " of " << kStallRestarts << ")";
    // The same as a START restart, except that the session goes on: the counters keep
    // counting and the dropped blocks count as failed IIO blocks. (From the timer, not from
    // a port's callback: the ports may go.)
    counters_.iioErrors += queued;
    stop();
    startRun(true);
}

void PipelineStream::iioDeviceRemoved()
{
    if (!iio_)
        return;
    const bool wasRunning = state_ == proto::StreamState::Running;
    failure_ = "IIO device " + iio_->deviceName + " (" + iio_->deviceId + ") was removed";
    failureCode_ = -ENODEV;
    LOG(Stream, Error)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, config_.device)
                    .field(log::kEvent, "iio-removed")
            << "Stream " << config_.name << ": " << failure_
            << (wasRunning ? " while streaming: stopped" : "");
    stop();
    iio_.reset();
    state_ = proto::StreamState::Failed;
}

void PipelineStream::setIioDevice(iio::IioStreamDescription description)
{
    if (state_ == proto::StreamState::Running)
        return;
    LOG(Stream, Notice)
                    .field(log::kStream, config_.name)
                    .field(log::kDevice, config_.device)
                    .field(log::kEvent, "iio-found")
            << "Stream " << config_.name << ": IIO device " << description.deviceName << " is "
            << description.deviceId << (failure_.empty() ? "" : " (was: " + failure_ + ")");
    iio_ = std::move(description);
    failure_.clear();
    failureCode_ = 0;
    state_ = proto::StreamState::Stopped;
}

void PipelineStream::usbDisabled()
{
    if (state_ == proto::StreamState::Running)
        LOG(Stream, Notice) << "Stream " << config_.name << ": host disabled the interface";
    stop();
}

proto::Stats PipelineStream::stats() const
{
    proto::Stats s = counters_;
    s.state = state_;
    if (state_ == proto::StreamState::Running)
        s.runningNs = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - startedAt_)
                        .count());
    return s;
}

} // namespace iiousb
