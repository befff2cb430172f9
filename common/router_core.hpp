// The sans-I/O router: the whole routing state and its rules, driven by
// events, with no sockets, no clock, no executor and no threads.
//
// The article's closing section: the reactor decides *when* something can
// be done (a socket is readable, writable, a client arrived or left, a
// deadline passed); this class decides *what* is done (parse, route,
// queue, drop, close). Both reactors drive it, so their two server.cpp
// files differ only in how they wait for events.
//
// Events in:     handle_connect(), read_buffer() + handle_input(),
//                handle_written(), handle_disconnect(), handle_timeout().
// Decisions out: poll_transmit() (who has new output) and output(id),
//                poll_close() (whom to disconnect, and why),
//                poll_timeout() (when to call handle_timeout() next),
//                poll_expired() (who is past its write deadline).
// Time is an argument: every event that can start, move or fire a write
// deadline takes `now`, and the core never reads a clock, so a test or a
// fuzzer drives time by hand. `now` must never go backwards.
//
// Guarantees (docs/protocol.md):
//  - ids in accept order from 0, never reused; a client's id is the first
//    thing queued for it, so no frame can overtake it;
//  - every complete frame of a read is routed before handle_input()
//    returns, so a client that leaves after sending loses nothing it
//    completed;
//  - bounded memory: a client's queued output never exceeds max_pending
//    (past it, the client is closed as a slow consumer and its output
//    freed); its parser holds at most one partial frame plus one read;
//  - the write deadline (point 8): a client with output queued that takes
//    none of it for write_timeout is closed by the first handle_timeout()
//    at or after that instant, and its output freed; one that takes some,
//    however little, starts a new write_timeout. Zero: no deadline.
//
// Not thread-safe, on purpose: one loop owns it and mutates it directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "frame_parser.hpp"
#include "id.hpp"
#include "log.hpp"

namespace common {

class router_core {
  public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    enum class close_reason {
        protocol_error,  // a frame longer than max_frame (point 6)
        slow_consumer,   // more than max_pending bytes queued for it
        write_timeout,   // took none of its output for write_timeout (8)
    };
    struct closure {
        client_id id;
        close_reason why;
    };

    // write_timeout zero: no write deadline, and poll_timeout() is always
    // empty.
    router_core(std::size_t max_frame,
                std::size_t max_pending,
                std::chrono::milliseconds write_timeout =
                    std::chrono::milliseconds::zero());

    // --- Events in ---

    // A client connected: its new id, which is already queued for it (so
    // its write deadline starts now).
    client_id handle_connect(time_point now);

    // Bytes arrived from `id`, without a copy: read at most `n` bytes into
    // `read_buffer(id, n)`, then say how many with
    // `handle_input(id, count, now)`. Every frame they complete is routed
    // at once. An unknown id gets an empty buffer.
    std::span<char> read_buffer(client_id id, std::size_t n);
    void handle_input(client_id id, std::size_t count, time_point now);
    // The same, copying bytes the caller already holds.
    void handle_input(client_id id, std::string_view bytes, time_point now);

    // The socket took the first `n` bytes of output(id). Any progress
    // (n > 0) restarts the client's write deadline, or clears it if its
    // output is now empty.
    void handle_written(client_id id, std::size_t n, time_point now);

    // The client left (EOF, error, or closed by its driver). Its complete
    // frames were routed when they arrived; its partial frame and queued
    // output are discarded; its id leaves the table. Unknown ids are
    // ignored, so calling it for a closed client is harmless.
    void handle_disconnect(client_id id);

    // Time passed: every client whose write deadline is at or before `now`
    // is closed (close_reason::write_timeout). Call it once `now` reaches
    // poll_timeout(); calling it earlier, or more often, is harmless.
    void handle_timeout(time_point now);

    // --- Decisions out ---

    // Everything queued for `id`, contiguous, to be written in one go;
    // then handle_written() with what the socket took.
    std::string_view output(client_id id) const;

    // Clients whose output went from empty to not empty since the last
    // call, appended to `to_flush`. A listed client stays the driver's to
    // write until output(id) is empty again: it is not listed twice
    // meanwhile.
    void poll_transmit(std::vector<client_id>& to_flush);

    // Clients the core has closed since the last call, appended to `out`.
    // They have already left the table (and were logged): the driver only
    // closes their sockets.
    void poll_close(std::vector<closure>& out);

    // When to call handle_timeout() next, or none: no client has a write
    // deadline. It may be earlier than needed (the deadlines are kept in a
    // lazy heap, which still holds those that were since moved later or
    // cleared, or whose client left): such a wake-up finds nothing due
    // and is harmless. It is never later than the earliest deadline.
    std::optional<time_point> poll_timeout() const;

    // The clients whose write deadline is at or before `now`, appended to
    // `out`: those the next handle_timeout(now) closes. For a driver that
    // tries one last write to each first: a kernel reports a socket
    // writable only once a good part of its buffer is free, so a client
    // that reads slowly may have made room unnoticed, and any bytes its
    // socket takes now (handle_written) move its deadline.
    void poll_expired(time_point now, std::vector<client_id>& out) const;

    // --- Inspection (tests, fuzzer) ---

    bool connected(client_id id) const { return clients_.contains(id); }
    std::size_t size() const { return clients_.size(); }
    std::uint64_t drops() const { return drops_.count(); }
    // The client's write deadline, or none (no output queued, no deadline
    // configured, or not connected).
    std::optional<time_point> write_deadline(client_id id) const;

  private:
    static constexpr time_point none = time_point::max();

    struct client {
        explicit client(std::size_t max_frame) : parser(max_frame) {}
        frame_parser parser;    // input: the partial frame, if any
        std::vector<char> out;  // output: out[out_begin, size) is queued
        std::size_t out_begin = 0;
        time_point deadline = none;  // `none` unless output is queued
        time_point heap_key = none;  // its entry in `deadlines_`, if any
        bool closing = false;        // closed while its frames are routed
    };

    void route(client_id from, client& sender, time_point now);
    void deliver(client_id from, const frame& f, time_point now);
    void start_deadline(client_id id, client& c, time_point now);
    void close(client_id id, client& c, close_reason why);

    std::size_t max_frame_;
    std::size_t max_pending_;
    std::chrono::milliseconds write_timeout_;
    client_id next_id_ = 0;
    std::unordered_map<client_id, client> clients_;
    std::vector<client_id> to_flush_;
    std::vector<closure> closures_;
    // A min-heap of (deadline, id), lazy: an entry is pushed only when a
    // client without one gets a deadline; moving or clearing a deadline
    // leaves the entry as it is, and handle_timeout() sorts it out when it
    // comes due. So a client has at most one entry (a departed client's
    // stays until it comes due), and the hot path (output appears, the
    // socket takes some) touches the heap only when a client that has no
    // entry gets a deadline.
    std::vector<std::pair<time_point, client_id>> deadlines_;
    drop_counter drops_;
};

}  // namespace common
