// One connection of the load generator, and what a run counts.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "protocol.hpp"

namespace loadgen {

using steady = std::chrono::steady_clock;

inline steady::duration seconds(double s) {
    return std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(s));
}

// pair: sends to its partner, receives from it; idle: connected, silent;
// slow: subscribed, never reads; flooder: floods the slow one.
enum class role { pair, idle, slow, flooder };

struct client {
    explicit client(asio::io_context& ioc) : sock(ioc) {}
    tcp::socket sock;
    role kind = role::pair;
    std::uint32_t index = 0;  // among the paired clients
    address addr;             // where it receives
    client* partner = nullptr;
    // Sending: frames written so far; at most one write in flight.
    std::uint64_t sent = 0;
    bool writing = false;
    std::string wbuf;
    std::string reply;  // what the protocol must answer, sent first
    // Receiving: frames from the partner, checked in order.
    std::uint64_t received = 0;
    std::uint64_t received_in_window = 0;
    steady::time_point last_rx;
    bool stalled = false;
    bool closed = false;
    std::vector<char> rbuf = std::vector<char>(64 * 1024);
    std::size_t rbeg = 0, rend = 0;
};

struct errors {
    std::uint64_t wrong_partner = 0, corrupt = 0, out_of_order = 0,
                  disconnected = 0, server_errors = 0;
    std::string first;  // the first socket error of a paired client
    std::uint64_t total() const {
        return wrong_partner + corrupt + out_of_order + disconnected +
               server_errors;
    }
};

// What the connect phase did.
struct connect_result {
    std::string failed;  // why a needed connection failed; "" if none did
    double seconds = -1;
    unsigned idle_failed = 0;
    std::string idle_error;  // the first idle connection's failure
};

// What the traffic did.
struct tally {
    errors err;
    histogram latency;
    std::uint64_t delivered = 0;        // in the measured window
    std::uint64_t total_delivered = 0;  // warmup and drain included
    std::uint64_t undelivered = 0;      // open loop: due, never arrived
    unsigned stalled_clients = 0;
    double first_stall_s = -1;
};

}  // namespace loadgen
