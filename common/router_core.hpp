// The sans-I/O router: the whole routing state and its rules, driven by
// events, with no sockets, no executor and no threads.
//
// The article's closing section: the reactor decides *when* something can
// be done (a socket is readable, writable, a client arrived or left); this
// class decides *what* is done (parse, route, queue, drop, close). Both
// reactors drive it, so their two server.cpp files differ only in how they
// wait for events.
//
// Events in:  connect(), read_buffer() + received(), wrote(), left().
// Events out: take_writers() (who has new output to write),
//             take_closures() (whom to disconnect, and why), output(id).
//
// Guarantees (docs/protocol.md):
//  - ids in accept order from 0, never reused; a client's id is the first
//    thing queued for it, so no frame can overtake it;
//  - every complete frame of a read is routed before received() returns,
//    so a client that leaves after sending loses nothing it completed;
//  - bounded memory: a client's queued output never exceeds max_pending
//    (past it, the client is closed as a slow consumer and its output
//    freed); its parser holds at most one partial frame plus one read.
//
// Not thread-safe, on purpose: one loop owns it and mutates it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "frame_parser.hpp"
#include "id.hpp"
#include "log.hpp"

namespace common {

class router_core {
  public:
    enum class close_reason {
        protocol_error,  // a frame longer than max_frame (point 6)
        slow_consumer,   // more than max_pending bytes queued for it
    };
    struct closure {
        client_id id;
        close_reason why;
    };

    router_core(std::size_t max_frame, std::size_t max_pending);

    // A client connected: its new id, which is already queued for it.
    client_id connect();

    // Bytes arrived from `id`, without a copy: read at most `n` bytes into
    // `read_buffer(id, n)`, then say how many with `received(id, count)`.
    // Every frame they complete is routed at once. An unknown id gets an
    // empty buffer.
    std::span<char> read_buffer(client_id id, std::size_t n);
    void received(client_id id, std::size_t count);
    // The same, copying bytes the caller already holds.
    void received(client_id id, std::string_view bytes);

    // Everything queued for `id`, contiguous, to be written in one go;
    // then `wrote(id, n)` with what the socket took.
    std::string_view output(client_id id) const;
    void wrote(client_id id, std::size_t n);

    // The client left (EOF, error, or closed by its driver). Its complete
    // frames were routed when they arrived; its partial frame and queued
    // output are discarded; its id leaves the table. Unknown ids are
    // ignored, so calling it for a closed client is harmless.
    void left(client_id id);

    // Clients whose output went from empty to not empty since the last
    // call, appended to `out`. A listed client stays the driver's to write
    // until output(id) is empty again: it is not listed twice meanwhile.
    void take_writers(std::vector<client_id>& out);
    // Clients the core has closed since the last call, appended to `out`.
    // They have already left the table (and were logged): the driver only
    // closes their sockets.
    void take_closures(std::vector<closure>& out);

    bool connected(client_id id) const { return clients_.contains(id); }
    std::size_t size() const { return clients_.size(); }
    std::uint64_t drops() const { return drops_.count(); }

  private:
    struct client {
        explicit client(std::size_t max_frame) : parser(max_frame) {}
        frame_parser parser;    // input: the partial frame, if any
        std::vector<char> out;  // output: out[out_begin, size) is queued
        std::size_t out_begin = 0;
        bool closing = false;  // closed while its own frames are routed
    };

    void route(client_id from, client& sender);
    void deliver(client_id from, const frame& f);
    void close(client_id id, client& c, close_reason why);

    std::size_t max_frame_;
    std::size_t max_pending_;
    client_id next_id_ = 0;
    std::unordered_map<client_id, client> clients_;
    std::vector<client_id> writers_;
    std::vector<closure> closures_;
    drop_counter drops_;
};

}  // namespace common
