// Ctrl-C handling for streaming commands: the first SIGINT/SIGTERM/SIGHUP asks for an
// orderly stop (the handler only sets a flag the event loop polls); the handler resets
// itself, so a second signal ends the program at once. SIGPIPE is ignored so that a closed
// output pipe shows up as EPIPE.
#pragma once

#include <csignal>

namespace iiousb::tool {

class SignalGuard {
public:
    SignalGuard();
    ~SignalGuard();
    SignalGuard(const SignalGuard &) = delete;
    SignalGuard &operator=(const SignalGuard &) = delete;

    // The signal that asked for a stop, or 0.
    static int caught();

private:
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
    struct sigaction oldHup_ {};
    struct sigaction oldPipe_ {};
};

} // namespace iiousb::tool
