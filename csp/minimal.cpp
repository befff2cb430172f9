// csp, minimal: the article's "CSP-style (Actor model)" and nothing else.
//
// One dispatcher task owns the table of clients (id -> write half); the
// readers never touch it: they send it messages over one bounded channel,
// and it writes every frame itself. No lock, so no deadlock; but while one
// write waits for a slow reader, the dispatcher takes no other message and
// every client stalls (head-of-line blocking).
//
// What server.cpp adds (and what breaks without it):
//  - --write-timeout, a deadline on each whole write (so a client that
//    reads a trickle is cut off too): a client that stops reading stalls
//    the dispatcher for ever, and with it every other client;
//  - --max-clients and --frame-timeout: clients are taken until the
//    descriptors run out, and one that leaves a frame unfinished holds
//    its buffer for ever;
//  - ids that skip those in use once the 32-bit counter wraps: after 2^32
//    accepts, a newcomer may take a connected client's id;
//  - parcels (common/channels/): a channel message per frame;
//  - read_now/wait_readable: each idle connection keeps a read buffer;
//  - drop_counter: a log line per dropped frame, however many;
//  - copies(): bench/compare cannot say what a frame cost.
// --max-pending, --write-timeout, --max-clients and --frame-timeout are
// accepted and ignored.

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <string>
#include <unordered_map>
#include <variant>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/main.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

// snippet: csp-minimal
namespace csp_minimal {

using namespace common;
using asio::awaitable;
constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

inline constexpr variant_info info{
    .name = "csp_minimal",
    .model =
        "the article's csp, without server.cpp's hardening: "
        "--max-pending, --write-timeout, --max-clients and --frame-timeout "
        "are ignored",
    .multi_threaded = true,
    .queues = false,
    .demo_flag = {},
    .demo_help = {},
    .minimal = true};

// What the readers tell the dispatcher: the article's `New` and `Send`, and
// `client_left`, without which the table would only ever grow.
struct new_client {
    client_id id;
    tcp::socket socket;  // the write half
};
struct send {
    client_id dest;
    std::string bytes;  // payload and its 0
};
struct client_left {
    client_id id;
};
using message = std::variant<send, new_client, client_left>;

// The article's capacity: how far the readers may get ahead.
constexpr std::size_t inbox_capacity = 100;

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : max_frame_(opts.max_frame),
          acceptor_(open_acceptor(ioc, opts)),
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        const auto ex = acceptor_.get_executor();
        co_spawn(ex, dispatcher(), asio::detached);
        co_spawn(ex, listen(), asio::detached);
    }

  private:
    using table_type = std::unordered_map<client_id, tcp::socket>;

    awaitable<void> listen() {
        return accept_loop(acceptor_, [this](tcp::socket r, tcp::socket w) {
            co_spawn(acceptor_.get_executor(),
                     reader(std::move(r), std::move(w), next_id_++),
                     asio::detached);
        });
    }

    // Every message is named before it is sent: g++ 12 destroys twice an
    // aggregate built inside a co_await expression.
    awaitable<void> reader(tcp::socket read_half,
                           tcp::socket write_half,
                           client_id id) {
        message msg = new_client{id, std::move(write_half)};
        co_await inbox_.async_send(error_code{}, std::move(msg), as_tuple);
        frame_parser parser(max_frame_);
        auto status = frame_parser::status::need_more;
        error_code ec;
        while (!ec && status != frame_parser::status::too_long) {
            auto space = parser.prepare(read_size);
            std::size_t n = 0;
            std::tie(ec, n) = co_await read_half.async_read_some(
                asio::buffer(space.data(), space.size()), as_tuple);
            parser.commit(n);
            // Every complete frame of the read, not one per read.
            frame f;
            while ((status = parser.next(f)) == frame_parser::status::frame) {
                msg = send{f.dest, std::string(f.message)};
                co_await inbox_.async_send(
                    error_code{}, std::move(msg), as_tuple);
            }
        }
        if (status == frame_parser::status::too_long) {
            log_frame_too_long(id, max_frame_);
        }
        msg = client_left{id};
        co_await inbox_.async_send(error_code{}, std::move(msg), as_tuple);
    }

    // The only task that touches the table, so no lock guards it.
    awaitable<void> dispatcher() {
        table_type table;
        for (;;) {
            auto [ec, msg] = co_await inbox_.async_receive(as_tuple);
            if (ec) {
                co_return;
            }
            if (auto* m = std::get_if<new_client>(&msg)) {
                // The id first, then the table: no frame can overtake it.
                auto [wec, n] = co_await async_write(
                    m->socket, asio::buffer(encode_id(m->id)), as_tuple);
                if (!wec) {
                    table.emplace(m->id, std::move(m->socket));
                }
            } else if (auto* m = std::get_if<send>(&msg)) {
                co_await deliver(table, *m);
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                table.erase(m->id);  // closes the write half
            }
        }
    }

    // The dispatcher waits for the write: while this client's socket buffer
    // is full, no other message moves. That is the lesson.
    awaitable<void> deliver(table_type& table, const send& m) {
        auto it = table.find(m.dest);
        if (it == table.end()) {
            log("frame to unknown id ", m.dest, " dropped");
            co_return;
        }
        auto [ec, n] =
            co_await async_write(it->second, asio::buffer(m.bytes), as_tuple);
        if (ec) {
            // The destination is leaving (its reader sees it too): a second
            // write to a dead socket would never complete.
            table.erase(it);
        }
    }

    const std::size_t max_frame_;
    tcp::acceptor acceptor_;
    client_id next_id_ = 0;  // owned by the accept loop
    asio::experimental::concurrent_channel<void(error_code, message)> inbox_;
};

using server = common::server<router, info>;

}  // namespace csp_minimal

int main(int argc, char** argv) {
    return common::run_main<csp_minimal::server>(argc, argv);
}
// snippet-end
