// csp: the article's second model, "CSP-style (Actor model)".
//
// Model: one dispatcher task owns the table of connections; the other
//   tasks never touch it, they send the dispatcher messages over one
//   bounded channel, and the dispatcher writes every frame itself.
// Threads: --threads threads run one io_context. Readers resume on any of
//   them; the dispatcher is one coroutine, so it runs on one at a time.
// Shared state: none but the channel `inbox_` (a concurrent_channel: safe
//   from any thread by itself). The table is a local variable of
//   `dispatcher`, so no other task can even name it. `next_id_` belongs to
//   the accept loop.
// A frame's path: reader parses it -> a `frames` message into `inbox_` ->
//   dispatcher looks up the destination -> writes to its socket, inline.
// Trade-off: no lock, so no deadlock; but while one write waits for a slow
//   reader, the dispatcher takes no other message, and every frame waits
//   (head-of-line blocking: moved from the lock to the dispatcher).
// Compare with: naive_mutex/server.cpp (the lock this replaces) and
//   csp_channel_per_writer/server.cpp (each client gets its own writer,
//   so the dispatcher never waits). Start reading at `dispatcher`.

#include "csp/server.hpp"

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

namespace csp {

using namespace common;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);

// The article's channel capacity: how many messages the readers may get
// ahead of the dispatcher before they wait (back-pressure).
constexpr std::size_t inbox_capacity = 100;
constexpr std::size_t read_size = 64 * 1024;

// snippet: csp-messages
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
struct frames {
    client_id from;
    std::vector<parcel> parcels;  // every complete frame of one read
};
struct new_client {
    client_id id;
    tcp::socket writer;  // the write half: the dispatcher's from now on
};
struct client_left {
    client_id id;
};
using message = std::variant<frames, new_client, client_left>;
// snippet-end
// A pitfall of g++ 12: an aggregate brace-initialised inside a co_await
// expression (`co_await ch.async_send(ec, new_client{...})`) is destroyed
// twice. Every message is therefore named before it is sent.

namespace {
// Moves every complete frame in `parser` into `out`, in order.
frame_parser::status take_frames(frame_parser& parser,
                                 std::vector<parcel>& out) {
    frame f;
    auto status = frame_parser::status::frame;
    while ((status = parser.next(f)) == frame_parser::status::frame) {
        if (out.empty() || out.back().dest != f.dest) {
            out.push_back({f.dest, {}, 0});
        }
        out.back().bytes += f.message;
        ++out.back().frame_count;
    }
    return status;
}
}  // namespace

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : opts_(opts),
          acceptor_(open_acceptor(ioc, opts)),
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        const auto ex = acceptor_.get_executor();
        co_spawn(ex, dispatcher(), asio::detached);
        co_spawn(ex, listen(), asio::detached);
    }

  private:
    using table = std::unordered_map<client_id, tcp::socket>;

    awaitable<void> listen() {
        return accept_loop(acceptor_, [this](tcp::socket socket) {
            return admit(std::move(socket));
        });
    }

    // Ids are given in accept order: the accept loop numbers the client
    // and queues its `new_client` before it accepts the next one, and
    // before the client's reader can queue anything.
    awaitable<void> admit(tcp::socket socket) {
        const client_id id = next_id_++;
        try {
            auto [read_half, write_half] = split(std::move(socket));
            message hello = new_client{id, std::move(write_half)};
            co_await inbox_.async_send(
                error_code{}, std::move(hello), as_tuple);
            co_spawn(acceptor_.get_executor(),
                     reader(std::move(read_half), id),
                     asio::detached);
        } catch (const boost::system::system_error& e) {
            // No descriptor left to dup: this client only is turned away.
            log("client ", id, ": ", e.what(), "; closing it");
        }
    }

    // snippet: csp-reader
    // One message per read: every complete frame in it is sent on, even
    // at EOF. The channel is FIFO for each sender, so this client's frames
    // reach the dispatcher in order, and all of them before its
    // `client_left`: what it sent completely is still forwarded.
    awaitable<void> reader(tcp::socket socket, client_id id) {
        frame_parser parser(opts_.max_frame);
        error_code ec;
        auto status = frame_parser::status::need_more;
        while (!ec && status != frame_parser::status::too_long) {
            auto space = parser.prepare(read_size);
            std::size_t n = 0;
            std::tie(ec, n) = co_await socket.async_read_some(
                asio::buffer(space.data(), space.size()), as_tuple);
            parser.commit(n);
            frames batch{id, {}};
            status = take_frames(parser, batch.parcels);
            if (!batch.parcels.empty()) {
                co_await inbox_.async_send(
                    error_code{}, std::move(batch), as_tuple);
            }
        }
        if (status == frame_parser::status::too_long) {
            log("client ",
                id,
                ": frame longer than --max-frame (",
                opts_.max_frame,
                " bytes), closing it");
        } else if (!is_normal_close(ec)) {
            log("client ", id, ": ", ec.message());
        }
        // Ends the connection now, though the dispatcher's half of the
        // descriptor stays open until it takes `client_left`.
        socket.shutdown(tcp::socket::shutdown_both, ec);
        message bye = client_left{id};
        co_await inbox_.async_send(error_code{}, std::move(bye), as_tuple);
    }
    // snippet-end

    // snippet: csp-dispatcher
    // The only task that touches the table, so no lock guards it.
    awaitable<void> dispatcher() {
        table writers;
        for (;;) {
            auto [ec, msg] = co_await inbox_.async_receive(as_tuple);
            if (ec) {
                co_return;
            }
            if (auto* m = std::get_if<new_client>(&msg)) {
                // The id is written before the client joins the table, so
                // no frame can reach the client ahead of it.
                auto [wec, n] = co_await async_write(
                    m->writer, asio::buffer(encode_id(m->id)), as_tuple);
                if (!wec) {
                    writers.emplace(m->id, std::move(m->writer));
                }
            } else if (auto* m = std::get_if<frames>(&msg)) {
                for (auto& p : m->parcels) {
                    co_await deliver(writers, m->from, p);
                }
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                writers.erase(m->id);  // closes the write half
            }
        }
    }
    // snippet-end

    // snippet: csp-deliver
    // The dispatcher writes, and waits for the write: while this client's
    // socket buffer is full, no other message is taken from `inbox_`, the
    // readers wait to send, and every client stalls. That is the lesson.
    awaitable<void> deliver(table& writers, client_id from, parcel& p) {
        auto it = writers.find(p.dest);
        if (it == writers.end()) {
            drop(p, from);
            co_return;
        }
        auto [ec, n] =
            co_await async_write(it->second, asio::buffer(p.bytes), as_tuple);
        if (ec) {
            // The destination is gone or going (its reader sees it too and
            // sends `client_left`): drop it now. A second write would never
            // return: after a failed write, Asio's epoll reactor waits for
            // the socket to be reported ready again, and a dead one never is.
            writers.erase(it);
        }
    }
    // snippet-end

    void drop(const parcel& p, client_id from) {
        for (std::size_t i = 0; i < p.frame_count; ++i) {
            drops_.dropped(p.dest, from);
        }
    }

    const options opts_;
    tcp::acceptor acceptor_;
    client_id next_id_ = 0;  // owned by the accept loop
    // Readers and the accept loop -> dispatcher. Thread-safe by itself.
    asio::experimental::concurrent_channel<void(error_code, message)> inbox_;
    drop_counter drops_;  // atomic, though only the dispatcher counts
};

}  // namespace csp

template class common::server<csp::router, csp::info>;
