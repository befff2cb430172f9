// csp: the article's second model, "CSP-style (Actor model)".
//
// Model: one dispatcher task owns the table of connections; the other
//   tasks never touch it, they send the dispatcher messages over one
//   bounded channel, and the dispatcher writes every frame itself.
// Threads: --threads threads run one io_context. Readers resume on any of
//   them; the dispatcher is one coroutine, so it runs on one at a time.
// Shared state: none but the channel `inbox_` (a concurrent_channel: safe
//   from any thread by itself). The table is a local variable of
//   `dispatcher`, so no other task can even name it, and so are the ids in
//   use.
// A frame's path: reader (common/channels/csp_io.cpp, shared with
//   csp_channel_per_writer) parses it -> a `send` message into `inbox_`
//   -> dispatcher looks up the destination -> writes to its socket, inline.
// Trade-off: no lock, so no deadlock; but while one write waits for a slow
//   reader, the dispatcher takes no other message, and every frame waits
//   (head-of-line blocking: moved from the lock to the dispatcher), until
//   that reader takes the write or --write-timeout cuts it off.
// Compare with: naive_mutex/server.cpp (the lock this replaces) and
//   csp_channel_per_writer/server.cpp (each client gets its own writer,
//   so the dispatcher never waits). Start reading at `dispatcher`; the
//   messages it takes are in common/channels/csp_io.hpp.

#include "csp/server.hpp"

#include <unordered_map>
#include <utility>
#include <variant>

#include "common/channels/csp_io.hpp"
#include "common/counters.hpp"
#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

namespace csp {

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
          inbox_(ioc.get_executor(), inbox_capacity) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    const copy_counter& copies() const { return copies_; }

    void start() {
        const auto ex = acceptor_.get_executor();
        co_spawn(ex, dispatcher(), asio::detached);
        // Ids in accept order: `accept_clients` (common/channels/csp_io.cpp).
        co_spawn(
            ex, accept_clients(acceptor_, admission_, inbox_), asio::detached);
    }

  private:
    using table_type = std::unordered_map<client_id, tcp::socket>;

    // snippet: csp-dispatcher
    // The only task that touches the table, so no lock guards it.
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
                // The id is written before the client joins the table, so
                // no frame can reach the client ahead of it.
                auto [wec, n] = co_await async_write(
                    m->socket, asio::buffer(encode_id(id)), as_tuple);
                if (!wec) {
                    table.emplace(id, std::move(m->socket));
                }
            } else if (auto* m = std::get_if<send>(&msg)) {
                for (auto& p : m->parcels) {
                    copies_.copied(p.bytes.size());  // by the reader
                    co_await deliver(table, m->from, p);
                }
            } else if (auto* m = std::get_if<client_left>(&msg)) {
                // Its frames, to itself too, are written: now it may go.
                table.erase(m->id);  // closes the write half
                ids.give_back(m->id);
            }
        }
    }
    // snippet-end

    // snippet: csp-deliver
    // The dispatcher writes, and waits for the write: while this client's
    // socket buffer is full, no other message is taken from `inbox_`, the
    // readers wait to send, and every client stalls, for up to
    // --write-timeout. That is the lesson.
    awaitable<void> deliver(table_type& table, client_id from, parcel& p) {
        auto it = table.find(p.dest);
        if (it == table.end()) {
            drop(drops_, p, from);
            co_return;
        }
        // A destination that has not taken all of these bytes within
        // --write-timeout is reset, and the write fails.
        const auto ec = co_await write_with_deadline(
            it->second, asio::buffer(p.bytes), p.dest, opts_.write_timeout);
        if (!ec) {
            copies_.delivered(p.bytes.size());
        } else {
            // The destination is gone or going (its reader sees it too and
            // sends `client_left`): drop it now. A second write would never
            // return: after a failed write, Asio's epoll reactor waits for
            // the socket to be reported ready again, and a dead one never is.
            table.erase(it);
        }
    }
    // snippet-end

    const options opts_;
    tcp::acceptor acceptor_;
    admission admission_;  // --max-clients; thread-safe by itself
    inbox_channel inbox_;  // thread-safe by itself
    drop_counter drops_;   // atomic, though only the dispatcher counts
    // Atomic, as drops_. Each frame is copied once, by its reader, from
    // the read buffer into a parcel; the dispatcher counts that copy.
    copy_counter copies_;
};

}  // namespace csp

template class common::server<csp::router, csp::info>;
