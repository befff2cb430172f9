// What both channel variants (csp, csp_channel_per_writer) do before the
// dispatcher: the messages the tasks send it, the accept loop, the
// admission of a new client (numbered by the dispatcher, which alone knows
// when a client is gone) and the reader that turns a client's bytes into `send`
// messages. Who writes to the clients is each variant's server.cpp; everything
// else is here, written once, so that `diff -u csp/server.cpp
// csp_channel_per_writer/server.cpp` is about who does the writing and nothing
// else.
//
// Why free coroutines and not a base class: docs/02-csp.md.
#pragma once

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "common/counters.hpp"
#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"

namespace common {

// The article's channel capacity: how many messages the readers may get
// ahead of the dispatcher before they wait (back-pressure).
inline constexpr std::size_t inbox_capacity = 100;

// snippet: csp_io-messages
// Whole frames as the destination receives them (payload and its 0), for
// one destination: a reader joins consecutive frames to the same client,
// so a read full of small frames costs one message, not one per frame.
struct parcel {
    client_id dest;
    std::string bytes;
    std::size_t frame_count = 0;  // for the drop count
};

// What the tasks tell the dispatcher: the article's `New` and `Send`, and
// `client_left`, without which the table would only ever grow.
struct send {
    client_id from;
    std::vector<parcel> parcels;  // every complete frame of one read
};
struct new_client {
    tcp::socket socket;     // the write half: whoever writes to the client
    tcp::socket read_half;  // for its reader, started by `welcome`
};
struct client_left {
    client_id id;
    // It ended at end of file and may still read: a half-close (point 7).
    bool eof;
};
using message = std::variant<send, new_client, client_left>;
// snippet-end
// A pitfall of g++ 12: an aggregate brace-initialised inside a co_await
// expression (`co_await ch.async_send(ec, new_client{...})`) is destroyed
// twice. Every message is therefore named before it is sent.

// Readers and the accept loop -> dispatcher. Thread-safe by itself.
using inbox_channel =
    asio::experimental::concurrent_channel<void(error_code, message)>;

// Accepts clients for good (accept_loop in net.hpp, counted in
// `admitted`), each announced to the dispatcher with the halves of its
// socket before the next is accepted.
asio::awaitable<void> accept_clients(tcp::acceptor& acceptor,
                                     admission& admitted,
                                     inbox_channel& inbox);

// The dispatcher's half of admission: numbers the client (`ids` is the
// dispatcher's, given back when it takes the client's `client_left`) and
// starts its reader. Returns the id. `admitted` and `opts` are the
// router's, and outlive the reader's every resumption.
client_id welcome(inbox_channel& inbox,
                  id_pool& ids,
                  new_client& client,
                  admission& admitted,
                  const options& opts);

// Reads the client until it leaves, breaks the protocol or leaves a frame
// unfinished past --frame-timeout: its frames as `send` messages, then one
// `client_left`; then it is no longer counted in `admitted`.
asio::awaitable<void> reader(inbox_channel& inbox,
                             admission& admitted,
                             tcp::socket socket,
                             client_id id,
                             const options& opts);

// Counts every frame of an undeliverable parcel as dropped.
void drop(drop_counter& drops, const parcel& p, client_id from);

}  // namespace common
