#include "function/IiodFunction.h"

#include <algorithm>
#include <cerrno>

#include <fcntl.h>

#include <linux/usb/functionfs.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "ffs/FfsDescriptors.h"
#include "log/Log.h"

namespace iiousb::function {

IIOUSB_LOG_CATEGORY(Iiod, "iiod")

namespace {

// libiio clients read at most 1 MiB per transfer; a longer payload goes as several writes
// of 1 MiB (whole packets at every speed, so the host sees one stream without short packets).
constexpr std::size_t kMaxWrite = 1 << 20;
// One OUT read; a multiple of every wMaxPacketSize (f_fs would bounce an unaligned one).
constexpr std::size_t kReadSize = 16384;

// Reply transfers queued on the IN endpoint at once. f_fs queues each as a request in
// submission order, so the next one is there when the host comes to read it: a READBUF's
// length line, mask line and payload without a trip through the event loop in between.
constexpr std::size_t kMaxWrites = 4;

// AIO tags: the read, or a write's sequence number shifted left by one with bit 0 set.
constexpr std::uint64_t kTagRead = 0;
std::uint64_t writeTag(std::uint64_t seq)
{
    return seq << 1 | 1;
}

Result<UniqueFd> openEndpoint(const std::string &path, int flags)
{
    // Opened blocking, then switched to non-blocking: io_submit() on an endpoint the host
    // has disabled would otherwise sleep until it is enabled again (f_fs ffs_epfile_io()).
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd)
        return errnoError(errno, "Failed to open the endpoint " + path);
    const int fl = fcntl(fd.get(), F_GETFL);
    if (fl < 0 || fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0)
        return errnoError(errno, "Failed to make " + path + " non-blocking");
    return fd;
}

} // namespace

std::vector<std::uint8_t> buildIiodDescriptors(unsigned pipes)
{
    std::vector<std::uint8_t> addresses;
    for (unsigned i = 0; i < pipes; i++) {
        addresses.push_back(static_cast<std::uint8_t>((i + 1) | 0x80)); // IN first
        addresses.push_back(static_cast<std::uint8_t>(i + 1));
    }
    // Vendor class: clients match the interface string only (libiio usb.c), and a vendor
    // class keeps host class drivers off it.
    return ffs::buildDescriptors(addresses, {0xff, 0, 0});
}

std::vector<std::uint8_t> buildIiodStrings()
{
    return ffs::buildStrings("IIO");
}

Result<IiodPipeRequest> parseIiodSetup(const proto::SetupPacket &s, unsigned pipes)
{
    // Vendor, host to device, no data stage (iiod itself looks at bRequest only).
    if ((s.requestType & 0xe0) != 0x40)
        return makeError(-EINVAL, "not a host-to-device vendor request");
    if (s.length != 0)
        return makeError(-EINVAL,
                         "unexpected data stage of " + std::to_string(s.length) + " bytes");
    IiodPipeRequest r;
    switch (s.request) {
    case static_cast<std::uint8_t>(IiodRequest::ResetPipes):
        r.request = IiodRequest::ResetPipes;
        return r;
    case static_cast<std::uint8_t>(IiodRequest::OpenPipe):
        r.request = IiodRequest::OpenPipe;
        break;
    case static_cast<std::uint8_t>(IiodRequest::ClosePipe):
        r.request = IiodRequest::ClosePipe;
        break;
    default:
        return makeError(-EINVAL, "unknown request " + std::to_string(s.request));
    }
    if (s.value >= pipes)
        return makeError(-EINVAL, "pipe " + std::to_string(s.value) + " does not exist (" +
                                          std::to_string(pipes) + " pipes)");
    r.pipe = s.value;
    return r;
}

// --- IiodPipe ---

Result<std::unique_ptr<IiodPipe>> IiodPipe::open(EventLoop &loop, unsigned index,
                                                 const std::string &inPath,
                                                 const std::string &outPath,
                                                 iiod::LibiioBackend::ContextPtr ctx,
                                                 iiod::LibiioBackendOptions options)
{
    auto in = openEndpoint(inPath, O_WRONLY);
    if (!in)
        return in.takeError();
    auto out = openEndpoint(outPath, O_RDONLY);
    if (!out)
        return out.takeError();
    std::unique_ptr<IiodPipe> p(new IiodPipe(index, std::move(*in), std::move(*out)));
    p->readBuf_.resize(kReadSize);
    p->backend_ = std::make_unique<iiod::LibiioBackend>(std::move(ctx), std::move(options));
    if (p->backend_->completionFd() < 0)
        return makeError(-ENOMEM,
                         "Failed to create the refill eventfd of pipe " + std::to_string(index));
    IiodPipe *self = p.get();
    p->backend_->setDataRequester([self](std::uint64_t bytes) {
        self->dataWanted_ += bytes;
        self->maybeRead();
    });
    p->backend_->setPayloadWriter(
            [self](std::string bytes) { self->queuePayload(std::move(bytes)); });
    p->backend_->setZeroCopy(loop, inPath, outPath);
    p->backend_->setPayloadDone([self](int status) {
        if (self->closing_)
            return;
        if (status < 0)
            self->fail("DMABUF transfer: " + errnoString(-status));
        else
            self->pump();
    });
    p->session_ = std::make_unique<iiod::IiodSession>(*p->backend_, [self] {
        if (!self->closing_)
            self->pump();
    });
    auto aio = ffs::AioContext::create(static_cast<unsigned>(kMaxWrites + 1));
    if (!aio)
        return aio.takeError();
    p->aio_.emplace(std::move(*aio));
    auto src = loop.addIo(p->aio_->eventFd(), EPOLLIN, [self](std::uint32_t) { self->onAio(); });
    if (!src)
        return src.takeError();
    p->aioSource_ = std::move(*src);
    auto bsrc = loop.addIo(p->backend_->completionFd(), EPOLLIN,
                           [self](std::uint32_t) { self->onBackend(); });
    if (!bsrc)
        return bsrc.takeError();
    p->backendSource_ = std::move(*bsrc);
    p->maybeRead();
    return p;
}

