#include "BulkStream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "Format.h"

namespace iiousb::tool {

namespace {

constexpr const char *kUsbfsMemoryParam = "/sys/module/usbcore/parameters/usbfs_memory_mb";

std::string endpointText(std::uint8_t endpoint)
{
    char buf[8];
    std::snprintf(buf, sizeof(buf), "0x%02x", endpoint);
    return buf;
}

} // namespace

long usbfsMemoryLimitMiB()
{
    std::ifstream in(kUsbfsMemoryParam);
    long value = -1;
    if (!(in >> value))
        return -1;
    return value;
}

Expected<std::unique_ptr<BulkStream>> BulkStream::create(libusb_context *ctx,
                                                         libusb_device_handle *handle,
                                                         const BulkStreamConfig &config)
{
    std::unique_ptr<BulkStream> stream(new BulkStream(ctx, handle, config));
    for (unsigned i = 0; i < config.transfers; ++i) {
        auto buffer = TransferBuffer::allocate(handle, config.transferSize, config.devMem);
        if (!buffer)
            return buffer.error();
        UsbTransfer transfer(libusb_alloc_transfer(0));
        if (!transfer)
            return Error{"out of memory allocating a libusb transfer"};
        auto slot = std::make_unique<Slot>(
                Slot{stream.get(), std::move(transfer), std::move(*buffer), false});
        if (slot->buffer.devMem())
            stream->devMemBuffers_++;
        stream->slots_.push_back(std::move(slot));
    }
    return stream;
}

BulkStream::~BulkStream()
{
    // run() returns only with every transfer back; nothing can be in flight here.
}

void BulkStream::fail(std::string message)
{
    if (!error_)
        error_ = Error{std::move(message)};
    stopping_ = true;
}

void BulkStream::cancelAll()
{
    for (auto &slot : slots_)
        if (slot->inFlight)
            libusb_cancel_transfer(slot->transfer.get()); // NOT_FOUND if just completing
    cancelled_ = true;
}

Expected<void> BulkStream::submit(Slot &slot, std::size_t length)
{
    libusb_fill_bulk_transfer(slot.transfer.get(), handle_, config_.endpoint, slot.buffer.data(),
                              static_cast<int>(length), &BulkStream::onTransfer, &slot, 0);
    int r = libusb_submit_transfer(slot.transfer.get());
    if (r == 0) {
        slot.inFlight = true;
        ++inFlight_;
        return {};
    }
    const std::string what = "cannot submit a " + formatBytesBinary(length) +
                             " transfer on endpoint " + endpointText(config_.endpoint);
    if (r == LIBUSB_ERROR_NO_DEVICE) {
        deviceGone_ = true;
        return Error{disconnectedText()};
    }
    if (r == LIBUSB_ERROR_NO_MEM) {
        const long limit = usbfsMemoryLimitMiB();
        std::string msg =
                what + ": out of memory, most likely the usbfs memory limit (" +
                std::to_string(config_.transfers) + " transfers of " +
                formatBytesBinary(config_.transferSize) + " = " +
                formatBytesBinary(std::uint64_t{config_.transfers} * config_.transferSize) +
                " in flight";
        if (limit > 0)
            msg += ", limit " + std::to_string(limit) + " MiB";
        msg += std::string(").\n  Use fewer or smaller transfers (-T, -S) or raise the limit: "
                           "echo 0 | sudo tee ") +
               kUsbfsMemoryParam + "  (0 = unlimited)";
        return Error{std::move(msg)};
    }
    if (r == LIBUSB_ERROR_PIPE)
        return Error{what + ": the endpoint is halted"};
    return Error{what + ": " + usbErrorText(r)};
}

std::string BulkStream::disconnectedText() const
{
    return "the device disconnected mid-stream after " + formatBytes(counters_.bytes) +
           " (unplugged, iiousbd stopped or the gadget was unbound)";
}

void LIBUSB_CALL BulkStream::onTransfer(libusb_transfer *transfer)
{
    auto *slot = static_cast<Slot *>(transfer->user_data);
    slot->owner->complete(*slot);
}

void BulkStream::complete(Slot &slot)
{
    slot.inFlight = false;
    --inFlight_;
    libusb_transfer *t = slot.transfer.get();
    const auto actual = static_cast<std::size_t>(t->actual_length);
    const std::string ep = endpointText(config_.endpoint);

    switch (t->status) {
    case LIBUSB_TRANSFER_COMPLETED:
    case LIBUSB_TRANSFER_CANCELLED:
        break;
    case LIBUSB_TRANSFER_NO_DEVICE:
        counters_.errors++;
        deviceGone_ = true;
        fail(disconnectedText());
        return;
    case LIBUSB_TRANSFER_STALL:
        counters_.errors++;
        fail("endpoint " + ep + " stalled after " + formatBytes(counters_.bytes) +
             " (the device stopped the stream?)");
        return;
    case LIBUSB_TRANSFER_OVERFLOW:
        counters_.errors++;
        fail("endpoint " + ep +
             ": the device sent more data than the transfer could hold (overflow); use a "
             "transfer size that is a multiple of the stream's block size");
        return;
    case LIBUSB_TRANSFER_TIMED_OUT:
    case LIBUSB_TRANSFER_ERROR:
    default:
        counters_.errors++;
        ioError_ = true;
        fail("a transfer on endpoint " + ep + " failed after " + formatBytes(counters_.bytes) +
             " (I/O error; device gone or bus problem?)");
        return;
    }

    counters_.bytes += actual;
    if (t->status == LIBUSB_TRANSFER_COMPLETED)
        counters_.transfers++;

    if (in()) {
        // A cancelled transfer can hold the first part of the data in flight: deliver it,
        // the sink decides whether it still wants any.
        if (actual > 0 && !(*sink_)(std::span<const std::uint8_t>(slot.buffer.data(), actual)))
            stopping_ = true;
        if (stopping_ || t->status != LIBUSB_TRANSFER_COMPLETED)
            return;
        if (auto r = submit(slot, slot.buffer.size()); !r)
            fail(r.error().message);
        return;
    }

    if (stopping_ || t->status != LIBUSB_TRANSFER_COMPLETED)
        return;
    const std::size_t n =
            (*source_)(std::span<std::uint8_t>(slot.buffer.data(), slot.buffer.size()));
    if (n == 0)
        return; // end of data: let the rest drain
    if (auto r = submit(slot, n); !r)
        fail(r.error().message);
}

// A disconnect can first show up as failed transfers (the host controller's error) and
// only later as a removed device, once the hub driver handled the port change (seen after
// more than 1.5 s on a busy host): watch for that for up to 5 s. A device that is still
// there after that had a real I/O error.
bool BulkStream::deviceDisappeared()
{
    for (int i = 0; i < 50; ++i) {
        int config = 0;
        if (libusb_get_configuration(handle_, &config) == LIBUSB_ERROR_NO_DEVICE) {
            deviceGone_ = true;
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

Expected<void> BulkStream::start(Sink sink)
{
    passiveSink_ = std::move(sink);
    sink_ = &passiveSink_;
    for (auto &slot : slots_) {
        if (auto r = submit(*slot, slot->buffer.size()); !r) {
            drain();
            return r.error();
        }
    }
    return {};
}

void BulkStream::drain()
{
    stopping_ = true;
    if (!cancelled_)
        cancelAll();
    int errors = 0;
    while (inFlight_ > 0 && errors < 50) {
        timeval tv{0, 100 * 1000};
        const int r = libusb_handle_events_timeout_completed(ctx_, &tv, nullptr);
        if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED)
            errors++;
    }
    if (inFlight_ > 0) {
        for (auto &slot : slots_)
            if (slot->inFlight)
                (void)slot.release();
    }
    sink_ = nullptr;
}

Expected<void> BulkStream::run(const Sink &sink, const Source &source, const StopCheck &stop,
                               const Tick &tick)
{
    using Clock = std::chrono::steady_clock;
    sink_ = &sink;
    source_ = &source;
    submitAll();

    auto nextTick = Clock::now() + std::chrono::seconds(1);
    int eventErrors = 0;
    while (inFlight_ > 0) {
        if (!stopping_ && stop())
            stopping_ = true;
        if (stopping_ && !cancelled_)
            cancelAll();

        timeval tv{0, 100 * 1000};
        int r = libusb_handle_events_timeout_completed(ctx_, &tv, nullptr);
        if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED) {
            fail("handling USB events failed: " + usbErrorText(r));
            // Without event handling the transfers cannot come back; give up after a while
            // rather than spin (the kernel reaps them when the handle closes).
            if (++eventErrors > 50)
                break;
        }

        const auto now = Clock::now();
        if (now >= nextTick) {
            if (tick)
                tick(counters_);
            nextTick += std::chrono::seconds(1);
            if (nextTick < now)
                nextTick = now + std::chrono::seconds(1);
        }
    }
    detach();
    // The first failed transfer of a disconnect may report an I/O error and only the
    // ones after it "no device" (the first error is kept): either way, it was a disconnect.
    if (error_ && ioError_ && (deviceGone_ || deviceDisappeared()))
        error_ = Error{disconnectedText()};
    if (error_)
        return *error_;
    return {};
}

void BulkStream::submitAll()
{
    for (auto &slot : slots_) {
        std::size_t length = slot->buffer.size();
        if (!in()) {
            length = (*source_)(std::span<std::uint8_t>(slot->buffer.data(), slot->buffer.size()));
            if (length == 0)
                break;
        }
        if (auto r = submit(*slot, length); !r) {
            fail(r.error().message);
            break;
        }
    }
}

void BulkStream::detach()
{
    if (inFlight_ > 0) {
        // Event handling broke down with transfers still owned by the kernel: leak them
        // (and their buffers) rather than free memory a late completion would touch.
        for (auto &slot : slots_)
            if (slot->inFlight)
                (void)slot.release();
    }
    sink_ = nullptr;
    source_ = nullptr;
}

void BulkStream::runTogether(std::span<Member> members, const StopCheck &stop,
                             const std::function<void()> &tick)
{
    using Clock = std::chrono::steady_clock;
    if (members.empty())
        return;
    libusb_context *ctx = members.front().stream->ctx_;
    for (Member &m : members) {
        m.stream->sink_ = &m.sink;
        m.stream->source_ = nullptr;
        m.stream->submitAll();
    }

    auto inFlight = [&] {
        return std::any_of(members.begin(), members.end(),
                           [](const Member &m) { return m.stream->inFlight_ > 0; });
    };
    auto nextTick = Clock::now() + std::chrono::seconds(1);
    int eventErrors = 0;
    bool stopAll = false;
    while (inFlight()) {
        if (!stopAll)
            stopAll = stop() || std::any_of(members.begin(), members.end(), [](const Member &m) {
                          return m.stream->error_.has_value();
                      });
        for (Member &m : members) {
            BulkStream &s = *m.stream;
            if (stopAll)
                s.stopping_ = true;
            if (s.stopping_ && !s.cancelled_)
                s.cancelAll();
        }

        timeval tv{0, 100 * 1000};
        int r = libusb_handle_events_timeout_completed(ctx, &tv, nullptr);
        if (r < 0 && r != LIBUSB_ERROR_INTERRUPTED) {
            for (Member &m : members)
                m.stream->fail("handling USB events failed: " + usbErrorText(r));
            if (++eventErrors > 50)
                break;
        }

        const auto now = Clock::now();
        if (now >= nextTick) {
            if (tick)
                tick();
            nextTick += std::chrono::seconds(1);
            if (nextTick < now)
                nextTick = now + std::chrono::seconds(1);
        }
    }

    bool gone = false;
    bool ioError = false;
    for (Member &m : members) {
        m.stream->detach();
        gone = gone || m.stream->deviceGone_;
        ioError = ioError || (m.stream->error_ && m.stream->ioError_);
    }
    // As in run(): an I/O error may be the first sign of a disconnect (asked once for all).
    if (ioError && !gone)
        gone = members.front().stream->deviceDisappeared();
    if (!gone)
        return;
    for (Member &m : members) {
        m.stream->deviceGone_ = true;
        if (m.stream->error_ && m.stream->ioError_)
            m.stream->error_ = Error{m.stream->disconnectedText()};
    }
}

} // namespace iiousb::tool
