// What both reactors do once something is ready: accept, read, write and
// close, with the router_core deciding what is routed where. How a reactor
// learns that something is ready is its own server.cpp; everything else is
// here, written once, so that
// `diff -u reactor_handrolled/server.cpp reactor_select/server.cpp` is
// about waiting for events and nothing else.
//
// Owns the acceptor, the back-off timer, the router_core, the one timer
// for the core's earliest write deadline and the connection table. All
// belong to the loop's one thread, so none needs a guard. With --threads N
// it is one shard of N (common/reactor/shards.hpp): it owns the clients
// whose id % N is its index, shard 0 alone accepts, and what the others
// send it (frames, new clients, news of room in their inboxes) comes
// through its inbox, one more event it waits for.
//
// The waiter starts each round with begin_round() (the one clock read of
// the round: every event of the round happens at `now_`) and ends it with
// flush() then arm_timer(); when the deadline timer fires it calls
// expire() before its flush().
//
// Calls back into the waiter, the variant's `router`, for the waiting,
// through the hooks that `reactor_waiter` below names: every waiter defines
// all five (a misspelt one fails to compile instead of never running).
// Why a CRTP base and not virtual hooks: docs/04-reactor-handrolled.md,
// "Three layers".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/options.hpp"
#include "common/reactor/inbox.hpp"
#include "common/reactor/router_core.hpp"
#include "common/reactor/shards.hpp"

namespace common {

// For a waiter that keeps nothing per connection.
struct no_wait_state {};

// snippet: reactor_io-waiter
// What a waiter provides: how to wait. reactor_io calls each hook once it
// is done with a socket, the acceptor or the deadline timer for now:
//   watch_readable(id, c)  a new client, or one whose socket was read dry
//   watch_writable(id, c)  a short write left output behind
//   watch_acceptor()       every pending connection was accepted
//   watch_timer()          the deadline timer was set to a new instant
//   back_off()             an accept failed: pause for `accept_backoff`
//   watch_inbox()          (shards) the inbox was emptied
//   resume_reading(id, c)  (shards) a client held while its frames waited
//                          for room in another shard's inbox may be read
// A waiter that waits anew on everything every round (reactor_select)
// defines the first four and the last to do nothing, and says so.
template <class W, class Connection>
concept reactor_waiter = requires(W& w, client_id id, Connection& c) {
    w.watch_readable(id, c);
    w.watch_writable(id, c);
    w.watch_acceptor();
    w.watch_timer();
    w.back_off();
    w.watch_inbox();
    w.resume_reading(id, c);
};
// snippet-end

template <class Waiter, class WaitState = no_wait_state>
class reactor_io {
  public:
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    // Frame bytes delivered and copied: reported when the server stops.
    const copy_counter& copies() const { return core_.copies(); }

  protected:
    // One connected client's socket; its input and output live in `core_`.
    struct connection : WaitState {
        explicit connection(tcp::socket s) : socket(std::move(s)) {}
        tcp::socket socket;
        bool writing = false;  // output left after a short write
        // Its client's EOF is read: read no more, close it once its output
        // is written (a half-close, docs/protocol.md, point 7).
        bool ended = false;
    };

    // One shard of a group, or the only one (common/reactor/shards.hpp).
    reactor_io(asio::io_context& ioc, const options& opts, shard_ref shard)
        : acceptor_(shard.index == 0 ? open_acceptor(ioc, opts)
                                     : tcp::acceptor(ioc)),
          backoff_(ioc),
          deadline_timer_(ioc),
          shards_(shard),
          admission_(shard.group ? shard.group->clients : own_admission_),
          own_admission_(opts.max_clients),
          core_(
              opts.max_frame,
              opts.max_pending,
              opts.write_timeout,
              router_core::small_frame,
              opts.frame_timeout,
              opts.id_jump,
              {shard.count(), shard.index, !opts.cluster.empty(), opts.node}) {
        static_assert(reactor_waiter<Waiter, connection>,
                      "a reactor's router defines every hook of "
                      "common::reactor_waiter, as public members");
        if (accepts()) {
            acceptor_.non_blocking(true);
        }
    }

    // Shard 0 accepts for all; with one shard, it is the only one.
    bool accepts() const { return shards_.index() == 0; }
    bool sharded() const { return shards_.sharded(); }
    // What a sharded waiter waits on as on a socket (inbox.hpp).
    wake_signal& inbox_signal() { return shards_.inbox().ready(); }
    // Whether `id` is held: not to be read while its frames wait for room.
    bool held(client_id id) const { return sharded() && core_.held(id); }

    // snippet: reactor_io-time
    // The round's one clock read: the core takes time as an argument and
    // never reads a clock, so every event of this round happens at `now_`.
    void begin_round() { now_ = router_core::clock::now(); }

