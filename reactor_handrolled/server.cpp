// reactor_handrolled: the article's hand-rolled future, `poll_next`.
//
// Model: a reactor. Every socket waits for readiness (it can be read, it
//   can take bytes), not for an operation to complete; handlers only note
//   what is ready, and one function, `poll()`, does all the reading,
//   routing and writing, without blocking.
// Threads: one, whatever --threads says: the state needs no lock because
//   only this thread ever touches it.
// Shared state: none is shared. `core_` (the sans-I/O router: parsers,
//   output queues, id table) and `conns_` (the sockets) belong to the loop
//   and are mutated directly: no lock, no channel, and since nothing ever
//   waits for a client, no client can hold up another.
// A frame's path: the sender's socket turns readable -> its handler lists
//   it in `ready_` and wakes `poll()` -> one large read into the sender's
//   parser -> the core queues each frame on its destination's output ->
//   at the end of the round, one write per destination with all of it.
// Compare with: reactor_select/server.cpp, the same router and the same
//   event handling, waiting instead with one race over every socket; the
//   diff between the two files is how events are waited for. Start
//   reading at `poll`.

#include "reactor_handrolled/server.hpp"

#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.hpp"
#include "common/net.hpp"
#include "common/router_core.hpp"
#include "common/server_impl.hpp"

namespace reactor_handrolled {

using namespace common;

// One read takes up to this much: many frames per system call, all routed
// before the next read (the article parsed one frame per read).
constexpr std::size_t read_size = 64 * 1024;

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : acceptor_(open_acceptor(ioc, opts)),
          backoff_(ioc),
          core_(opts.max_frame, opts.max_pending) {
        acceptor_.non_blocking(true);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() { watch_acceptor(); }

  private:
    // One connected client's socket; its input and output live in `core_`.
    struct connection {
        tcp::socket socket;
        bool writing = false;   // output left after a short write
        bool readable = false;  // a read wait fired: read before re-arming
        bool writable = false;  // a write wait fired: write the rest
        bool listed = false;    // in `ready_`, for the next poll()
    };

    // snippet: reactor_handrolled-wakers
    // How events are waited for: one readiness wait per socket and
    // direction. A wait consumes nothing; its handler only notes what is
    // ready, lists the connection and wakes poll(): a waker.
    void wait(client_id id,
              connection& c,
              tcp::socket::wait_type what,
              bool connection::*flag) {
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

    void watch(client_id id, connection& c) {
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

    // snippet: reactor_handrolled-poll
    // The article's poll_next, without its sweep: the work of a round is
    // proportional to the sockets that are ready, listed by their handlers,
    // not to every connected one.
    void poll() {
        woken_ = false;
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
                c.writing = false;
                writers_.push_back(id);
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
                    // idle, or an event is missed. (Its reactor did not,
                    // and a frame split across two reads never arrived.)
                    c.readable = false;
                    watch(id, c);
                    break;
                case progress::closed:
                    break;
            }
        }
        batch_.clear();
        flush();
        // Busy clients left: another round, after the handlers queued
        // meanwhile (new connections, writable sockets) had their turn.
        if (!ready_.empty()) {
            wake();
        }
    }
    // snippet-end

    // What to do once something is ready: the same in both reactors.

    // Accepts every pending connection. A failed accept (EMFILE...) is
    // logged and accepting pauses for `accept_backoff`: a full descriptor
    // table neither crashes the loop nor spins it.
    void accept_all() {
        for (;;) {
            error_code ec;
            tcp::socket socket = acceptor_.accept(ec);
            if (ec == asio::error::would_block) {
                watch_acceptor();
                return;
            }
            if (ec) {
                log_accept_error(ec);
                back_off();
                return;
            }
            socket.non_blocking(true, ec);
            socket.set_option(tcp::no_delay(true), ec);
            const client_id id = core_.connect();  // queues the id
            watch(id, conns_.try_emplace(id, std::move(socket)).first->second);
        }
    }

    enum class progress { more, idle, closed };

    // snippet: reactor_handrolled-read
    // One large read, straight into the sender's parser; the core routes
    // every frame it completes. A short read means the socket is empty, or
    // nearly: if bytes came since, the next wait on it fires at once (Asio
    // re-registers interest with epoll for each wait), so no read is spent
    // on EAGAIN and none is missed. At EOF nothing is lost: frames were
    // routed as they completed (CONTRACT.md, point 7).
    progress read(client_id id, connection& c) {
        auto space = core_.read_buffer(id, read_size);
        if (space.empty()) {
            return progress::closed;  // by the core: flush() closes it
        }
        error_code ec;
        const std::size_t n =
            c.socket.read_some(asio::buffer(space.data(), space.size()), ec);
        if (ec == asio::error::would_block) {
            return progress::idle;
        }
        if (ec) {
            close(id, ec);
            return progress::closed;
        }
        core_.received(id, n);
        return n == space.size() ? progress::more : progress::idle;
    }
    // snippet-end

    // snippet: reactor_handrolled-flush
    // The core's decisions, carried out: the clients it closed (protocol
    // error, slow consumer) lose their sockets; every client with output
    // gets one write of all of it, however many frames that is.
    void flush() {
        core_.take_closures(closures_);
        for (const auto& closed : closures_) {
            if (auto it = conns_.find(closed.id); it != conns_.end()) {
                abort(it->second.socket);
                conns_.erase(it);
            }
        }
        closures_.clear();
        core_.take_writers(writers_);
        for (client_id id : writers_) {
            auto it = conns_.find(id);
            if (it != conns_.end() && !it->second.writing) {
                write(id, it->second);
            }
        }
        writers_.clear();
    }
    // snippet-end

    // Everything queued, in one write. A short write means the socket's
    // buffer is full (another would fail with would_block): wait until it
    // can take more.
    void write(client_id id, connection& c) {
        const std::string_view out = core_.output(id);
        error_code ec;
        std::size_t n = c.socket.write_some(asio::buffer(out), ec);
        if (ec == asio::error::would_block) {
            n = 0;
            ec = {};
        }
        if (ec) {
            close(id, ec);
            return;
        }
        core_.wrote(id, n);
        c.writing = n < out.size();
        if (c.writing) {
            watch_writable(id, c);
        }
    }

    // A reset, not a FIN: what the kernel still holds for the client is
    // discarded too, as the contract wants, and not kept for minutes after
    // close; and a client that never reads learns of it at once (a FIN
    // would wait behind the bytes it does not read). Closed explicitly:
    // Asio's destructor turns lingering off again so as not to block.
    static void abort(tcp::socket& socket) {
        error_code ec;
        socket.set_option(asio::socket_base::linger(true, 0), ec);
        socket.close(ec);
    }

    // An error on one connection ends that connection only. Destroying the
    // socket ends its pending waits with operation_aborted.
    void close(client_id id, const error_code& ec) {
        if (!is_normal_close(ec)) {
            log("client ", id, ": ", ec.message());
        }
        core_.left(id);
        conns_.erase(id);
    }

    // All owned by the loop's one thread, so none needs a guard.
    tcp::acceptor acceptor_;
    asio::steady_timer backoff_;  // after a failed accept
    router_core core_;
    std::unordered_map<client_id, connection> conns_;
    std::vector<client_id> ready_;  // listed by handlers, for next poll()
    std::vector<client_id> batch_;  // the round poll() is working on
    std::vector<client_id> writers_;
    std::vector<router_core::closure> closures_;
    bool accept_ready_ = false;
    bool woken_ = false;  // a poll() is posted
};

}  // namespace reactor_handrolled

template class common::server<reactor_handrolled::router,
                              reactor_handrolled::info>;
