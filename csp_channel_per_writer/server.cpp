// csp_channel_per_writer: the article's "channel per writing half".
//
// Model: one dispatcher task owns the table of connections, as in csp; but
//   it no longer writes: each client has its own bounded channel (its
//   outbox) and writer task, and the dispatcher only hands bytes over.
// Threads: --threads threads run one io_context. Readers resume on any of
//   them; the dispatcher and its spilled sends run on one strand; each
//   writer runs on its client's strand.
// Shared state: the channels (concurrent_channel: safe from any thread by
//   themselves) and, per client, one atomic count of the bytes queued for
//   it. The table is a local variable of `dispatcher`; a client's socket
//   belongs to its writer's strand. `next_id_` belongs to the accept loop.
// A frame's path: reader parses it -> a `frames` message into `inbox_` ->
//   dispatcher looks up the destination -> its outbox (or, when that is
//   full, a spilled send waiting for room) -> its writer gathers all that
//   is queued -> one write to the socket.
// Trade-off: a slow client no longer stalls the others, but every client
//   now has a queue, and a queue needs a bound: past --max-pending bytes,
//   the client is disconnected as a slow consumer. More tasks, more
//   channels, and their lifetimes to get right.
// Compare with: csp/server.cpp, where the dispatcher writes itself; the
//   diff is the lesson. Start reading at `dispatcher`.

#include "csp_channel_per_writer/server.hpp"

#include <atomic>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

namespace csp_channel_per_writer {

using namespace common;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);

// The article's channel capacity: how many messages the readers may get
// ahead of the dispatcher before they wait (back-pressure).
constexpr std::size_t inbox_capacity = 100;
constexpr std::size_t read_size = 64 * 1024;
// The article's capacity for each client's channel too; past it, sends
// spill into tasks (see `spill`), bounded in bytes by --max-pending.
constexpr std::size_t outbox_capacity = 100;
// Asio gathers at most 64 buffers into one writev(2).
constexpr std::size_t max_gather = 64;