IiodPipe::~IiodPipe()
{
    closing_ = true;
    backendSource_.reset();
    aioSource_.reset();
    aio_.reset(); // cancels the read and write in flight and waits for them
    // A short reply the host did not read may still sit in the UDC's FIFO: a FIFO controller
    // (dummy_hcd's emulated one too) completes the write once the FIFO has taken it, so the
    // cancel above does not reach it, and the next session would read it as the answer to its
    // first command. Drop it (a no-op on controllers without fifo_flush, EAGAIN once the
    // endpoint is disabled).
    ::ioctl(in_.get(), FUNCTIONFS_FIFO_FLUSH);
    session_.reset(); // closes the buffers this session opened
    backend_.reset();
}

void IiodPipe::fail(const std::string &why)
{
    if (broken_)
        return;
    broken_ = true;
    // The host went away or reset the pipe; it opens it again when it comes back.
    LOG(Iiod, Notice).hostTriggered() << "Pipe " << index_ << ": " << why;
}

void IiodPipe::maybeRead()
{
    if (reading_ || broken_)
        return;
    if (dataWanted_ > 0) {
        // WRITEBUF data for the backend: exactly what is missing (up to 1 MiB per read; the
        // client's transfers are at most that long), so that a read never waits for bytes
        // the client will not send.
        const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>(dataWanted_, kMaxWrite));
        dataBuf_.resize(std::max(dataBuf_.size(), n));
        const int r = aio_->submit(out_.get(), false, dataBuf_.data(), n, kTagRead);
        if (r < 0) {
            fail("failed to queue a read: " + errnoString(-r));
            return;
        }
        reading_ = true;
        readingData_ = true;
        return;
    }
    if (session_->ended() || !session_->wantsInput())
        return;
    const int r = aio_->submit(out_.get(), false, readBuf_.data(), readBuf_.size(), kTagRead);
    if (r < 0) {
        fail("failed to queue a read: " + errnoString(-r));
        return;
    }
    reading_ = true;
}

void IiodPipe::queuePayload(std::string bytes)
{
    if (bytes.size() <= kMaxWrite) {
        pieces_.push_back(std::move(bytes));
        return;
    }
    for (std::size_t at = 0; at < bytes.size(); at += kMaxWrite)
        pieces_.push_back(bytes.substr(at, kMaxWrite));
}

void IiodPipe::pump()
{
    if (broken_)
        return;
    for (auto &t : session_->takeTransfers())
        transfers_.push_back(std::move(t));
    // Nothing is queued behind a payload the backend sends itself until it ended (the
    // backend tracks one at a time).
    while (writes_.size() < kMaxWrites && !backend_->payloadInFlight()) {
        if (pieces_.empty()) {
            if (transfers_.empty())
                break;
            iiod::IiodTransfer t = std::move(transfers_.front());
            transfers_.pop_front();
            if (auto *line = std::get_if<std::string>(&t))
                pieces_.push_back(std::move(*line));
            else // queued behind the lines before it: the UDC sends them first
                backend_->sendPayload(std::get<iiod::IiodPayload>(t)); // queuePayload()
            if (broken_)
                return;
            continue;
        }
        const std::uint64_t seq = nextWrite_++;
        std::string &bytes = writes_[seq] = std::move(pieces_.front());
        pieces_.pop_front();
        const int r = aio_->submit(in_.get(), true, bytes.data(), bytes.size(), writeTag(seq));
        if (r < 0) {
            writes_.erase(seq);
            fail("failed to queue a write: " + errnoString(-r));
            return;
        }
    }
    maybeRead();
}

