// A stream that moves data: N DMABUF blocks cycling between the IIO buffer and the USB
// endpoint, every wait driven by the event loop.
//
//   RX: IIO fills a block -> USB sends it -> IIO again      (ADC -> host)
//   TX: USB receives a block -> IIO drains it -> USB again  (host -> DAC)
//
// Each side is zero-copy (the DMABUF is attached to it) when the kernel accepts the attach,
// or a CPU copy through the mapped DMABUF when it does not (or `zero-copy: off`), chosen at
// every START and logged. A block whose job failed on one side is never passed to the other
// (an IIO error is not sent to the host, a failed USB transfer is counted).
//
// TX takes only whole blocks from the host (docs/protocol.md, "Streaming"): a transfer that
// is not exactly one block (or the cyclic waveform's length) is counted as short and never
// reaches IIO. The copy port knows each transfer's length; the zero-copy port asks f_fs to
// fail short transfers (USB_FFS_DMABUF_TRANSFER_SHORT_NOT_OK, kernel-patches 0024)
// and to return the transfer's own fence as a sync_file (..._SYNC_FILE, 0025: exporting the
// DMABUF's fences misses a short transfer that completed at once); where the kernel lacks
// these flags the USB side of a tx stream copies.
//
// Error budget: kErrorBudget failed blocks in a row on one side stop the stream as Failed.
//
// Progress watchdog (`stall-timeout`, T): one periodic timer per stream looks at each side's
// completions. IIO blocks queued and none completed for T (at least two block times at the
// device's rate) is a stalled device: journal event iio-stalled, and the run is torn down and
// started again (the counters go on; the dropped blocks count as IIO errors); a device that
// stalls again after kStallRestarts such restarts with no block completed in between fails
// the stream. USB transfers queued and none completed for T is the host's choice (it does not
// read or write): usb-idle once, usb-resumed when data flows again, nothing else. The IIO
// side of a cyclic run is not watched.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/Result.h"
#include "event/EventLoop.h"
#include "ffs/FfsEndpoint.h"
#include "iio/IioBuffer.h"
#include "iio/IioContext.h"
#include "pipeline/Ports.h"
#include "stream/Stream.h"

namespace iiousb {

class PipelineStream : public Stream {
public:
    // `description` is the IIO device found for the stream, or the error that says why
    // there is none (the stream is then Failed and cannot start). `endpointPath` is the
    // stream's FunctionFS endpoint file.
    // Test seam: makes one run's two ports in place of the real ones, and then no IIO
    // buffer, endpoint or DMABUF is opened at all (unit tests drive the stream with fake
    // ports on a real loop). `blocks` as the run's block indices 0..blocks-1.
    struct Ports {
        std::unique_ptr<pipeline::Port> iio;
        std::unique_ptr<pipeline::Port> usb;
    };
    using PortFactory = std::function<Result<Ports>(
            std::size_t blocks, bool cyclic, pipeline::DoneFn iioDone, pipeline::DoneFn usbDone)>;

    PipelineStream(StreamConfig config, Result<iio::IioStreamDescription> description,
                   EventLoop &loop, std::string endpointPath, PortFactory testPorts = {});
    ~PipelineStream() override;

    const StreamConfig &config() const override { return config_; }
    proto::StreamInfo info() const override;
    int start() override;
    int startWithMetadata(MetaSink &sink, std::uint8_t index) override;
    bool sendsMetadata() const override { return meta_ && state_ == proto::StreamState::Running; }
    int startCyclic(std::uint64_t bytes) override;
    void stop() override;
    proto::Stats stats() const override;
    void usbDisabled() override;

    // IIO hotplug. The IIO device id ("iio:device0") the stream uses, empty while it has
    // none (never found, or removed).
    std::string iioDeviceId() const { return iio_ ? iio_->deviceId : std::string(); }
    // The device went away: a running stream stops, and the stream stays failed (START
    // refused) until setIioDevice() gives it one again.
    void iioDeviceRemoved();
    // The stream's device was found (again, maybe under a new id): the stream can start.
    void setIioDevice(iio::IioStreamDescription description);

private:
    using Clock = std::chrono::steady_clock;

    // Everything one run owns, released in tearDown()'s order (with test ports: the ports
    // and blockCount only).
    struct Run {
        std::size_t blockCount = 0;
        std::unique_ptr<iio::IioBuffer> iio;
        std::vector<pipeline::Block> blocks;
        std::optional<ffs::FfsEndpoint> endpoint;
        std::unique_ptr<pipeline::Port> iioPort;
        std::unique_ptr<pipeline::Port> usbPort;
    };

