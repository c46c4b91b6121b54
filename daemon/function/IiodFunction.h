// The iiod personality: a FunctionFS function that libiio's USB backend (0.24-0.26 clients:
// iio_info -u usb:, iio_readdev, pyadi-iio...) drives as it drives iiod
// (/work/shared/libiio-usb.md, docs/libiio.md): interface string "IIO", N pipes of a bulk IN
// and a bulk OUT endpoint in that descriptor order, the vendor requests RESET_PIPES,
// OPEN_PIPE and CLOSE_PIPE on ep0, and on each open pipe an iiod text protocol session
// (iiod::IiodSession) with its own LibiioBackend.
//
// Endpoint I/O never blocks the event loop: each pipe reads its OUT endpoint and writes its
// IN endpoint through Linux AIO (one read and up to four writes in flight, in order,
// completions on an eventfd; f_fs queues AIO requests without waiting for the host), and the
// backend's refills run on threads that report through an eventfd. Closing a pipe (CLOSE_PIPE,
// RESET_PIPES, a new OPEN_PIPE of it, DISABLE, UNBIND) cancels its AIO (io_destroy), then
// ends the session, which closes the buffers it opened.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/Result.h"
#include "base/UniqueFd.h"
#include "event/EventLoop.h"
#include "ffs/FfsEndpoint.h"
#include "function/ContextSnapshots.h"
#include "function/FfsFunction.h"
#include "iiod/IiodSession.h"
#include "iiod/LibiioBackend.h"

namespace iiousb::function {

// ep0 vendor requests (bmRequestType 0x41, wLength 0; libiio usb.c).
enum class IiodRequest : std::uint8_t { ResetPipes = 0, OpenPipe = 1, ClosePipe = 2 };

// The function's descriptors: one interface, `pipes` x (bulk IN (i+1)|0x80, bulk OUT i+1).
std::vector<std::uint8_t> buildIiodDescriptors(unsigned pipes);
// The strings: "IIO", which is what clients match the interface by.
std::vector<std::uint8_t> buildIiodStrings();

// What the personality does with a SETUP, apart from the pipes (for unit tests): the pipe to
// open or close, all of them, or why the request is stalled.
struct IiodPipeRequest {
    IiodRequest request = IiodRequest::ResetPipes;
    unsigned pipe = 0;
};
Result<IiodPipeRequest> parseIiodSetup(const proto::SetupPacket &setup, unsigned pipes);

// One open pipe: its endpoint files, AIO, and session.
class IiodPipe {
public:
    static Result<std::unique_ptr<IiodPipe>>
    open(EventLoop &loop, unsigned index, const std::string &inPath, const std::string &outPath,
         iiod::LibiioBackend::ContextPtr ctx, iiod::LibiioBackendOptions options);
    IiodPipe(const IiodPipe &) = delete;
    IiodPipe &operator=(const IiodPipe &) = delete;
    ~IiodPipe();

    unsigned index() const { return index_; }
    const iiod::LibiioBackend &backend() const { return *backend_; }

private:
    IiodPipe(unsigned index, UniqueFd in, UniqueFd out)
        : index_(index), in_(std::move(in)), out_(std::move(out))
    {}

    void onAio();
    void onBackend();
    void pump();
    void maybeRead();
    void queuePayload(std::string bytes);
    void fail(const std::string &why);

    unsigned index_;
    UniqueFd in_;  // ep(2i+1): device -> host
    UniqueFd out_; // ep(2i+2): host -> device
    // AIO buffers: alive until the AIO context is gone (f_fs copies into them late).
    std::vector<char> readBuf_;
    std::vector<char> dataBuf_; // WRITEBUF data, read for the backend
    std::uint64_t dataWanted_ = 0;
    bool readingData_ = false;
    // Writes in flight on the IN endpoint by sequence number (their bytes stay alive until
    // they complete), at most kMaxWrites.
    std::map<std::uint64_t, std::string> writes_;
    std::uint64_t nextWrite_ = 0;
    std::deque<iiod::IiodTransfer> transfers_;
    std::deque<std::string> pieces_; // the next writes, each one transfer
    std::unique_ptr<iiod::LibiioBackend> backend_;
    std::unique_ptr<iiod::IiodSession> session_;
    std::optional<ffs::AioContext> aio_;
    EventSourcePtr aioSource_;
    EventSourcePtr backendSource_;
    bool reading_ = false;
    bool broken_ = false;
    bool closing_ = false;
};

struct IiodFunctionOptions {
    std::string instance;
    std::string mountPoint;
    unsigned pipes = 3;
    iiod::LibiioBackendOptions backend;
};

class IiodFunction : private FfsPersonality {
public:
    static Result<std::unique_ptr<IiodFunction>>
    create(EventLoop &loop, IiodFunctionOptions options, std::function<void()> onFatal);
    IiodFunction(const IiodFunction &) = delete;
    IiodFunction &operator=(const IiodFunction &) = delete;
    ~IiodFunction() override;

    // Closes the pipes and stops ep0 (before the gadget is unbound).
    void stop();
    unsigned openPipes() const;
    // The buffers clients have open, for the STATUS line: `key` is "<pipe> <device>".
    std::vector<std::pair<std::string, iiod::LibiioBufferStatus>> buffers() const;
    // An IIO device appeared or went away: the next client gets a new snapshot of them.
    void iioDevicesChanged();

private:
    IiodFunction(EventLoop &loop, IiodFunctionOptions options)
        : loop_(loop), options_(std::move(options))
    {}

    SetupReply onSetup(const proto::SetupPacket &setup) override;
    void onDisable() override { closePipes("DISABLE"); }
    void onUnbind() override { closePipes("UNBIND"); }

    void closePipes(const char *why);
    Result<void> openPipe(unsigned index);

    EventLoop &loop_;
    IiodFunctionOptions options_;
    std::unique_ptr<ContextSnapshots> snapshots_;
    std::vector<std::unique_ptr<IiodPipe>> pipes_;
    std::unique_ptr<FfsFunction> function_;
};

} // namespace iiousb::function
