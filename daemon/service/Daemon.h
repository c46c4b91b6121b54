// The service: the event loop, signals (SIGTERM/SIGINT stop, SIGHUP reloads the
// configuration), a status timer, systemd notifications, and the current GadgetSession.
#pragma once

#include <chrono>
#include <memory>

#include "config/Config.h"
#include "event/EventLoop.h"
#include "service/GadgetSession.h"
#include "service/StatusLine.h"

namespace iiousb {

class Daemon {
public:
    Daemon(Config config, std::chrono::steady_clock::time_point started);
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;
    ~Daemon();

    // Brings the gadget up, runs until stopped, tears down. Returns the exit status.
    int run();

private:
    Result<void> setUpLoop();
    Result<std::unique_ptr<GadgetSession>> startSession(const Config &config);
    void reload();
    void updateStatus();
    std::string currentStatus();

    Config config_;
    std::chrono::steady_clock::time_point started_;
    std::unique_ptr<EventLoop> loop_;
    std::vector<EventSourcePtr> sources_;
    std::unique_ptr<GadgetSession> session_;
    std::string lastStatus_;
    StatusLine statusLine_;
};

} // namespace iiousb
