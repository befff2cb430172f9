// The stop signals, SIGINT, SIGTERM and SIGHUP, as every main() takes them
// (main.hpp) and the limit line's epoll loop reads them.
#pragma once

namespace common {

// Blocks the stop signals in the calling thread and every thread started
// after it, so they can only be taken by `wait()` (or read from
// `descriptor()`): no handler runs in the middle of a server's thread, and
// a signal sent the moment the `listening on` line is printed is not lost.
class signal_waiter {
  public:
    signal_waiter();
    int wait();  // returns the signal's number
    // A signalfd for them, for a loop that waits in epoll instead of in
    // wait(): readable while one is pending. Throws if it cannot be made.
    int descriptor() const;
};

}  // namespace common
