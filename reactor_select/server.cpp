// reactor_select: the article's "Race (select)".
//
// Model: a reactor written as one coroutine. Each round it awaits
//   whichever is ready first among the acceptor, the write-deadline timer,
//   every socket's read readiness and every pending writer's write
//   readiness (one race), then handles that one event synchronously, with
//   direct access to the state.
// Threads: one per shard, --threads N of them (default 1): a shard's state
//   needs no lock because only its thread touches it; its inbox is one
//   more wait in the race (common/reactor/shards.hpp).
// Shared state: none is shared. `core_` (the sans-I/O router: parsers,
//   output queues, id table) and `conns_` (the sockets), in the base
//   common::reactor_io, belong to the loop and are mutated directly: no
//   lock, no channel, and since nothing ever waits for a client, no client
//   can hold up another.
// A frame's path: the race is won by the sender's read readiness ->
//   `poll()` -> reactor_io's read(): one large read into the sender's
//   parser -> the core lends each frame to its destination (or queues a
//   copy) -> after the event, reactor_io's flush(): one gathered write per
//   destination.
// Trade-off: the race is rebuilt every round, O(connections) work per
//   event, as with the article's `select_all`.
// Compare with: reactor_handrolled/server.cpp, the same router and the
//   same event handling (common/reactor/reactor_io.hpp: accept, read, flush,
//   write, close), waiting instead with one wait per socket and a list of
//   the ready ones; the diff between the two files is how events are
//   waited for. Start reading at `loop`, then `poll`, then
//   common/reactor/reactor_io.hpp.

#include "reactor_select/server.hpp"

#include <algorithm>
#include <boost/asio.hpp>  // parallel_group.hpp needs it first
#include <boost/asio/experimental/parallel_group.hpp>
#include <span>
#include <utility>
#include <vector>

#include "common/reactor/reactor_io.hpp"
#include "common/server_impl.hpp"

namespace reactor_select {

using namespace common;
using asio::awaitable;
using asio::use_awaitable;
namespace experimental = asio::experimental;

class router : public reactor_io<router> {
  public:
    router(asio::io_context& ioc, const options& opts, shard_ref shard)
        : reactor_io(ioc, opts, shard), unsafe_race_(opts.demo) {}

    void start() { co_spawn(acceptor_.get_executor(), loop(), asio::detached); }

    // snippet: reactor_select-hooks
    // The hooks reactor_io calls (common::reactor_waiter). Nothing to arm
    // ahead: every round's race waits on every socket, the acceptor and the
    // deadline timer anew. The back-off timer stands in for the acceptor
    // in the race.
    void watch_readable(client_id, connection&) {}
    void watch_writable(client_id, connection&) {}
    void watch_acceptor() {}
    void watch_timer() {}
    void watch_inbox() {}
    void resume_reading(client_id, connection&) {}
    void back_off() {
        backing_off_ = true;
        backoff_.expires_after(accept_backoff);
    }
    // snippet-end

  private:
    // snippet: reactor_select-op
    // Asio races operations of one type only, and a wait on the acceptor,
    // on a socket, on a timer and on an inbox are four types: this
    // initiation is any of them (or, with --unsafe-race, a read),
    // completing with (error, bytes read).
    struct wait_for {
        tcp::acceptor* acceptor = nullptr;
        asio::steady_timer* timer = nullptr;
        wake_signal* inbox = nullptr;
        tcp::socket* socket = nullptr;
        tcp::socket::wait_type what = tcp::socket::wait_read;
        std::span<char> read_into;  // --unsafe-race only

        // `append` turns (error) into (error, 0) and keeps the handler's
        // cancellation slot, through which the race cancels the losers.
        template <class Handler>
        void operator()(Handler&& h) const {
            constexpr std::size_t none = 0;
            if (acceptor != nullptr) {
                acceptor->async_wait(what, asio::append(std::move(h), none));
            } else if (timer != nullptr) {
                timer->async_wait(asio::append(std::move(h), none));
            } else if (inbox != nullptr) {
                inbox->async_wait(asio::append(std::move(h), none));
            } else if (!read_into.empty()) {
                socket->async_read_some(
                    asio::buffer(read_into.data(), read_into.size()),
                    std::move(h));
            } else {
                socket->async_wait(what, asio::append(std::move(h), none));
            }
        }
    };
    // snippet-end

