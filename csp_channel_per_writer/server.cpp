// csp_channel_per_writer: the article's "channel per writing half".
//
// Model: one dispatcher task owns the table of connections, as in csp; but
//   it no longer writes: each client has its own bounded channel (its
//   outbox) and writer task, and the dispatcher only hands bytes over.
// Threads: --threads threads run one io_context; the dispatcher and its
//   spilled sends run on one strand, each writer on its client's strand.
// Shared state: the channels (thread-safe by themselves), one atomic byte
//   count per client, and `copies_`. The table and the ids in use are
//   locals of `dispatcher`; a client's socket belongs to its writer's strand.
// A frame's path: reader (common/channels/csp_io.cpp) -> a `send` into
//   `inbox_` -> dispatcher -> the outbox (or a spilled send waiting for
//   room) -> the writer gathers all that is queued into one write.
// Trade-off: a slow client no longer stalls the others, but every queue
//   needs a bound (--max-pending, --write-timeout: past them, a slow
//   consumer is cut off). More tasks, more channels, more lifetimes.
// Compare with: csp/server.cpp, where the dispatcher writes itself. Start
//   reading at `dispatcher`; its messages are in common/channels/csp_io.hpp.

#include "csp_channel_per_writer/server.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "common/channels/csp_io.hpp"
#include "common/counters.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"
#include "csp_channel_per_writer/outbox.hpp"

