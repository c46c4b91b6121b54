#include "SignalGuard.h"

#include <atomic>

namespace iiousb::tool {

namespace {

std::atomic<int> g_caught{0};
static_assert(std::atomic<int>::is_always_lock_free, "used from a signal handler");

extern "C" void onStopSignal(int sig)
{
    g_caught.store(sig, std::memory_order_relaxed);
}

} // namespace

SignalGuard::SignalGuard()
{
    g_caught.store(0);
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: a blocking read()/write() returns EINTR and the caller sees the flag.
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &oldInt_);
    sigaction(SIGTERM, &sa, &oldTerm_);
    sigaction(SIGHUP, &sa, &oldHup_);
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &oldPipe_);
}

SignalGuard::~SignalGuard()
{
    sigaction(SIGINT, &oldInt_, nullptr);
    sigaction(SIGTERM, &oldTerm_, nullptr);
    sigaction(SIGHUP, &oldHup_, nullptr);
    sigaction(SIGPIPE, &oldPipe_, nullptr);
}

int SignalGuard::caught()
{
    return g_caught.load(std::memory_order_relaxed);
}

} // namespace iiousb::tool
