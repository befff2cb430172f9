// The cluster's backplane: one router process's connection to NATS
// (docs/protocol.md, "Cluster mode"), through the official C client
// (libnats), not a NATS protocol of our own.
//
// Subjects: a frame from client `from` for client `dest` of node K is
// published on `router.K.<dest>.<from>`, its payload the frame's payload
// alone (no id, no 0), so the largest frame the bus carries is the
// server's max_payload exactly, and the defaults fit (--max-frame 1048576,
// NATS's 1 MB). Node K subscribes to `router.K.*.*`, and answers requests
// on `router.K` (the node-clash check) while it runs.
//
// Threads: publish() is called by the routers' loops, from any thread;
// the library runs on its own threads, and `on_frame` (given to the
// constructor) is called on the library's delivery thread, one message at
// a time, in the order the server sent them: it must hand the frame over
// (a reactor's inbox) and never touch a router's state.
//
// Delivery is NATS core's: at most once. While the connection is down the
// library reconnects for ever; publish() drops, counts and logs (the first
// 10, then every 1000th) frames meanwhile, so an outage never holds up the
// router's own clients; a server that stops reading holds up the reactor
// that publishes for 1 s at most.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/id.hpp"

namespace common {
struct options;
}

namespace common::cluster {

// A start that cannot be: the bus unreachable, a node already running,
// --max-frame larger than the bus carries. One line; main() exits 1.
struct bus_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class bus {
  public:
    // On the library's thread: a frame from client `from` (of another
    // node) for client `dest` of this one; `message` is its payload and
    // the 0 that ends it, valid during the call. `more`: the library holds
    // more messages already, so a handler that batches may wait for them
    // before it hands its batch over.
    using frame_handler = std::function<void(
        client_id from, client_id dest, std::string_view message, bool more)>;

    // Connects to opts.cluster as node opts.node, or throws bus_error:
    // the URL unreachable, another router running as this node, or
    // opts.max_frame past the server's max_payload. On return this node's
    // subscription is registered with the server (a round trip), so a
    // frame any node publishes for it from then on reaches `on_frame`.
    bus(const options& opts, frame_handler on_frame);
    // Closes (close()).
    ~bus();
    bus(const bus&) = delete;
    bus& operator=(const bus&) = delete;

    // A frame from local client `from` to `dest`, a client of another
    // node, `message` its payload and its 0: published, or dropped (bus
    // down, too large, a server that took nothing for 1 s), counted and
    // logged. Waits for the network only when the library's buffer is
    // full, for 1 s at most (bus.cpp, write_deadline_ms).
    void publish(client_id from, client_id dest, std::string_view message);

    // Every frame of `parcel` (common/reactor/parcel.hpp), in order.
    void publish_parcel(std::span<const char> parcel);

    // Leaves the bus: returns once `on_frame` is not running and will not
    // run again. Idempotent. An `on_frame` that may block (waiting for
    // room in a reactor's inbox) needs its consumer running until then.
    void close();

    // Frames publish() dropped so far.
    std::uint64_t dropped() const {
        return dropped_.load(std::memory_order_relaxed);
    }

    struct state;  // the library's handles and callbacks (bus.cpp)

  private:
    void start(const options& opts);
    void drop(client_id from, client_id dest, const char* why);

    std::unique_ptr<state> state_;
    std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace common::cluster