    // `resume`: a watchdog restart, the counters and the running time go on.
    int startRun(bool resume = false);
    Result<void> setUp();
    Result<void> setUpTestPorts();
    // Attaches every block to one side: true, false when that side must copy (it cannot
    // import DMABUFs, or zero-copy is off; logged), or an error.
    Result<bool> attachAll(const Run &run, std::string_view port, const std::string &side,
                           const std::function<int(int)> &attach, const std::string &hint);
    Result<bool> attachIio(Run &run);
    Result<bool> attachUsb(Run &run);
    // Whether f_fs takes pipeline::kOutTransferFlags (kernel-patches 0024, 0025): probed with a
    // TRANSFER of fd -1, which the flags check refuses (EINVAL) before the fd (EBADF).
    bool usbFailsShortTransfers(Run &run);
    void tearDown();
    void prime();
    void onIioDone(std::size_t block, int status, std::uint64_t bytes);
    void onUsbDone(std::size_t block, int status, std::uint64_t bytes);
    void submitIio(std::size_t block, std::uint64_t bytes);
    void submitUsb(std::size_t block, std::uint64_t bytes);
    // After IIO completed `block` (`bytes`): whether the device went without a block before
    // it, with the block's metadata (BlockMeta). Where the port knows when its fence
    // signalled (zero-copy), exactly: the block was queued after the previous one
    // completed; the sample sets lost meanwhile are estimated from the rate. Otherwise (the
    // copy path) the device has no block queued now, and nothing is known of the loss.
    bool iioBlockDone(std::size_t block, std::uint64_t bytes);
    // Counts an overrun (RX) or underrun (TX) in `counter` and tells the journal the first
    // time of a run.
    void noteIioStarved(std::uint64_t &counter, const char *event, const char *what);
    // Hands `block`'s record to the metadata sink, if the run has one.
    void sendMeta(std::size_t block);
    // Starts a block that failed on one side over from the beginning of the cycle.
    void recycle(std::size_t block);
    // A block failed on one side (`side`, its run of failures `run`): recycles it, or stops
    // the stream as Failed once the run reaches kErrorBudget.
    void blockFailed(unsigned &run, const char *side, std::size_t block, const std::string &why);
    // Stops from the loop (not from inside a port's callback); `failed` marks the stream
    // Failed with `why`.
    void requestStop(const std::string &why, bool failed);

    // The progress watchdog (see the top). Created at the first start, on while running.
    Result<void> armWatchdog();
    void onWatchdog();
    // chained_: hands on the IIO blocks whose fences have signalled (onIioDone()); false if
    // that stopped the run.
    bool handOnChainedIio();
    void iioStalled(Clock::duration stalled);

    struct SideWatch {
        std::uint64_t done = 0;    // completions this run
        std::uint64_t seen = 0;    // `done` at the last tick
        Clock::time_point since{}; // last progress (or last time nothing was queued)
        bool idle = false;         // usb-idle was logged for this idle period
    };

    StreamConfig config_;
    EventLoop &loop_;
    std::string endpointPath_;
    std::optional<iio::IioStreamDescription> iio_;
    std::string failure_;
    int failureCode_ = 0;

    PortFactory testPorts_;
    std::unique_ptr<Run> run_;
    EventSourcePtr stopper_;
    std::string stopReason_;
    bool stopFailed_ = false;
    bool stopping_ = false;
    bool cyclic_ = false; // this run plays one uploaded waveform again and again
    std::uint64_t cyclicBytes_ = 0;
    bool usbShortNotOk_ = false; // this run's DMABUF transfers carry pipeline::kOutTransferFlags
    bool chained_ = false;       // this run's USB transfers are queued behind their IIO fences (RX)
    bool shortProbeLogged_ = false; // the kernel's lack of it was logged (once per stream)

    // Failed blocks in a row per side; a good block resets its side's run.
    static constexpr unsigned kErrorBudget = 16;
    unsigned usbFailRun_ = 0;
    unsigned iioFailRun_ = 0;

    // Watchdog restarts in a row with no IIO block completed in between.
    static constexpr unsigned kStallRestarts = 3;
    EventSourcePtr watchdog_;
    Clock::duration iioStallAfter_{}; // stall-timeout, at least two block times
    SideWatch iioWatch_;
    SideWatch usbWatch_;
    unsigned stallRestarts_ = 0;

    // Per-block metadata (docs/protocol.md, "Metadata"); the times are CLOCK_MONOTONIC ns.
    struct BlockMeta {
        std::uint64_t queuedNs = 0;    // when the block was given to IIO (before the ioctl)
        std::uint64_t queuedEndNs = 0; // ... and when the ioctl returned
        std::uint64_t doneNs = 0;      // when IIO completed it (its fence, or when seen)
        std::uint64_t firstSample = 0;
        std::uint64_t lost = 0;
        std::uint32_t lostMargin = 0;
        std::uint32_t bytes = 0;
        std::uint8_t flags = 0;
        bool iioFailed = false; // chained_: the IIO block failed; its transfer's failure is not
                                // the USB side's
    };
    std::vector<BlockMeta> blockMeta_;
    MetaSink *meta_ = nullptr; // this run's records go here (startWithMetadata())
    std::uint8_t metaIndex_ = 0;
    std::uint64_t metaSequence_ = 0;
    std::uint64_t nextSample_ = 0;     // index of the next sample set the device produces
    std::uint64_t lastIioDoneNs_ = 0;  // fence time of the last IIO completion
    std::uint64_t lastIioSlackNs_ = 0; // ... which may have been this much earlier
    std::uint64_t usbLostSamples_ = 0; // rx: in blocks that failed on USB since the last record

    proto::StreamState state_ = proto::StreamState::Stopped;
    proto::Stats counters_;
    Clock::time_point startedAt_{};
};

} // namespace iiousb
