// Many asynchronous libusb bulk transfers in flight on one endpoint, resubmitted as they
// complete, with an orderly stop: cancel whatever is in flight and wait for every callback
// before returning, so that no transfer outlives its buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <libusb-1.0/libusb.h>

#include "Expected.h"
#include "Usb.h"

namespace iiousb::tool {

struct BulkStreamConfig {
    std::uint8_t endpoint = 0; // bit 7 set: IN (capture), else OUT (play)
    std::uint32_t transferSize = 256 * 1024;
    unsigned transfers = 16;
    bool devMem = true; // try usbfs zero-copy memory first
};

struct BulkStreamCounters {
    std::uint64_t bytes = 0;     // payload moved
    std::uint64_t transfers = 0; // completed transfers
    std::uint64_t errors = 0;    // failed transfers
};

class BulkStream {
public:
    // IN: each completed transfer's data, in stream order; return false to stop.
    using Sink = std::function<bool(std::span<const std::uint8_t>)>;
    // OUT: fill the buffer for the next transfer and return its length; 0 ends the stream.
    using Source = std::function<std::size_t(std::span<std::uint8_t>)>;
    // Polled about every 100 ms: true asks for an orderly stop (Ctrl-C, time limit).
    using StopCheck = std::function<bool()>;
    // Called about once a second while running.
    using Tick = std::function<void(const BulkStreamCounters &)>;

    static Expected<std::unique_ptr<BulkStream>>
    create(libusb_context *ctx, libusb_device_handle *handle, const BulkStreamConfig &config);
    ~BulkStream();
    BulkStream(const BulkStream &) = delete;
    BulkStream &operator=(const BulkStream &) = delete;

    // Runs until the sink/source ends the stream, stop() says so, or a transfer fails; in
    // every case all transfers are back when it returns. An error says what failed (device
    // gone, stall, usbfs memory limit, ...).
    Expected<void> run(const Sink &sink, const Source &source, const StopCheck &stop,
                       const Tick &tick);

    // Several IN streams on one libusb context in one event loop (a capture of several
    // streams), each with its own sink. Runs until every stream has ended (its sink said so)
    // or stop() asks for an orderly stop; a stream whose transfer fails stops the others
    // too. Every transfer is back when it returns; each stream's failure is in its error()
    // (a disconnect said as such, as run() does). `tick` is called about once a second.
    struct Member {
        BulkStream *stream = nullptr;
        Sink sink;
    };
    static void runTogether(std::span<Member> members, const StopCheck &stop,
                            const std::function<void()> &tick);

    // An IN stream driven by another stream's run() on the same libusb context (the
    // metadata endpoint next to the data): start() submits every transfer, their completions
    // come while the other run() handles events, and drain() cancels them and handles
    // events until all are back. The error of a failed transfer is in error().
    Expected<void> start(Sink sink);
    void drain();
    const std::optional<Error> &error() const { return error_; }

    const BulkStreamCounters &counters() const { return counters_; }
    // A transfer or submission failed because the device went away.
    bool deviceGone() const { return deviceGone_; }
    bool usesDevMem() const { return devMemBuffers_ == slots_.size(); }
    unsigned devMemBuffers() const { return devMemBuffers_; }

private:
    struct Slot {
        BulkStream *owner = nullptr;
        UsbTransfer transfer;
        TransferBuffer buffer;
        bool inFlight = false;
    };

    BulkStream(libusb_context *ctx, libusb_device_handle *handle, const BulkStreamConfig &config)
        : ctx_(ctx), handle_(handle), config_(config)
    {}

    bool in() const { return (config_.endpoint & LIBUSB_ENDPOINT_IN) != 0; }
    static void LIBUSB_CALL onTransfer(libusb_transfer *transfer);
    void complete(Slot &slot);
    Expected<void> submit(Slot &slot, std::size_t length);
    void fail(std::string message);
    void cancelAll();
    void submitAll();
    // After the event loop: leak what is still in flight (event handling broke down), drop
    // the sink and source.
    void detach();
    Sink passiveSink_; // start()'s
    bool deviceDisappeared();
    // The message for a device that went away, however it was noticed.
    std::string disconnectedText() const;

    libusb_context *ctx_;
    libusb_device_handle *handle_;
    BulkStreamConfig config_;
    std::vector<std::unique_ptr<Slot>> slots_;
    unsigned devMemBuffers_ = 0;

    const Sink *sink_ = nullptr;
    const Source *source_ = nullptr;
    unsigned inFlight_ = 0;
    bool stopping_ = false;
    bool cancelled_ = false;
    bool deviceGone_ = false;
    bool ioError_ = false;
    std::optional<Error> error_;
    BulkStreamCounters counters_;
};

// The current usbfs_memory_mb (MiB, 0 = unlimited) or -1 if it cannot be read.
long usbfsMemoryLimitMiB();

} // namespace iiousb::tool