    // After the round: one timer for the core's earliest write deadline,
    // not one per client, set again only when that instant changed.
    void arm_timer() {
        if (!core_.update_timer(timer_at_)) {
            return;
        }
        if (timer_at_) {
            deadline_timer_.expires_at(*timer_at_);  // cancels the pending wait
            waiter().watch_timer();
        } else {
            deadline_timer_.cancel();
        }
    }

    // The timer fired: one last write to each client past its deadline
    // (the kernel says a socket is writable only once a good part of its
    // buffer is free, so a reader may have made room unnoticed: if the
    // socket takes all that was due, the deadline moves), then the core
    // closes whoever is still past it; the flush() that follows closes
    // their sockets.
    void expire() {
        timer_at_.reset();  // fired: arm_timer() must set it again
        core_.poll_expired(now_, expired_);
        for (client_id id : expired_) {
            if (auto it = conns_.find(id); it != conns_.end()) {
                write(id, it->second);
            }
        }
        expired_.clear();
        core_.handle_timeout(now_);
    }
    // snippet-end

    // Accepts every pending connection. A failed accept (EMFILE...) is
    // logged, throttled, and accepting pauses for `accept_backoff`: a full
    // descriptor table neither crashes the loop nor spins it, and the
    // clients not yet taken wait in the listen backlog. Past --max-clients,
    // a newcomer is closed before its id is queued (common/admission.hpp).
    void accept_all() {
        for (;;) {
            error_code ec;
            tcp::socket socket = sharded() ? shards_.accept(acceptor_, ec)
                                           : acceptor_.accept(ec);
            if (ec == asio::error::would_block) {
                waiter().watch_acceptor();
                return;
            }
            if (ec) {
                admission_.not_now("accept", ec);
                waiter().back_off();
                return;
            }
            // A blocking socket would stall the whole loop at its first
            // read: one that cannot be set up is closed, and the client
            // gets no id.
            socket.non_blocking(true, ec);
            if (!ec) {
                socket.set_option(tcp::no_delay(true), ec);
            }
            if (ec) {
                log("accept: ", ec.message(), ", connection closed");
                continue;
            }
            if (!admission_.try_admit()) {
                continue;  // closed as it goes: before its id
            }
            if (sharded()) {
                shards_.hand_over(std::move(socket), [this](auto id, auto s) {
                    adopt(id, std::move(s));
                });
                continue;
            }
            const client_id id = core_.handle_connect(now_);  // queues the id
            waiter().watch_readable(
                id, conns_.try_emplace(id, std::move(socket)).first->second);
        }
    }

    void adopt(client_id id, tcp::socket socket) {
        core_.handle_connect(id, now_);  // queues the id
        waiter().watch_readable(
            id, conns_.try_emplace(id, std::move(socket)).first->second);
    }

    // The inbox's event (common/reactor/shards.hpp, shard_link).
    void take_mail() {
        shards_.take_mail(core_, now_, [this](auto id, auto socket) {
            adopt(id, std::move(socket));
        });
        waiter().watch_inbox();
    }

    enum class progress { more, idle, closed, held };

    // snippet: reactor_io-read
    // One large read, straight into the sender's parser; the core routes
    // every frame it completes. A short read means the socket is empty, or
    // nearly: if bytes came since, the next wait on it fires at once (Asio
    // re-registers interest with epoll for each wait), so no read is spent
    // on EAGAIN and none is missed. At EOF nothing is lost: frames were
    // routed as they completed (docs/protocol.md, point 7).
    progress read(client_id id, connection& c) {
        if (c.ended) {
            return progress::closed;  // its EOF is read: see received()
        }
        if (held(id)) {
            return progress::held;  // resume_reading() once it may be read
        }
        auto space = read_buffer(id);
        if (space.empty()) {
            return progress::closed;  // by the core: flush() closes it
        }
        error_code ec;
        const std::size_t n =
            c.socket.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec == asio::error::would_block) {
            return progress::idle;
        }
        return received(id, ec, n);
    }
    // snippet-end

    // Where a read of `id` goes: the end of its parser's buffer.
    std::span<char> read_buffer(client_id id) {
        return core_.read_buffer(id, read_size);
    }

    // A read into read_buffer(id) ended with `n` bytes: the core routes
    // them. For read(), and for a waiter whose wait is itself a read.
    progress received(client_id id, const error_code& ec, std::size_t n) {
        if (ec == asio::error::eof) {
            // The client may still read (a half-close): the connection
            // ends once its output is written, by this round's flush() or
            // a later one (write()).
            conns_.at(id).ended = true;
            to_flush_.push_back(id);
            return progress::closed;
        }
        if (ec) {
            close(id, ec);
            return progress::closed;
        }
        core_.handle_input(id, n, now_);
        return n == read_size ? progress::more : progress::idle;
    }

    // A write wait fired: the socket can take the rest of the output,
    // which flush() writes.
    void resume_writing(client_id id, connection& c) {
        c.writing = false;
        to_flush_.push_back(id);
    }