// snippet: csp_channel_per_writer-messages
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
    tcp::socket writer;  // the write half: its writer task's from now on
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
          strand_(asio::make_strand(ioc)),
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        co_spawn(strand_, dispatcher(), asio::detached);
        co_spawn(acceptor_.get_executor(), listen(), asio::detached);
    }

  private:
    using outbox_channel =
        asio::experimental::concurrent_channel<void(error_code, std::string)>;

    // One connected client. Held by the table, by its writer, and by any
    // spilled send still waiting for room; freed when the last lets go.
    struct peer {
        peer(client_id id, tcp::socket writer_half)
            : id(id),
              strand(asio::make_strand(writer_half.get_executor())),
              socket(std::move(writer_half)),
              outbox(strand, outbox_capacity) {}

        const client_id id;
        asio::strand<asio::any_io_executor> strand;  // the writer's
        tcp::socket socket;                          // used on `strand` only
        outbox_channel outbox;  // dispatcher -> writer, in order
        // Bytes queued for this client: in the outbox, in spilled sends
        // and in the write in flight. The dispatcher adds, the writer
        // subtracts what it wrote: the one counter two threads touch, so
        // an atomic. (The writer could report back with a message instead,
        // but that would put one message per write into the inbox that
        // every reader shares, and make the writer wait behind them.)
        std::atomic<std::size_t> queued{0};
        // Spilled sends not yet in the outbox: dispatcher's strand only.
        std::size_t spilled = 0;
    };
    using table = std::unordered_map<client_id, std::shared_ptr<peer>>;

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

    // snippet: csp_channel_per_writer-reader
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

    // snippet: csp_channel_per_writer-dispatcher
    // The only task that touches the table, so no lock guards it. It
    // never waits on a client: only on its inbox.
    awaitable<void> dispatcher() {
        table writers;
        for (;;) {
            auto [ec, msg] = co_await inbox_.async_receive(as_tuple);
            if (ec) {
                co_return;
            }
            if (auto* m = std::get_if<new_client>(&msg)) {
                // The id is queued before the client joins the table, so
                // no frame can reach the client ahead of it. A new outbox
                // has room.
                auto p = std::make_shared<peer>(m->id, std::move(m->writer));
                const auto id = encode_id(m->id);
                p->queued += id.size();
                p->outbox.try_send(error_code{},
                                   std::string(id.data(), id.size()));
                co_spawn(p->strand, writer(p), asio::detached);
                writers.emplace(m->id, std::move(p));
            } else if (auto* m = std::get_if<frames>(&msg)) {
                for (auto& p : m->parcels) {
                    deliver(writers, m->from, p);
                }
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                if (auto it = writers.find(m->id); it != writers.end()) {
                    disconnect(it->second);
                    writers.erase(it);
                }
            }
        }
    }
    // snippet-end

    // snippet: csp_channel_per_writer-deliver
    // The dispatcher hands the bytes over and moves on: into the outbox if
    // it has room, else into a spilled send. It never waits on a client;
    // a client that falls too far behind is cut off instead.
    void deliver(table& writers, client_id from, parcel& p) {
        auto it = writers.find(p.dest);
        if (it == writers.end()) {
            drop(p, from);
            return;
        }
        peer& dest = *it->second;
        const std::size_t size = p.bytes.size();
        // A client with nothing queued takes the next parcel whatever its
        // size: --max-pending bounds a backlog, not a frame.
        if (const auto queued = dest.queued.load();
            queued > 0 && queued + size > opts_.max_pending) {
            log("client ",
                p.dest,
                ": more than --max-pending (",
                opts_.max_pending,
                " bytes) queued for it, disconnecting it as a slow consumer");
            disconnect(it->second);
            writers.erase(it);
            drop(p, from);
            return;
        }
        dest.queued += size;
        // Not while spilled sends wait: this one would overtake them.
        // try_send moves the bytes only when it succeeds.
        if (dest.spilled == 0 &&
            dest.outbox.try_send(error_code{}, std::move(p.bytes))) {
            return;
        }
        ++dest.spilled;
        co_spawn(
            strand_, spill(it->second, std::move(p.bytes)), asio::detached);
    }
    // snippet-end

    // snippet: csp_channel_per_writer-spill
    // The article's answer to a full outbox: a task per send, waiting for
    // room. They run on the dispatcher's strand, so they reach the outbox
    // in the order they were spawned (a channel serves waiting senders in
    // order) and `spilled` needs no lock. What they hold counts in
    // `queued`: --max-pending bounds them.
    awaitable<void> spill(std::shared_ptr<peer> dest, std::string bytes) {
        co_await dest->outbox.async_send(
            error_code{}, std::move(bytes), as_tuple);
        --dest->spilled;
    }
    // snippet-end

    // snippet: csp_channel_per_writer-writer
    // One writer per client, on the client's strand: it takes everything
    // queued and writes it in one gathered write, one syscall per batch
    // rather than per frame.
    awaitable<void> writer(std::shared_ptr<peer> self) {
        std::vector<std::string> batch;
        std::vector<asio::const_buffer> buffers;
        auto take = [&batch](error_code ec, std::string bytes) {
            if (!ec) {
                batch.push_back(std::move(bytes));
            }
        };
        for (;;) {
            auto [ec, bytes] = co_await self->outbox.async_receive(as_tuple);
            if (ec) {
                break;  // closed: the client left or was cut off
            }
            batch.push_back(std::move(bytes));
            while (batch.size() < max_gather &&
                   self->outbox.try_receive(take)) {
            }
            std::size_t size = 0;
            for (const auto& b : batch) {
                buffers.push_back(asio::buffer(b));
                size += b.size();
            }
            auto [wec, n] =
                co_await async_write(self->socket, buffers, as_tuple);
            self->queued -= size;
            batch.clear();
            buffers.clear();
            if (wec) {
                if (!is_normal_close(wec)) {
                    log("client ", self->id, ": ", wec.message());
                }
                break;
            }
        }
        // Wakes the reader, if it is still waiting, so that it ends and
        // reports `client_left`.
        error_code ignored;
        self->socket.shutdown(tcp::socket::shutdown_both, ignored);
    }
    // snippet-end

    // Ends a client from the dispatcher's side, whatever its writer is
    // doing; on the dispatcher's strand.
    void disconnect(const std::shared_ptr<peer>& p) {
        // cancel() before close(): Asio 1.81's close() leaves waiting
        // senders waiting, and a cancel() after it takes them for
        // receivers. No spilled send can start in between: they run on
        // this strand too.
        p->outbox.cancel();  // spilled sends fail and free their bytes
        p->outbox.close();   // the writer's next receive fails
        // The socket is the writer's: shut it down on the writer's strand.
        // That fails a write in flight, and ends the reader.
        asio::post(p->strand, [p] {
            error_code ignored;
            p->socket.shutdown(tcp::socket::shutdown_both, ignored);
            p->socket.close(ignored);
        });
    }

    void drop(const parcel& p, client_id from) {
        for (std::size_t i = 0; i < p.frame_count; ++i) {
            drops_.dropped(p.dest, from);
        }
    }

    const options opts_;
    tcp::acceptor acceptor_;
    client_id next_id_ = 0;  // owned by the accept loop
    // The dispatcher and its spilled sends run here.
    asio::strand<asio::io_context::executor_type> strand_;
    // Readers and the accept loop -> dispatcher. Thread-safe by itself.
    asio::experimental::concurrent_channel<void(error_code, message)> inbox_;
    drop_counter drops_;  // atomic, though only the dispatcher counts
};

}  // namespace csp_channel_per_writer

template class common::server<csp_channel_per_writer::router,
                              csp_channel_per_writer::info>;
