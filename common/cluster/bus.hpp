// The cluster's backplane: one router process's connection to NATS
// (docs/protocol.md, "Cluster mode"), through the official C client
// (libnats), not a NATS protocol of our own.
//
// Subjects: a frame for client `dest` of node K is published on
// `router.K.<dest>`, its payload the frame's payload alone (no id, no 0),
// so the largest frame the bus carries is the server's max_payload
// exactly, and the defaults fit (--max-frame 1048576, NATS's 1 MB). Node K
// subscribes to `router.K.*`, and answers requests on `router.K` (the
// node-clash check) while it runs.
//
// Threads: publish() is called by the router's loop; the library runs
// on its own threads, and `on_frame` (given to the constructor) is called
// on the library's delivery thread, one message at a time, in the order
// the server sent them: it must hand the frame over (the reactor's inbox)
// and never touch the router's state.
//
// Delivery is NATS core's: at most once. While the connection is down the
// library reconnects for ever; publish() drops, counts and logs (the first
// 10, then every 1000th) frames meanwhile, so the router's own clients
// are never held up by the bus.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
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

// A frame from another node, for one of ours: owns the library's message,
// whose bytes payload() shows (no copy), until it is destroyed.
class inbound_frame {
  public:
    inbound_frame() = default;
    inbound_frame(client_id dest, void* msg) : dest_(dest), msg_(msg) {}
    inbound_frame(inbound_frame&& o) noexcept
        : dest_(o.dest_), msg_(std::exchange(o.msg_, nullptr)) {}
    inbound_frame& operator=(inbound_frame&& o) noexcept;
    ~inbound_frame();

    client_id dest() const { return dest_; }
    std::string_view payload() const;

  private:
    client_id dest_ = 0;
    void* msg_ = nullptr;  // a natsMsg*, kept out of this header
};

class bus {
  public:
    using frame_handler = std::function<void(inbound_frame)>;

    // Connects to opts.cluster as node opts.node, or throws bus_error:
    // the URL unreachable, another router running as this node, or
    // opts.max_frame past the server's max_payload. On return this node's
    // subscription is registered with the server (a round trip), so a
    // frame any node publishes for it from then on reaches `on_frame`.
    bus(const options& opts, frame_handler on_frame);
    // Unsubscribes and closes; returns once `on_frame` is not running and
    // will not run again.
    ~bus();
    bus(const bus&) = delete;
    bus& operator=(const bus&) = delete;

    // A frame from local client `from` to `dest`, a client of another
    // node: published, or dropped (bus down, too large), counted and
    // logged. Never blocks on the network.
    void publish(client_id from, client_id dest, std::string_view payload);

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
