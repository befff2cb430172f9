// csp_channel_per_writer, minimal: the article's "channel per writing
// half" and nothing else.
//
// One dispatcher task owns the table of clients, as in csp, but no longer
// writes: each client has its own bounded channel (its outbox) and writer
// task, and the dispatcher only hands the bytes over. A send to a full
// outbox goes to a task of its own that waits for room, as the article
// suggests, so the dispatcher never waits on a client; and no later send
// overtakes it, so each client's frames keep their order.
//
// What server.cpp adds (and what breaks without it):
//  - --max-pending, a soft limit with a hard one at 4 times it: for a
//    client that stops reading, the server queues without bound, until
//    memory runs out;
//  - --write-timeout, a deadline on draining what is queued (so a client
//    that reads a trickle is cut off too): such a client is never cut off;
//  - --max-clients and --frame-timeout: clients are taken until the
//    descriptors run out, and one that leaves a frame unfinished holds
//    its buffer for ever;
//  - ids that skip those in use once the 32-bit counter wraps: after 2^32
//    accepts, a newcomer may take a connected client's id;
//  - the half-close (docs/protocol.md, point 7): what a client sent
//    itself is lost if it is still queued at the client's end of file;
//  - gathered writes: a write system call per frame;
//  - parcels (common/channels/): a channel message per frame;
//  - read_now/wait_readable and the devector outbox (outbox.hpp): each
//    idle client keeps a read buffer and an allocated queue;
//  - drop_counter and copies(), as in csp.
// --max-pending, --write-timeout, --max-clients and --frame-timeout are
// accepted and ignored.

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <memory>
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

// snippet: csp_channel_per_writer-minimal
namespace csp_channel_per_writer_minimal {

using namespace common;
using asio::awaitable;
constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

inline constexpr variant_info info{
    .name = "csp_channel_per_writer_minimal",
    .model =
        "the article's csp_channel_per_writer, without server.cpp's hardening: "
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

// The article's capacity, for the inbox and for each outbox.
constexpr std::size_t inbox_capacity = 100;
constexpr std::size_t outbox_capacity = 100;
using outbox_channel =
    asio::experimental::concurrent_channel<void(error_code, std::string)>;

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : max_frame_(opts.max_frame),
          acceptor_(open_acceptor(ioc, opts)),
          strand_(asio::make_strand(ioc)),
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        co_spawn(strand_, dispatcher(), asio::detached);
        co_spawn(acceptor_.get_executor(), listen(), asio::detached);
    }

  private:
    // One client, as the dispatcher, its writer and its spilled sends see it.
    struct peer {
        explicit peer(const asio::any_io_executor& ex)
            : outbox(ex, outbox_capacity) {}
        outbox_channel outbox;    // dispatcher -> writer, in order
        std::size_t spilled = 0;  // sends waiting for room: strand_'s only
    };
    using table_type = std::unordered_map<client_id, std::shared_ptr<peer>>;

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

    // The only task that touches the table. It never waits on a client.
    awaitable<void> dispatcher() {
        table_type table;
        for (;;) {
            auto [ec, msg] = co_await inbox_.async_receive(as_tuple);
            if (ec) {
                co_return;
            }
            if (auto* m = std::get_if<new_client>(&msg)) {
                auto p = std::make_shared<peer>(acceptor_.get_executor());
                co_spawn(acceptor_.get_executor(),
                         writer(std::move(m->socket), m->id, p),
                         asio::detached);
                table.emplace(m->id, std::move(p));
            } else if (auto* m = std::get_if<send>(&msg)) {
                deliver(table, *m);
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                if (auto it = table.find(m->id); it != table.end()) {
                    // cancel() first: Asio 1.26's close() leaves waiting
                    // senders waiting. The writer's next receive fails.
                    it->second->outbox.cancel();
                    it->second->outbox.close();
                    table.erase(it);
                }
            }
        }
    }

    // Into the outbox if it has room and no spilled send waits (this one
    // would overtake it); else into a task that waits for room.
    void deliver(table_type& table, send& m) {
        auto it = table.find(m.dest);
        if (it == table.end()) {
            log("frame to unknown id ", m.dest, " dropped");
            return;
        }
        peer& dest = *it->second;
        // try_send moves the bytes only when it succeeds.
        if (dest.spilled == 0 &&
            dest.outbox.try_send(error_code{}, std::move(m.bytes))) {
            return;
        }
        ++dest.spilled;
        co_spawn(
            strand_, spill(it->second, std::move(m.bytes)), asio::detached);
    }

    // On the dispatcher's strand: spilled sends start in the order they were
    // spawned, and a channel serves its waiting senders in order.
    awaitable<void> spill(std::shared_ptr<peer> dest, std::string bytes) {
        co_await dest->outbox.async_send(
            error_code{}, std::move(bytes), as_tuple);
        --dest->spilled;
    }

    // One writer per client: its id, then every frame, in order. It alone
    // uses the write half.
    awaitable<void> writer(tcp::socket socket,
                           client_id id,
                           std::shared_ptr<peer> self) {
        auto [ec, n] =
            co_await async_write(socket, asio::buffer(encode_id(id)), as_tuple);
        while (!ec) {
            auto [rec, bytes] = co_await self->outbox.async_receive(as_tuple);
            if (rec) {
                break;  // closed: the client left
            }
            std::tie(ec, n) =
                co_await async_write(socket, asio::buffer(bytes), as_tuple);
        }
        // Wakes the reader, if it still waits: it ends, sends client_left.
        socket.shutdown(tcp::socket::shutdown_both, ec);
    }

    const std::size_t max_frame_;
    tcp::acceptor acceptor_;
    client_id next_id_ = 0;  // owned by the accept loop
    asio::strand<asio::io_context::executor_type> strand_;  // dispatcher's
    asio::experimental::concurrent_channel<void(error_code, message)> inbox_;
};

using server = common::server<router, info>;

}  // namespace csp_channel_per_writer_minimal

int main(int argc, char** argv) {
    return common::run_main<csp_channel_per_writer_minimal::server>(argc, argv);
}
// snippet-end
