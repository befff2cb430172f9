// Many non-blocking connections driven by one poll loop, from the test's
// own thread: whatever the server sends is read while the test is still
// sending, so no test can deadlock itself on a full socket buffer. Every
// loop has a deadline.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"

namespace testing {

// One non-blocking connection, driven by a `swarm`.
struct peer {
    int fd = -1;
    std::optional<std::uint32_t> id;  // once its 4 bytes have arrived
    bool closed = false;              // EOF or reset seen, or closed by us
    std::string out;                  // bytes still to send
    std::size_t sent = 0;             // bytes sent so far, in total
    std::string in;                   // bytes received after the id
    std::size_t received = 0;         // bytes received in total
    bool keep_input = true;           // false: count received bytes only
    bool paused = false;              // true: not read at all (a slow one)
};

class swarm {
  public:
    explicit swarm(std::uint16_t port);
    ~swarm();
    swarm(const swarm&) = delete;
    swarm& operator=(const swarm&) = delete;

    // Connects (the connect itself completes in the listen backlog, before
    // the server accepts) and returns the new peer's index. To `port`, if
    // not 0: another server's (a cluster's other node, tests/cluster/).
    std::size_t connect(int rcvbuf = 0, std::uint16_t port = 0);
    peer& operator[](std::size_t i) { return *peers_[i]; }
    std::size_t size() const { return peers_.size(); }

    // Closes our end; with `reset`, with an RST instead of a FIN.
    void close(std::size_t i, bool reset = false);

    // Sends and receives until done() holds, or throws timeout_error at
    // the deadline with `what`. done() is checked after every poll round.
    void pump_until(const std::function<bool()>& done,
                    const std::string& what,
                    clock::duration within = patience);
    // Sends and receives for `d`: traffic keeps flowing while the test
    // waits for something outside the swarm (a CPU window).
    void pump_for(clock::duration d);

  private:
    void round(int timeout_ms);
    void on_readable(peer& p);
    void on_writable(peer& p);

    std::uint16_t port_;
    std::vector<std::unique_ptr<peer>> peers_;
};

// Pops one complete message (payload + 0) from the front of `in`.
std::optional<std::string> pop_message(std::string& in);

}  // namespace testing
