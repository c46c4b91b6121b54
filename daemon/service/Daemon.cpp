#include "service/Daemon.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <sys/signalfd.h>

#include <systemd/sd-daemon.h>

#include "log/Log.h"

namespace iiousb {

IIOUSB_LOG_CATEGORY(Daemon, "daemon")

namespace {

void notify(const std::string &state)
{
    // Without $NOTIFY_SOCKET (not under systemd) this does nothing.
    sd_notify(0, state.c_str());
}

} // namespace

Daemon::Daemon(Config config, std::chrono::steady_clock::time_point started)
    : config_(std::move(config)), started_(started)
{}

Daemon::~Daemon()
{
    session_.reset();
    sources_.clear();
}

Result<void> Daemon::setUpLoop()
{
    if (auto r = blockSignals({SIGTERM, SIGINT, SIGHUP}); !r)
        return r;
    auto loop = EventLoop::create();
    if (!loop)
        return loop.takeError();
    loop_ = std::move(*loop);

    auto stop = [this](const signalfd_siginfo &si) {
        LOG(Daemon, Info) << "Received SIG" << sigabbrev_np(static_cast<int>(si.ssi_signo))
                          << ", stopping";
        loop_->exit(EXIT_SUCCESS);
    };
    for (int sig : {SIGTERM, SIGINT}) {
        auto src = loop_->addSignal(sig, stop);
        if (!src)
            return src.takeError();
        sources_.push_back(std::move(*src));
    }
    auto hup = loop_->addSignal(SIGHUP, [this](const signalfd_siginfo &) { reload(); });
    if (!hup)
        return hup.takeError();
    sources_.push_back(std::move(*hup));

    auto timer = loop_->addPeriodicTimer(std::chrono::seconds(5), [this] { updateStatus(); });
    if (!timer)
        return timer.takeError();
    sources_.push_back(std::move(*timer));
    loop_->enableWatchdog();
    return {};
}

Result<std::unique_ptr<GadgetSession>> Daemon::startSession(const Config &config)
{
    return GadgetSession::create(config, *loop_, [this] {
        LOG(Daemon, Error) << "The USB function failed; stopping";
        loop_->exit(EXIT_FAILURE);
    });
}

int Daemon::run()
{
    if (auto r = setUpLoop(); !r) {
        LOG(Daemon, Error) << r.error().message;
        return EXIT_FAILURE;
    }
    LOG(Daemon, Info) << "Starting with " << config_.path;
    auto session = startSession(config_);
    if (!session) {
        LOG(Daemon, Error) << "Failed to bring the gadget up: " << session.error().message;
        return EXIT_FAILURE;
    }
    session_ = std::move(*session);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started_)
                            .count();
    // READY means the gadget is set up and the daemon serves it: bound to its UDC when one
    // exists, otherwise waiting for one (docs/operations.md).
    LOG(Daemon, Info) << "Ready: gadget "
                      << (session_->bound() ? "bound to " + session_->udc()
                                            : std::string("waiting for a UDC"))
                      << " " << ms << " ms after start";
    lastStatus_ = currentStatus();
    notify("READY=1\nSTATUS=" + lastStatus_);

    int r = loop_->run();
    notify("STOPPING=1\nSTATUS=Stopping: removing the gadget");
    LOG(Daemon, Info) << "Tearing the gadget down";
    session_.reset();
    LOG(Daemon, Info) << "Stopped";
    if (r < 0) {
        LOG(Daemon, Error) << "Event loop failed: " << errnoString(r);
        return EXIT_FAILURE;
    }
    return r;
}

void Daemon::reload()
{
    LOG(Daemon, Info) << "Received SIGHUP, reloading " << config_.path;
    auto next = loadConfig(config_.path);
    if (!next) {
        LOG(Daemon, Error) << next.error().message;
        LOG(Daemon, Error) << "Keeping the running configuration";
        return;
    }
    if (next->sameSettings(config_)) {
        LOG(Daemon, Info) << "Configuration unchanged";
        return;
    }
    notify("RELOADING=1");
    LOG(Daemon, Info) << "Configuration changed: bringing the gadget up again";
    session_.reset();
    auto session = startSession(*next);
    if (session) {
        session_ = std::move(*session);
        config_ = std::move(*next);
    } else {
        LOG(Daemon, Error) << "Failed to bring the new configuration up: "
                           << session.error().message << "; restoring the previous one";
        auto old = startSession(config_);
        if (!old) {
            LOG(Daemon, Error) << "Failed to restore the previous configuration: "
                               << old.error().message;
            loop_->exit(EXIT_FAILURE);
            return;
        }
        session_ = std::move(*old);
    }
    statusLine_.reset();
    lastStatus_ = currentStatus();
    notify("READY=1\nSTATUS=" + lastStatus_);
    LOG(Daemon, Info) << "Reloaded: gadget "
                      << (session_->bound() ? "bound to " + session_->udc()
                                            : std::string("waiting for a UDC"));
}

void Daemon::updateStatus()
{
    if (!session_)
        return;
    std::string status = currentStatus();
    if (status == lastStatus_)
        return;
    lastStatus_ = status;
    notify("STATUS=" + status);
    LOG(Daemon, Debug) << status;
}

std::string Daemon::currentStatus()
{
    StatusLine::Samples samples;
    for (const auto &stream : session_->streams())
        samples.emplace_back(stream->name(), stream->stats());
    std::string state =
            "Gadget " + session_->config().gadget.name +
            (session_->bound() ? " bound to " + session_->udc() + ", host " +
                                         (session_->hostConnected() ? "connected" : "not connected")
                               : std::string(" waiting for a UDC"));
    StatusLine::Buffers buffers;
    if (const auto *libiio = session_->libiio()) {
        for (const auto &[key, b] : libiio->buffers())
            buffers.push_back({key, b.text(), b.bytes});
    }
    return statusLine_.update(state, samples, StatusLine::Clock::now(), buffers);
}

} // namespace iiousb