    static auto race_op(wait_for w) {
        return asio::async_initiate<const asio::deferred_t,
                                    void(error_code, std::size_t)>(
            std::move(w), asio::deferred);
    }

    struct event {
        enum { accept, timeout, read, write, inbox } what;
        client_id id = 0;
        bool operator==(const event&) const = default;
    };

    // snippet: reactor_select-race
    // How events are waited for: one race per round over everything that
    // may happen next. Three traps, each avoided here:
    //  - Race readiness, never reads. A read that loses the race may
    //    already have taken bytes from its socket (on Linux Asio reads at
    //    once when data is there), and `||` or a group that keeps only
    //    the winner throws them away. A wait consumes nothing: a loser's
    //    socket is still readable next round. (--unsafe-race shows it.)
    //  - A group over an empty range never completes (asio#1375): the
    //    acceptor, its back-off timer or the inbox is always in the race.
    //  - A group is not thread-safe: one thread runs the loop.
    awaitable<void> loop() {
        for (;;) {
            std::vector<event> events{
                {accepts() ? event::accept : event::inbox}};
            if (accepts() && sharded()) {
                events.push_back({event::inbox});
            }
            if (timer_set()) {
                events.push_back({event::timeout});
            }
            for (const auto& [id, c] : conns_) {
                if (!c.ended && !held(id)) {  // at EOF: always readable
                    events.push_back({event::read, id});
                }
                if (c.writing) {
                    events.push_back({event::write, id});
                }
            }
            // Round robin: the list starts after the last winner.
            auto last = std::find(events.begin(), events.end(), last_);
            if (last != events.end()) {
                std::rotate(events.begin(), last + 1, events.end());
            }
            std::vector<decltype(race_op({}))> ops;
            ops.reserve(events.size());
            for (const auto& e : events) {
                ops.push_back(race_op(op_for(e)));
            }
            auto [order, errors, sizes] =
                co_await experimental::make_parallel_group(std::move(ops))
                    .async_wait(experimental::wait_for_one(), use_awaitable);
            // The winner is the first ready event in *our* order, as in the
            // article's select_all, not the first the kernel reported: a
            // socket with fresh data jumps the kernel's queue, and under
            // load the others would wait for seconds. Every wait in the
            // same batch has completed without error: those are ready.
            std::size_t winner = order[0];
            for (std::size_t i = 0; i < events.size(); ++i) {
                if (!errors[i]) {
                    winner = i;
                    break;
                }
            }
            poll(events[winner], errors[winner], sizes[winner]);
        }
    }
    // snippet-end

    wait_for op_for(const event& e) {
        wait_for w;
        if (e.what == event::accept) {
            if (backing_off_) {
                w.timer = &backoff_;
            } else {
                w.acceptor = &acceptor_;
            }
            return w;
        }
        if (e.what == event::timeout || e.what == event::inbox) {
            w.timer = e.what == event::timeout ? &deadline_timer_ : nullptr;
            w.inbox = w.timer ? nullptr : &inbox_signal();
            return w;
        }
        w.socket = &conns_.at(e.id).socket;
        if (e.what == event::write) {
            w.what = tcp::socket::wait_write;
        } else if (unsafe_race_) {
            w.read_into = read_buffer(e.id);
        }
        return w;
    }

    // snippet: reactor_select-poll
    // The round: the one event that won, handled with plain access to the
    // state, then every write it made due.
    void poll(const event& e, const error_code& ec, std::size_t n) {
        last_ = e;
        begin_round();
        switch (e.what) {
            case event::accept:
                backing_off_ = false;
                accept_all();
                break;
            case event::timeout:
                expire();
                break;
            case event::inbox:
                take_mail();
                break;
            case event::read:
                if (!unsafe_race_) {
                    read(e.id, conns_.at(e.id));
                } else {
                    // The winner's bytes are in its parser already; those
                    // of every loser that read too are gone.
                    received(e.id, ec, n);
                }
                break;
            case event::write:
                resume_writing(e.id, conns_.at(e.id));
                break;
        }
        flush();
        arm_timer();
    }
    // snippet-end

    // Owned by the loop's one thread, like reactor_io's, so unguarded.
    bool backing_off_ = false;
    event last_{event::accept};  // the last round's winner
    const bool unsafe_race_;     // --unsafe-race
};

}  // namespace reactor_select

template class common::server<common::shard_set<reactor_select::router>,
                              reactor_select::info>;
