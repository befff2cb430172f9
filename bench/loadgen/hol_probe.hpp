// The head-of-line probe (--slow-client): a client that never reads while
// another floods it, to see whether the others stall, whether the server's
// queues grow without bound, and whether it cuts the slow client off.
//
// During the run the slow client reads nothing; afterwards it drains its
// socket for up to 1.5 s: end of file (or a reset) means the server
// disconnected it. A server may close it at any time (NATS does at its
// write deadline): the close is only seen, and counted, in the drain.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <functional>
#include <string>

#include "client.hpp"
#include "config.hpp"
#include "protocol.hpp"

namespace loadgen {

struct hol_result {
    std::size_t flood_bytes_sent = 0;  // payload bytes
    double flood_done_s = -1;          // after the window opened
    std::string flood_error;
    bool disconnected = false;
    std::size_t bytes_drained = 0;
};

class hol_probe {
  public:
    hol_probe(const config& cfg,
              const protocol& proto,
              client& slow,
              client& flooder);

    client& slow() { return slow_; }
    client& flooder() { return flooder_; }

    // Floods the slow client, as fast as the server takes it; times are
    // from `since`.
    void start_flood(steady::time_point since);
    // Sends what the protocol left the flooder to answer (NATS: PONG),
    // once its write in flight, if any, is done.
    void answer() { write_next(); }
    // The load is over: the flooder stops, the slow client reads at last;
    // `done` is called at end of file or after 1.5 s.
    void drain(std::function<void()> done);
    // The run is over: nothing more starts.
    void stop() { stopped_ = true; }

    const hol_result& result() const { return result_; }

  private:
    void write_next();
    void drain_read();

    const config& cfg_;
    const protocol& proto_;
    client& slow_;
    client& flooder_;
    asio::steady_timer timer_;
    std::function<void()> done_;
    steady::time_point since_;
    std::string answer_;  // the flooder's answer being written
    std::size_t frame_wire_ = 1;
    bool flooding_ = false, stopped_ = false;
    hol_result result_;
};

}  // namespace loadgen
