#include "signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <system_error>

namespace common {

namespace {
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    // A hang-up (the terminal closed) stops the server as cleanly: the
    // default would kill it without a word (docs/protocol.md, "Stopping").
    sigaddset(&set, SIGHUP);
    return set;
}
}  // namespace

signal_waiter::signal_waiter() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int signal_waiter::wait() {
    const sigset_t set = stop_signals();
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}

int signal_waiter::descriptor() const {
    const sigset_t set = stop_signals();
    const int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "signalfd");
    }
    return fd;
}

}  // namespace common