    // Whether the deadline timer is set: a waiter that waits anew each
    // round waits on it only then.
    bool timer_set() const { return timer_at_.has_value(); }

    // snippet: reactor_io-flush
    // The core's decisions, carried out: the drops it counted are logged;
    // the clients it closed (protocol error, slow consumer, write
    // deadline) are logged and lose their sockets; every client with new
    // output, or whose socket can take the rest, gets all of it written:
    // one gathered write, however many frames that is (more only past
    // max_gather pieces, see write()).
    //
    // Zero-copy: most of those frames are still in their senders' read
    // buffers, lent by the core, and are written from there; this round's
    // end is what makes that safe (common/reactor/router_core.hpp, "Why the
    // drivers' zero-copy path is safe").
    void flush() {
        poll_close_and_log(core_, closures_);
        for (const auto& closed : closures_) {
            if (auto it = conns_.find(closed.id); it != conns_.end()) {
                reset_connection(it->second.socket);
                conns_.erase(it);
                left(closed.id);
            }
        }
        closures_.clear();
        core_.poll_transmit(to_flush_);
        for (client_id id : to_flush_) {
            auto it = conns_.find(id);
            if (it != conns_.end() && !it->second.writing) {
                write(id, it->second);
            }
        }
        to_flush_.clear();
        if (sharded()) {
            forward();
        }
    }
    // snippet-end

    // The frames for other shards handed over, and the clients no longer
    // held for them resumed (common/reactor/shards.hpp, shard_link); in
    // cluster mode, those for other nodes published on the bus.
    void forward() {
        shards_.forward(core_, [this](client_id id) {
            if (auto it = conns_.find(id); it != conns_.end()) {
                waiter().resume_reading(id, it->second);
            }
        });
        shards_.publish(core_);
    }

    // An error on one connection ends that connection only. Destroying the
    // socket ends its pending waits with operation_aborted.
    void close(client_id id, const error_code& ec) {
        if (!is_normal_close(ec)) {
            log("client ", id, ": ", ec.message());
        }
        core_.handle_disconnect(id);
        if (conns_.erase(id) != 0) {
            left(id);
        }
    }

    // A client's socket is closed: it no longer counts against
    // --max-clients, and its id is free (after a wrap: common/id.hpp).
    void left(client_id id) {
        admission_.left();
        shards_.left(id);
    }

    // All owned by the loop's one thread, so none needs a guard. What a
    // waiter waits on:
    tcp::acceptor acceptor_;
    asio::steady_timer backoff_;         // after a failed accept
    asio::steady_timer deadline_timer_;  // at core_.poll_timeout()
    std::unordered_map<client_id, connection> conns_;

  private:
    Waiter& waiter() { return static_cast<Waiter&>(*this); }

    // What only reactor_io touches:
    shard_link shards_;        // this shard's place among them, if any
    admission& admission_;     // conns_ (all shards'), against --max-clients
    admission own_admission_;  // without shards
    router_core core_;
    std::vector<client_id> to_flush_;  // for flush() to write to
    router_core::time_point now_;      // this round's time
    // When deadline_timer_ fires, or none: it is not waited on.
    std::optional<router_core::time_point> timer_at_;

    // snippet: reactor_io-write
    // Everything waiting, in gathered writes: the frames lent from their
    // senders' buffers, then the queue (one piece: a plain send(), cheaper
    // than sendmsg()). A write takes at most max_gather pieces, so while
    // the socket takes all of them and more is queued, another follows. A
    // short write means the socket's buffer is full (another would fail
    // with would_block): wait until it can take more.
    void write(client_id id, connection& c) {
        std::size_t n = 0;
        std::size_t size = 0;
        do {
            gather_.clear();
            size = 0;
            for (std::string_view piece : core_.output_buffers(id)) {
                gather_.push_back(asio::buffer(piece));
                size += piece.size();
            }
            error_code ec;
            n = gather_.size() == 1 ? c.socket.write_some(gather_[0], ec)
                                    : c.socket.write_some(gather_, ec);
            if (ec == asio::error::would_block) {
                n = 0;
                ec = {};
            }
            if (ec) {
                close(id, ec);
                return;
            }
            core_.handle_written(id, n, now_);  // copies what was not taken
        } while (n == size && core_.pending(id) > 0);
        if (c.ended && n == size) {
            close(id, asio::error::eof);  // owes its client nothing more
            return;
        }
        const bool waiting = c.writing;  // expire()'s write: already is
        c.writing = n < size;
        if (c.writing && !waiting) {
            waiter().watch_writable(id, c);
        }
    }
    // snippet-end

    std::vector<router_core::closure> closures_;
    std::vector<client_id> expired_;          // for expire() to write to
    std::vector<asio::const_buffer> gather_;  // for write() to write
};

}  // namespace common
