// Who gets in: the total bound on clients (--max-clients) and what every
// model does when it runs out of descriptors (docs/protocol.md, "Limits"),
// written once, so that all five refuse, wait and log alike.
#pragma once

#include <atomic>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace common {

// At most one line per period for an event that a flood of clients can
// repeat at will (a refusal, a failed accept), with the count since the
// last line, so that the log stays short and the count exact.
class log_throttle {
  public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds period{1};

    // Counts one event: true if it gets a line (the first event, or the
    // first a period or more after the last line); then since() is how
    // many events that line stands for, this one included.
    bool event(clock::time_point now);
    std::uint64_t since() const { return since_; }

  private:
    clock::time_point last_line_{};
    bool logged_ = false;
    std::uint64_t pending_ = 0, since_ = 0;
};

// The clients a server holds, against --max-clients, and the lines for
// those it turns away or cannot take yet. try_admit() and not_now() are
// the accept loop's (one at a time); left() may come from any thread.
class admission {
  public:
    explicit admission(std::size_t max_clients) : max_clients_(max_clients) {}

    // A connection was accepted: true if it may stay (it is counted until
    // left()); false if --max-clients are connected: the caller closes it
    // before its id is sent, and it is counted and logged, throttled.
    bool try_admit();
    // A client counted by try_admit() has gone.
    void left() { connected_.fetch_sub(1, std::memory_order_relaxed); }

    // Taking a client failed for now (`what`: "accept", or "dup" for the
    // second descriptor of a split socket) with `ec` (EMFILE, ENFILE...):
    // logged, throttled. The caller pauses `accept_backoff` and tries
    // again, so that the clients still to be taken wait in the listen
    // backlog.
    void not_now(std::string_view what, const boost::system::error_code& ec);

  private:
    const std::size_t max_clients_;
    std::atomic<std::size_t> connected_{0};
    log_throttle refused_, failed_;
};

// Raises the soft limit on descriptors to the hard one, as Redis does at
// start, and logs the limit obtained (one line).
void raise_descriptor_limit();

}  // namespace common