namespace csp_channel_per_writer {

using namespace common;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);
// The message, named here: the C library's send(2) would hide it.
using common::send;

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : opts_(opts),
          acceptor_(open_acceptor(ioc, opts)),
          admission_(opts.max_clients),
          strand_(asio::make_strand(ioc)),
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    const copy_counter& copies() const { return copies_; }

    void start() {
        co_spawn(strand_, dispatcher(), asio::detached);
        // Ids in accept order: `accept_clients` (common/channels/csp_io.cpp).
        co_spawn(acceptor_.get_executor(),
                 accept_clients(acceptor_, admission_, inbox_),
                 asio::detached);
    }

  private:
    // One client: held by the table, its writer and any spilled send.
    struct peer {
        peer(client_id id, tcp::socket write_half, executor_type ex)
            : id(id),
              strand(asio::make_strand(ex)),
              socket(std::move(write_half)),
              outbox(strand, outbox_capacity) {}

        const client_id id;
        strand_type strand;     // the writer's
        tcp::socket socket;     // used on `strand` only
        outbox_channel outbox;  // dispatcher -> writer, in order
        // Bytes queued for this client (outbox, spilled sends, the write in
        // flight): the dispatcher adds, the writer subtracts, so an atomic.
        // (A message back per write would crowd the readers' inbox.)
        std::atomic<std::size_t> queued{0};
        std::size_t spilled = 0;  // sends not yet in it; dispatcher's only
        backlog_watch backlog;    // against --max-pending; dispatcher's only
    };
    using table_type = std::unordered_map<client_id, std::shared_ptr<peer>>;

    // snippet: csp_channel_per_writer-dispatcher
    // The only task that touches the table, so no lock guards it. It
    // never waits on a client: only on its inbox.
    awaitable<void> dispatcher() {
        table_type table;
        id_pool ids(opts_.id_jump);
        for (;;) {
            auto [ec, msg] = co_await inbox_.async_receive(as_tuple);
            if (ec) {
                co_return;
            }
            if (auto* m = std::get_if<new_client>(&msg)) {
                const auto id = welcome(inbox_, ids, *m, admission_, opts_);
                // Its writer sends the id first: no frame can overtake it.
                auto p = std::make_shared<peer>(
                    id, std::move(m->socket), strand_.get_inner_executor());
                co_spawn(p->strand, writer(p), asio::detached);
                table.emplace(id, std::move(p));
            } else if (auto* m = std::get_if<send>(&msg)) {
                for (auto& p : m->parcels) {
                    copies_.copied(p.bytes.size());  // by the reader
                    deliver(table, m->from, p);
                }
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                ids.give_back(m->id);
                if (auto it = table.find(m->id); it != table.end()) {
                    // After a half-close, what is queued is written first.
                    m->eof ? queue(it->second, {}) : disconnect(it->second);
                    table.erase(it);
                }
            }
        }
    }
    // snippet-end

    // snippet: csp_channel_per_writer-deliver
    // The dispatcher hands the bytes over and moves on: into the outbox if
    // it has room, else into a spilled send. It never waits on a client;
    // a client that falls too far behind is cut off instead.
    void deliver(table_type& table, client_id from, parcel& p) {
        auto it = table.find(p.dest);
        if (it == table.end()) {
            drop(drops_, p, from);
            return;
        }
        peer& dest = *it->second;
        const std::size_t size = p.bytes.size();
        // Past --max-pending for a while only: see common::backlog_watch.
        const auto verdict = dest.backlog.check(
            dest.queued.load(), size, opts_, backlog_watch::clock::now);
        if (verdict != backlog_watch::verdict::take) {
            log("client ", p.dest, ": ", backlog_watch::why(verdict));
            disconnect(it->second);
            table.erase(it);
            drop(drops_, p, from);
            return;
        }
        dest.queued += size;
        queue(it->second, std::move(p.bytes));
    }

    // Not while spilled sends wait: this one would overtake them. try_send
    // moves the bytes only when it succeeds.
    void queue(const std::shared_ptr<peer>& dest, std::string bytes) {
        if (dest->spilled == 0 &&
            dest->outbox.try_send(error_code{}, std::move(bytes))) {
            return;
        }
        ++dest->spilled;
        co_spawn(strand_, spill(dest, std::move(bytes)), asio::detached);
    }
    // snippet-end

    // snippet: csp_channel_per_writer-spill
    // The article's answer to a full outbox: a task per send, waiting for
    // room, on the dispatcher's strand: they reach the outbox in the order
    // they were spawned (a channel serves waiting senders in order), and
    // `spilled` needs no lock. --max-pending bounds what they hold.
    awaitable<void> spill(std::shared_ptr<peer> dest, std::string bytes) {
        co_await dest->outbox.async_send(
            error_code{}, std::move(bytes), as_tuple);
        --dest->spilled;
    }
    // snippet-end

    // snippet: csp_channel_per_writer-writer
    // One writer per client, on the client's strand: it writes the id, then
    // everything queued in one gathered write, one syscall per batch.
    awaitable<void> writer(std::shared_ptr<peer> self) {
        const auto hello = encode_id(self->id);  // first, as in every model
        auto wec = co_await write_with_deadline(
            self->socket, asio::buffer(hello), self->id, opts_.write_timeout);
        std::vector<std::string> batch;
        std::vector<asio::const_buffer> buffers;
        // Empty bytes (no frame's: each has its 0) end the outbox: the
        // client left (a half-close), and this is all it is owed.
        bool end = false;
        auto take = [&](error_code, std::string bytes) {
            end = bytes.empty();                // every send is a success
            batch.push_back(std::move(bytes));  // "": written as nothing
        };
        while (!wec && !end) {
            auto [ec, bytes] = co_await self->outbox.async_receive(idle_wait);
            if (ec) {
                break;  // closed: the client left or was cut off
            }
            take(ec, std::move(bytes));
            while (!end && batch.size() < max_gather &&
                   self->outbox.try_receive(take)) {
            }
            for (const auto& b : batch) {
                buffers.push_back(asio::buffer(b));
            }
            // Its own deadline: only this client waits for it.
            wec = co_await write_with_deadline(
                self->socket, buffers, self->id, opts_.write_timeout);
            const auto size = asio::buffer_size(buffers);
            self->queued -= size;
            if (!wec) {
                copies_.delivered(size);  // from the parcels: no new copy
            }
            batch.clear();
            buffers.clear();
        }
        if (wec && wec != asio::error::timed_out && !is_normal_close(wec)) {
            log("client ", self->id, ": ", wec.message());
        }
        // Wakes the reader, if it still waits: it ends, sends client_left.
        error_code ignored;
        self->socket.shutdown(tcp::socket::shutdown_both, ignored);
        // After a half-close nothing else would: no spilled send may wait
        // for room forever (on the dispatcher's strand: see `disconnect`).
        asio::post(strand_, [self] { close_outbox(self->outbox); });
    }
    // snippet-end

    // Ends a client from the dispatcher's side, whatever its writer is
    // doing; on the dispatcher's strand.
    void disconnect(const std::shared_ptr<peer>& p) {
        close_outbox(p->outbox);  // no spilled send starts meanwhile
        // On the writer's strand, whose socket it is: fails a write in
        // flight, ends the reader, and resets, as every model does.
        asio::post(p->strand, [p] { reset_connection(p->socket); });
    }

    const options opts_;
    tcp::acceptor acceptor_;
    admission admission_;  // --max-clients; thread-safe by itself
    strand_type strand_;   // the dispatcher's
    inbox_channel inbox_;  // thread-safe by itself
    drop_counter drops_;   // atomic, though only the dispatcher counts
    // Atomic: writers count on their strands. A frame is copied once, by
    // its reader into a parcel, then moved (not copied) to its writer.
    copy_counter copies_;
};

}  // namespace csp_channel_per_writer

template class common::server<csp_channel_per_writer::router,
                              csp_channel_per_writer::info>;
