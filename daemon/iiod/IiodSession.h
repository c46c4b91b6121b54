// One pipe's iiod text protocol session, independent of the transport: it takes the bytes
// the client writes on the pipe's OUT endpoint and produces the reply transfers the client
// reads on the IN endpoint (libiio-usb.md §1.4, §2), calling an IiodBackend for the work.
//
// Framing (what 0.24-0.26 clients need over USB):
// - input: commands may arrive split over transfers or several in one; a WRITE's value
//   follows its line (in the same transfer or later ones); bytes after a line are kept for
//   the next command, also while a READBUF/WRITEBUF is pending;
// - output: every reply integer ("%li\n") is a transfer of its own, the client reads it with
//   one 1024-byte transfer and drops the rest of that transfer; a payload (XML, attribute
//   value, trigger name, READBUF mask line, sample data) is a separate transfer of exactly
//   the announced length; nothing is sent unasked and no zero-length transfer is produced.
// - a line longer than kMaxCommandLine is answered "-22\n" once its '\n' arrives, its bytes
//   are dropped.
// The session never blocks: READBUF and WRITEBUF hand the data path to the backend and the
// session goes on with the next command when the backend reports completion.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "iiod/IiodBackend.h"
#include "iiod/IiodCommand.h"

namespace iiousb::iiod {

// The largest WRITE value taken (iiod allocates whatever the client announces). A longer one
// is read and dropped, then answered -EFBIG.
inline constexpr std::uint64_t kMaxAttrValue = 1 << 20;

// One transfer on the IN endpoint: bytes written with one write(), or a payload the backend
// sends itself (IiodBackend::sendPayload()), zero-copy.
using IiodTransfer = std::variant<std::string, IiodPayload>;

class IiodSession : private IiodTransferSink {
public:
    // `outputReady` is called when transfers were queued outside of consume() (a backend's
    // completion); after consume() the caller looks itself.
    explicit IiodSession(IiodBackend &backend, std::function<void()> outputReady = {});
    IiodSession(const IiodSession &) = delete;
    IiodSession &operator=(const IiodSession &) = delete;
    // Closes the buffers this session opened (as iiod does when a session ends).
    ~IiodSession();

    // Bytes of one OUT transfer (or part of one).
    void consume(std::string_view bytes);
    // The reply transfers queued so far, in order; the queue is left empty.
    std::deque<IiodTransfer> takeTransfers();

    // Whether the transport may read the OUT endpoint for the session: not while a WRITEBUF
    // is pending (the backend takes the data from the endpoint), not after EXIT.
    bool wantsInput() const;
    // EXIT or QUIT was received: the client ends the session.
    bool ended() const { return ended_; }
    // A READBUF or WRITEBUF is with the backend.
    bool busy() const { return transfer_.has_value(); }

private:
    struct PendingWrite { // a WRITE whose value is still arriving
        IiodAttrRef ref;
        std::uint64_t bytes = 0;
        std::uint64_t dropped = 0; // of a value over kMaxAttrValue
        int error = 0;             // answered once the value is read, instead of writing it
    };
    struct PendingTransfer { // a READBUF or WRITEBUF with the backend
        bool read = true;
        std::string device;
        std::uint64_t requested = 0;
        std::uint64_t done = 0;
        bool started = false; // READBUF: a chunk was queued; WRITEBUF: writeReady() came
    };

    void readChunk(const IiodPayload &payload) override;
    void writeReady() override;
    void transferDone(Result<std::uint64_t> bytes) override;

    void pump();
    void execute(const IiodCommand &cmd);
    void executeWithDevice(const IiodCommand &cmd, const std::string &device);
    bool finishWrite();
    void reply(long long value);
    void replyError(const Error &error) { reply(error.code); }
    // "<len>\n" then the bytes and '\n' as one transfer.
    void replyWithPayload(const std::string &bytes);
    void notify();
    void closeAll();

    IiodBackend &backend_;
    std::function<void()> outputReady_;
    std::string input_;
    bool discarding_ = false; // inside an over-long line
    std::optional<PendingWrite> write_;
    std::optional<PendingTransfer> transfer_;
    std::map<std::string, IiodBufferInfo> opened_; // canonical device id -> buffer
    std::deque<IiodTransfer> out_;
    bool pumping_ = false;
    bool ended_ = false;
};

} // namespace iiousb::iiod