void IiodPipe::onAio()
{
    for (const auto &c : aio_->reap()) {
        if (c.tag == kTagRead) {
            reading_ = false;
            if (c.result < 0) {
                readingData_ = false;
                fail("read: " + errnoString(static_cast<int>(-c.result)));
                continue;
            }
            if (broken_)
                continue;
            if (std::exchange(readingData_, false)) {
                const auto n =
                        std::min<std::uint64_t>(static_cast<std::uint64_t>(c.result), dataWanted_);
                dataWanted_ -= n;
                backend_->writeData(std::string_view(dataBuf_.data(), static_cast<std::size_t>(n)));
                continue;
            }
            session_->consume(
                    std::string_view(readBuf_.data(), static_cast<std::size_t>(c.result)));
        } else {
            const auto it = writes_.find(c.tag >> 1);
            const std::size_t size = it == writes_.end() ? 0 : it->second.size();
            if (it != writes_.end())
                writes_.erase(it);
            if (c.result < 0 || static_cast<std::size_t>(c.result) != size) {
                fail(c.result < 0 ? "write: " + errnoString(static_cast<int>(-c.result))
                                  : "short write");
                continue;
            }
        }
    }
    pump();
}

void IiodPipe::onBackend()
{
    backend_->dispatch(); // sink calls: the session calls pump() through outputReady
    pump();
}

// --- IiodFunction ---

Result<std::unique_ptr<IiodFunction>>
IiodFunction::create(EventLoop &loop, IiodFunctionOptions options, std::function<void()> onFatal)
{
    std::unique_ptr<IiodFunction> f(new IiodFunction(loop, std::move(options)));
    FfsFunctionOptions fo;
    fo.name = "libiio";
    fo.instance = f->options_.instance;
    fo.mountPoint = f->options_.mountPoint;
    fo.descriptors = buildIiodDescriptors(f->options_.pipes);
    fo.strings = buildIiodStrings();
    fo.endpoints = 2 * static_cast<std::size_t>(f->options_.pipes);
    auto fn = FfsFunction::create(loop, std::move(fo), *f, std::move(onFatal));
    if (!fn)
        return fn.takeError();
    f->function_ = std::move(*fn);
    f->pipes_.resize(f->options_.pipes);
    auto snapshots = ContextSnapshots::create(
            loop, [] { return iiod::LibiioBackend::createLocalContext(); });
    if (!snapshots)
        return snapshots.takeError();
    f->snapshots_ = std::move(*snapshots);
    return f;
}

IiodFunction::~IiodFunction()
{
    stop();
    function_.reset();
}

void IiodFunction::stop()
{
    closePipes(nullptr);
    if (function_)
        function_->stop();
}

unsigned IiodFunction::openPipes() const
{
    return static_cast<unsigned>(
            std::count_if(pipes_.begin(), pipes_.end(), [](const auto &p) { return !!p; }));
}

std::vector<std::pair<std::string, iiod::LibiioBufferStatus>> IiodFunction::buffers() const
{
    std::vector<std::pair<std::string, iiod::LibiioBufferStatus>> list;
    for (const auto &p : pipes_) {
        if (!p)
            continue;
        for (auto &b : p->backend().bufferStatus())
            list.emplace_back(std::to_string(p->index()) + " " + b.device, std::move(b));
    }
    return list;
}

void IiodFunction::closePipes(const char *why)
{
    const unsigned n = openPipes();
    for (auto &p : pipes_)
        p.reset();
    if (n && why)
        LOG(Iiod, Info) << why << ": closed " << n << " pipe" << (n == 1 ? "" : "s");
}

Result<void> IiodFunction::openPipe(unsigned index)
{
    pipes_[index].reset(); // iiod: a new OPEN_PIPE ends the pipe's previous session
    // The newest finished snapshot: taking one here could outlast the client's 1 s.
    auto ctx = snapshots_->current();
    if (!ctx)
        return ctx.takeError();
    auto p = IiodPipe::open(loop_, index, function_->endpointPath(2 * index + 1),
                            function_->endpointPath(2 * index + 2), std::move(*ctx),
                            options_.backend);
    if (!p)
        return p.takeError();
    pipes_[index] = std::move(*p);
    return {};
}

void IiodFunction::iioDevicesChanged()
{
    snapshots_->refresh();
}

SetupReply IiodFunction::onSetup(const proto::SetupPacket &setup)
{
    auto req = parseIiodSetup(setup, options_.pipes);
    if (!req)
        return SetupReply::stall(req.error().message);
    switch (req->request) {
    case IiodRequest::ResetPipes:
        closePipes(nullptr);
        // A client starts (or ends) its context with it: take a fresh look at the IIO
        // devices for the next one (libiio's local context is a snapshot).
        snapshots_->refresh();
        LOG(Iiod, Debug) << "RESET_PIPES";
        return SetupReply::acknowledge();
    case IiodRequest::OpenPipe:
        if (auto r = openPipe(req->pipe); !r) {
            LOG(Iiod, Error) << "OPEN_PIPE " << req->pipe << ": " << r.error().message;
            return SetupReply::stall(r.error().message);
        }
        LOG(Iiod, Debug) << "OPEN_PIPE " << req->pipe;
        return SetupReply::acknowledge();
    case IiodRequest::ClosePipe:
        pipes_[req->pipe].reset();
        LOG(Iiod, Debug) << "CLOSE_PIPE " << req->pipe;
        return SetupReply::acknowledge();
    }
    return SetupReply::stall("unreachable");
}

} // namespace iiousb::function
