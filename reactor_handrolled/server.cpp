// reactor_handrolled: the article's hand-rolled future, `poll_next`.
//
// Model: a reactor. Every socket waits for readiness (it can be read, it
//   can take bytes), not for an operation to complete, and one timer for
//   the earliest write deadline; handlers only note what is ready, and one
//   function, `poll()`, does all the reading, routing, writing and timing
//   out, without blocking.
// Threads: one per shard, --threads N of them (default 1): a shard's state
//   needs no lock because only its thread touches it; its inbox is one
//   more socket-like wait (common/reactor/shards.hpp).
// Shared state: none is shared. `core_` (the sans-I/O router: parsers,
//   output queues, id table) and `conns_` (the sockets), in the base
//   common::reactor_io, belong to the loop and are mutated directly: no
//   lock, no channel, and since nothing ever waits for a client, no client
//   can hold up another.
// A frame's path: the sender's socket turns readable -> its handler lists
//   it in `ready_` and wakes `poll()` -> reactor_io's read(): one large
//   read into the sender's parser -> the core lends each frame to its
//   destination (or queues a copy) -> at the end of the round, reactor_io's
//   flush(): one gathered write per destination with all of it.
// Trade-off: what the runtime did for the tasks is the code's job now:
//   re-arming every wait (miss one and an event is lost), fairness between
//   busy clients, and the one core it runs on.
// Compare with: reactor_select/server.cpp, the same router and the same
//   event handling (common/reactor/reactor_io.hpp: accept, read, flush, write,
//   close), waiting instead with one race over every socket; the diff
//   between the two files is how events are waited for. Start reading at
//   `poll`, then common/reactor/reactor_io.hpp.

#include "reactor_handrolled/server.hpp"

#include <utility>
#include <vector>

#include "common/reactor/reactor_io.hpp"
#include "common/server_impl.hpp"

namespace reactor_handrolled {

using namespace common;

// What a handler notes on its connection, for poll() to act on.
struct wait_state {
    bool readable = false;  // a read wait fired: read before re-arming
    bool writable = false;  // a write wait fired: write the rest
    bool listed = false;    // in `ready_`, for the next poll()
};

class router : public reactor_io<router, wait_state> {
  public:
    router(asio::io_context& ioc, const options& opts, shard_ref shard)
        : reactor_io(ioc, opts, shard) {}

    void start() {
        if (accepts()) {
            watch_acceptor();
        }
        if (sharded()) {
            watch_inbox();
        }
    }

    // snippet: reactor_handrolled-hooks
    // The hooks reactor_io calls (common::reactor_waiter) once it is done
    // with a socket, the acceptor or the timer for now: the wait armed
    // again, for a later poll().
    void watch_readable(client_id id, connection& c) {
        wait(id, c, tcp::socket::wait_read, &connection::readable);
    }

    // Only while output is pending: a socket can almost always take bytes,
    // so an unconditional write wait would wake the loop forever.
    void watch_writable(client_id id, connection& c) {
        wait(id, c, tcp::socket::wait_write, &connection::writable);
    }

    void watch_acceptor() {
        acceptor_.async_wait(tcp::acceptor::wait_read, [this](error_code ec) {
            if (ec != asio::error::operation_aborted) {
                accept_ready_ = true;
                wake();
            }
        });
    }

    void back_off() {
        backoff_.expires_after(accept_backoff);
        backoff_.async_wait([this](error_code ec) {
            if (!ec) {
                accept_ready_ = true;
                wake();
            }
        });
    }

    // The deadline timer was set (which aborted its previous wait).
    void watch_timer() {
        deadline_timer_.async_wait([this](error_code ec) {
            if (!ec) {
                timer_fired_ = true;
                wake();
            }
        });
    }

    // Shards: the inbox is one more descriptor to wait on, as a socket is.
    void watch_inbox() {
        inbox_signal().async_wait([this](error_code ec) {
            if (!ec) {
                mail_ready_ = true;
                wake();
            }
        });
    }

    // Its read wait fired while it was held: read it next round.
    void resume_reading(client_id id, connection& c) {
        if (c.readable && !std::exchange(c.listed, true)) {
            ready_.push_back(id);
        }
    }
    // snippet-end

  private:
    // snippet: reactor_handrolled-wakers
    // How events are waited for: one readiness wait per socket and
    // direction. A wait consumes nothing; its handler only notes what is
    // ready, lists the connection and wakes poll(): a waker.
    void wait(client_id id,
              connection& c,
              tcp::socket::wait_type what,
              bool wait_state::*flag) {
        c.socket.async_wait(what, [this, id, flag](error_code ec) {
            auto it = conns_.find(id);
            if (ec == asio::error::operation_aborted || it == conns_.end()) {
                return;  // closed meanwhile
            }
            connection& conn = it->second;
            conn.*flag = true;
            if (!std::exchange(conn.listed, true)) {
                ready_.push_back(id);
            }
            wake();
        });
    }

    // One poll() for however many handlers fire: it is posted, so every
    // handler already queued notes its readiness before it runs.
    void wake() {
        if (!std::exchange(woken_, true)) {
            asio::post(acceptor_.get_executor(), [this] { poll(); });
        }
    }
    // snippet-end

    // snippet: reactor_handrolled-poll
    // The article's poll_next, without its sweep: the work of a round is
    // proportional to the sockets that are ready, listed by their handlers,
    // not to every connected one.
    void poll() {
        woken_ = false;
        begin_round();
        if (std::exchange(timer_fired_, false)) {
            expire();
        }
        if (std::exchange(mail_ready_, false)) {
            take_mail();
        }
        if (std::exchange(accept_ready_, false)) {
            accept_all();
        }
        std::swap(ready_, batch_);
        for (client_id id : batch_) {
            auto it = conns_.find(id);
            if (it == conns_.end()) {
                continue;
            }
            connection& c = it->second;
            c.listed = false;
            if (std::exchange(c.writable, false)) {
                resume_writing(id, c);
            }
            if (!c.readable) {
                continue;
            }
            switch (read(id, c)) {
                case progress::more:
                    // Fair to the other busy clients: one read each per
                    // round; this one is already listed for the next.
                    c.listed = true;
                    ready_.push_back(id);
                    break;
                case progress::idle:
                    // The article's rule: re-arm every wait before going
                    // idle, or an event is missed. (The article's reactor
                    // does not: the rest of a split frame wakes nothing.)
                    c.readable = false;
                    watch_readable(id, c);
                    break;
                case progress::closed:
                case progress::held:  // resume_reading() lists it again
                    break;
            }
        }
        batch_.clear();
        flush();
        arm_timer();
        // Busy clients left: another round, after the handlers queued
        // meanwhile (new connections, writable sockets) had their turn.
        if (!ready_.empty()) {
            wake();
        }
    }
    // snippet-end

    // Owned by the loop's one thread, like reactor_io's, so unguarded.
    std::vector<client_id> ready_;  // listed by handlers, for next poll()
    std::vector<client_id> batch_;  // the round poll() is working on
    bool accept_ready_ = false;
    bool timer_fired_ = false;
    bool mail_ready_ = false;  // the inbox's wait fired
    bool woken_ = false;       // a poll() is posted
};

}  // namespace reactor_handrolled

template class common::server<common::shard_set<reactor_handrolled::router>,
                              reactor_handrolled::info>;
