#include "function/FfsFunction.h"

#include <cerrno>
#include <cstdio>

#include <unistd.h>

#include <sys/epoll.h>

#include "log/Log.h"

namespace iiousb::function {

IIOUSB_LOG_CATEGORY(Function, "function")

std::string describeSetup(const proto::SetupPacket &s)
{
    char buf[96];
    snprintf(buf, sizeof(buf),
             "bmRequestType 0x%02x bRequest 0x%02x wValue %u wIndex %u wLength %u", s.requestType,
             s.request, s.value, s.index, s.length);
    return buf;
}

Result<std::unique_ptr<FfsFunction>> FfsFunction::create(EventLoop &loop,
                                                         FfsFunctionOptions options,
                                                         FfsPersonality &personality,
                                                         std::function<void()> onFatal)
{
    std::unique_ptr<FfsFunction> f(
            new FfsFunction(std::move(options), personality, std::move(onFatal)));
    if (auto r = f->start(loop); !r)
        return r.takeError(); // the destructor unwinds what start() did
    return f;
}

Result<void> FfsFunction::start(EventLoop &loop)
{
    auto m = ffs::FfsMount::mount(options_.instance, options_.mountPoint);
    if (!m)
        return m.takeError();
    mount_.emplace(std::move(*m));

    auto e = ffs::FfsEp0::open(mount_->path());
    if (!e)
        return e.takeError();
    ep0_.emplace(std::move(*e));
    if (auto r = ep0_->writeDescriptors(options_.descriptors, options_.strings); !r)
        return r.takeError();

    // f_fs creates ep1..epN when it takes the strings; the UDC is bound only once they exist.
    for (std::size_t i = 1; i <= options_.endpoints; i++) {
        const std::string ep = endpointPath(i);
        if (access(ep.c_str(), F_OK) < 0)
            return errnoError(errno, "FunctionFS did not create " + ep);
    }

    auto src = loop.addIo(ep0_->fd(), EPOLLIN, [this](std::uint32_t) { onEp0Readable(); });
    if (!src)
        return src.takeError();
    ep0Source_ = std::move(*src);

    auto worker = ffs::Ep0Worker::start(*ep0_);
    if (!worker)
        return worker.takeError();
    ep0Worker_ = std::move(*worker);
    auto done =
            loop.addIo(ep0Worker_->notifyFd(), EPOLLIN, [this](std::uint32_t) { onStageDone(); });
    if (!done)
        return done.takeError();
    ep0DoneSource_ = std::move(*done);
    LOG(Function, Info) << "Function " << options_.name << ": FunctionFS ffs." << options_.instance
                        << " on " << mount_->path() << ", " << options_.endpoints << " endpoints";
    return {};
}

FfsFunction::~FfsFunction()
{
    stop();
    ep0_.reset();
    mount_.reset();
}

void FfsFunction::stop()
{
    stopped_ = true;
    ep0DoneSource_.reset();
    ep0Worker_.reset(); // cancels a stage waiting for the host and joins
    ep0Source_.reset();
}

std::string FfsFunction::endpointPath(std::size_t n) const
{
    return mount_->file("ep" + std::to_string(n));
}

void FfsFunction::onEp0Readable()
{
    auto events = ep0_->readEvents();
    if (!events) {
        LOG(Function, Error) << options_.name << ": " << events.error().message;
        // EBADFD: the function left the active state (its ep0 is being torn down).
        if (++ep0Errors_ >= 10 || events.error().code == -EBADFD) {
            ep0Source_.reset();
            if (onFatal_)
                onFatal_();
        }
        return;
    }
    ep0Errors_ = 0;
    for (const auto &ev : *events) {
        if (stopped_)
            return;
        handleEvent(ev);
    }
}

void FfsFunction::handleEvent(const ffs::FfsEvent &ev)
{
    using Type = ffs::FfsEvent::Type;
    switch (ev.type) {
    case Type::Setup:
        handleSetup(ev.setup);
        return;
    case Type::Bind:
        LOG(Function, Debug) << options_.name << ": FunctionFS event BIND";
        personality_.onBind();
        return;
    case Type::Unbind:
        LOG(Function, Debug) << options_.name << ": FunctionFS event UNBIND";
        enabled_ = false;
        personality_.onUnbind();
        return;
    case Type::Enable:
        LOG(Function, Debug) << options_.name << ": FunctionFS event ENABLE";
        enabled_ = true;
        personality_.onEnable();
        return;
    case Type::Disable:
        LOG(Function, Debug) << options_.name << ": FunctionFS event DISABLE";
        enabled_ = false;
        personality_.onDisable();
        return;
    case Type::Suspend:
        LOG(Function, Debug) << options_.name << ": FunctionFS event SUSPEND";
        personality_.onSuspend();
        return;
    case Type::Resume:
        LOG(Function, Debug) << options_.name << ": FunctionFS event RESUME";
        personality_.onResume();
        return;
    case Type::Unknown:
        LOG(Function, Warning) << options_.name << ": unknown FunctionFS event " << ev.raw;
        return;
    }
}

void FfsFunction::handleSetup(const proto::SetupPacket &setup)
{
    using Job = ffs::Ep0Worker::Job;
    if (ep0Worker_->busy()) {
        // Cannot happen: ep0 is not read while a stage is with the worker.
        LOG(Function, Error) << options_.name << ": SETUP " << describeSetup(setup)
                             << " while the previous one is still being answered";
        return;
    }
    SetupReply reply = personality_.onSetup(setup);
    Job job{Job::Kind::Acknowledge, setup, {}};
    switch (reply.kind) {
    case SetupReply::Kind::Stall:
        // The host decides how often this happens: rate-limited.
        LOG(Function, Notice).hostTriggered() << "Stalling " << describeSetup(setup) << " ("
                                              << options_.name << "): " << reply.reason;
        // A stall does not wait for the host: done here.
        if (auto r = ep0_->stall(setup); !r)
            LOG(Function, Warning) << r.error().message;
        return;
    case SetupReply::Kind::Acknowledge:
        break;
    case SetupReply::Kind::Receive:
        job.kind = Job::Kind::Receive;
        break;
    case SetupReply::Kind::Data:
        job.kind = Job::Kind::Reply;
        job.data = std::move(reply.data);
        break;
    }
    // While the SETUP is pending f_fs reports ep0 readable, and a read would be taken as the
    // stage itself: ep0 is not watched until the worker is done.
    ep0Source_->setEnabled(false);
    ep0Worker_->submit(std::move(job));
}

void FfsFunction::onStageDone()
{
    auto done = ep0Worker_->takeDone();
    if (!done)
        return;
    // Re-adding ep0 to epoll checks its readiness: events that came meanwhile are seen.
    ep0Source_->setEnabled(true);
    const auto &setup = done->job.setup;
    if (done->result) {
        const char *what = done->job.kind == ffs::Ep0Worker::Job::Kind::Reply ? "Answered"
                           : done->job.kind == ffs::Ep0Worker::Job::Kind::Acknowledge
                                   ? "Acknowledged"
                                   : "Received the data of";
        LOG(Function, Debug) << what << " " << describeSetup(setup) << " (" << options_.name
                             << ") in " << done->micros << " us";
    } else {
        // EIDRM: the host gave up on the request (or sent the next SETUP) before the stage;
        // ESHUTDOWN/ECONNRESET: it went away; EINTR: cancelled. Host-triggered: rate-limited.
        LOG(Function, Notice).hostTriggered()
                << "The host did not complete " << describeSetup(setup) << " (" << options_.name
                << ": " << done->result.error().message << ", after " << done->micros / 1000
                << " ms)";
    }
    personality_.onSetupDone(setup, done->result);
}

} // namespace iiousb::function
