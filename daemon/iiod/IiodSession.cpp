// The iiod text protocol session: line splitting, dispatch to the backend, reply framing.
// Reply formats from libiio-usb.md §2.2 (handlers v0.25:iiod/ops.c:1174-1409).
#include "iiod/IiodSession.h"

#include <cerrno>
#include <cstdio>
#include <utility>

namespace iiousb::iiod {

namespace {

// HELP's answer (iiod prints a help text even on USB; clients never ask for it).
constexpr std::string_view kHelp =
        "Commands: HELP, EXIT, PRINT, ZPRINT, VERSION, TIMEOUT <ms>,\n"
        "OPEN <dev> <samples_count> <mask> [CYCLIC], CLOSE <dev>,\n"
        "READ <dev> [DEBUG|BUFFER|INPUT <chn>|OUTPUT <chn>] [<attr>],\n"
        "WRITE <dev> [DEBUG|BUFFER|INPUT <chn>|OUTPUT <chn>] [<attr>] <bytes>,\n"
        "READBUF <dev> <bytes>, WRITEBUF <dev> <bytes>, GETTRIG <dev>, SETTRIG <dev> [<trig>],\n"
        "SET <dev> BUFFERS_COUNT <n>\n";

} // namespace

IiodSession::IiodSession(IiodBackend &backend, std::function<void()> outputReady)
    : backend_(backend), outputReady_(std::move(outputReady))
{}

IiodSession::~IiodSession()
{
    closeAll();
}

void IiodSession::closeAll()
{
    // Closing a device cancels its pending READBUF/WRITEBUF without a report.
    for (const auto &[device, info] : opened_)
        (void)backend_.closeBuffer(device);
    opened_.clear();
    transfer_.reset();
}

std::deque<IiodTransfer> IiodSession::takeTransfers()
{
    return std::exchange(out_, {});
}

bool IiodSession::wantsInput() const
{
    return !ended_ && !(transfer_ && !transfer_->read);
}

void IiodSession::consume(std::string_view bytes)
{
    if (ended_)
        return;
    input_.append(bytes);
    pump();
}

void IiodSession::reply(long long value)
{
    out_.emplace_back(std::to_string(value) + "\n");
}

void IiodSession::replyWithPayload(const std::string &bytes)
{
    reply(static_cast<long long>(bytes.size()));
    out_.emplace_back(bytes + "\n");
}

void IiodSession::notify()
{
    if (!out_.empty() && outputReady_)
        outputReady_();
}

void IiodSession::pump()
{
    if (pumping_)
        return;
    pumping_ = true;
    while (!ended_ && !transfer_) {
        if (write_) {
            if (!finishWrite())
                break;
            continue;
        }
        const std::size_t nl = input_.find('\n');
        if (discarding_) {
            if (nl == std::string::npos) {
                input_.clear();
                break;
            }
            input_.erase(0, nl + 1);
            discarding_ = false;
            reply(-EINVAL);
            continue;
        }
        if (nl == std::string::npos) {
            if (input_.size() >= kMaxCommandLine) {
                input_.clear();
                discarding_ = true;
            }
            break;
        }
        const std::string line = input_.substr(0, nl + 1);
        input_.erase(0, nl + 1);
        auto cmd = parseIiodCommand(line);
        if (!cmd)
            replyError(cmd.error());
        else
            execute(*cmd);
    }
    pumping_ = false;
}

// The value of a WRITE once all of it is there (false: not yet). A value longer than
// kMaxAttrValue is dropped as it arrives.
bool IiodSession::finishWrite()
{
    PendingWrite &w = *write_;
    if (w.bytes > kMaxAttrValue) {
        const std::uint64_t n = std::min<std::uint64_t>(input_.size(), w.bytes - w.dropped);
        input_.erase(0, n);
        w.dropped += n;
        if (w.dropped < w.bytes)
            return false;
        write_.reset();
        reply(-EFBIG);
        return true;
    }
    if (input_.size() < w.bytes)
        return false;
    const std::string value = input_.substr(0, w.bytes);
    input_.erase(0, w.bytes);
    const PendingWrite done = std::move(w);
    write_.reset();
    if (done.error != 0) {
        reply(done.error);
        return true;
    }
    auto written = backend_.writeAttr(done.ref, value);
    if (!written)
        replyError(written.error());
    else
        reply(static_cast<long long>(*written));
    return true;
}

void IiodSession::execute(const IiodCommand &cmd)
{
    switch (cmd.op) {
    case IiodOp::Empty:
        return;
    case IiodOp::Exit:
        // iiod ends the session without a reply and closes its buffers.
        ended_ = true;
        input_.clear();
        closeAll();
        return;
    case IiodOp::Help:
        out_.emplace_back(std::string(kHelp));
        return;
    case IiodOp::Version: {
        // "%u.%u.%-7.7s\n" (parser.y VERSION rule): clients want 8 bytes after the minor.
        const IiodVersion v = backend_.version();
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%u.%u.%-7.7s\n", v.major, v.minor, v.git.c_str());
        out_.emplace_back(std::string(buf));
        return;
    }
    case IiodOp::Print: {
        auto xml = backend_.contextXml();
        if (!xml)
            replyError(xml.error());
        else
            replyWithPayload(*xml);
        return;
    }
    case IiodOp::ZPrint:
        // No zstd: -EINVAL makes 0.24-0.26 clients send PRINT (context.c, iiod-client.c).
        reply(-EINVAL);
        return;
    case IiodOp::Timeout: {
        auto r = backend_.setTimeout(cmd.timeoutMs);
        reply(r ? 0 : r.error().code);
        return;
    }
    default:
        break;
    }
    // Every other command names a device: iiod looks it up in its lexer and answers -ENODEV
    // when it does not exist (ops.c). A WRITE's value still follows its line: it is read
    // first (iiod would parse it as a command and answer twice).
    auto device = backend_.resolveDevice(cmd.device);
    if (!device) {
        if (cmd.op == IiodOp::Write) {
            write_ = PendingWrite{{}, cmd.bytes, 0, device.error().code};
            return;
        }
        replyError(device.error());
        return;
    }
    executeWithDevice(cmd, *device);
}

void IiodSession::executeWithDevice(const IiodCommand &cmd, const std::string &device)
{
    switch (cmd.op) {
    case IiodOp::Open: {
        auto mask = parseMask(cmd.mask);
        if (!mask) {
            replyError(mask.error());
            return;
        }
        if (opened_.contains(device)) {
            reply(-EBUSY);
            return;
        }
        auto info = backend_.openBuffer({device, cmd.samples, std::move(*mask), cmd.cyclic});
        if (!info) {
            replyError(info.error());
            return;
        }
        opened_.emplace(device, std::move(*info));
        reply(0);
        return;
    }
    case IiodOp::Close: {
        // -ENXIO when not opened by this session (ops.c close_dev_helper).
        if (opened_.erase(device) == 0) {
            reply(-ENXIO);
            return;
        }
        auto r = backend_.closeBuffer(device);
        reply(r ? 0 : r.error().code);
        return;
    }
    case IiodOp::ReadBuf:
    case IiodOp::WriteBuf: {
        const auto it = opened_.find(device);
        if (it == opened_.end()) {
            reply(-EBADF);
            return;
        }
        // Less than one sample: iiod answers 0 and moves nothing (ops.c rw_buffer).
        if (cmd.bytes == 0 || cmd.bytes < it->second.sampleBytes) {
            reply(0);
            return;
        }
        const bool read = cmd.op == IiodOp::ReadBuf;
        transfer_ = PendingTransfer{read, device, cmd.bytes};
        if (read)
            backend_.readBuffer(device, cmd.bytes, *this);
        else
            backend_.writeBuffer(device, cmd.bytes, *this);
        return;
    }
    case IiodOp::Read: {
        IiodAttrRef ref = cmd.attr;
        ref.device = device;
        auto value = backend_.readAttr(ref);
        if (!value)
            replyError(value.error());
        else
            replyWithPayload(*value);
        return;
    }
    case IiodOp::Write: {
        IiodAttrRef ref = cmd.attr;
        ref.device = device;
        write_ = PendingWrite{std::move(ref), cmd.bytes};
        return;
    }
    case IiodOp::GetTrig: {
        auto trig = backend_.trigger(device);
        if (!trig)
            replyError(trig.error());
        else if (!*trig)
            reply(0);
        else
            replyWithPayload(**trig);
        return;
    }
    case IiodOp::SetTrig: {
        auto r = backend_.setTrigger(device, cmd.trigger);
        reply(r ? 0 : r.error().code);
        return;
    }
    case IiodOp::SetBuffersCount: {
        if (cmd.buffersCount < 1 || cmd.buffersCount > 0xffff) {
            reply(-EINVAL);
            return;
        }
        auto r = backend_.setBuffersCount(device, static_cast<unsigned>(cmd.buffersCount));
        reply(r ? 0 : r.error().code);
        return;
    }
    default:
        reply(-EINVAL);
        return;
    }
}

void IiodSession::readChunk(const IiodPayload &payload)
{
    // A chunk is never empty (a 0 would end the client's READBUF) and never goes past the
    // bytes asked for (the client reads no more): such a report is a backend bug, dropped.
    if (!transfer_ || !transfer_->read || payload.bytes == 0 ||
        payload.bytes > transfer_->requested - transfer_->done)
        return;
    PendingTransfer &t = *transfer_;
    reply(static_cast<long long>(payload.bytes));
    // The mask goes before the first chunk of every READBUF (ops.c send_data, new_client).
    if (!t.started)
        out_.emplace_back(formatMask(opened_.at(t.device).mask));
    t.started = true;
    t.done += payload.bytes;
    out_.emplace_back(payload);
    if (!pumping_)
        notify();
}

void IiodSession::writeReady()
{
    if (!transfer_ || transfer_->read || transfer_->started)
        return;
    transfer_->started = true;
    reply(0);
    if (!pumping_)
        notify();
}

void IiodSession::transferDone(Result<std::uint64_t> bytes)
{
    if (!transfer_)
        return;
    const PendingTransfer t = *transfer_;
    transfer_.reset();
    if (!bytes)
        replyError(bytes.error());
    else if (!t.read)
        reply(static_cast<long long>(*bytes));
    else if (t.done < t.requested)
        reply(0); // early end: the client returns what it has
    // A READBUF that moved all its bytes ends without a status line.
    if (!pumping_) {
        pump();
        notify();
    }
}

} // namespace iiousb::iiod
