// naive_mutex: the article's first model, "Mutex".
//
// Model: a coroutine per connection; all share one table of clients
//   behind one lock, held across each forwarding write.
// Threads: --threads threads run one io_context; a session may resume on
//   any of them between two awaits.
// Shared state: `table_` (id -> the client's write half), guarded by
//   `table_lock_`, and the ids in use (`ids_`), guarded by the same lock.
// A frame's path: session reads it -> locks the table -> writes it to the
//   destination's socket -> unlocks.
// Trade-off: the shortest correct version, but while one write waits for a
//   slow reader, the lock is held and every other frame waits too
//   (head-of-line blocking), until that reader takes the write or
//   --write-timeout cuts it off. With --deadlock, the article's edit: one
//   more lock per connection, held while its session waits to read, and a
//   client that waits for a frame before it sends one never gets it.
// Compare with: csp/server.cpp, where one dispatcher owns the table and the
//   lock disappears. Start reading at `session`.

#include "naive_mutex/server.hpp"

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <memory>
#include <unordered_map>

#include "common/counters.hpp"
#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

namespace naive_mutex {

using namespace common;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);

// Asio has no async mutex; a channel with room for one message is one
// (Asio's cpp20/channels/mutual_exclusion_1.cpp): `lock` puts the message
// in, waiting while it is full; `unlock` takes it out. A concurrent_channel,
// because sessions run on several threads. Not std::mutex held across a
// co_await: it blocks the thread, not the coroutine (with --threads
// waiters, every thread sleeps in lock() while the owner's write waits for
// a thread to complete on), and the owner may resume on another thread and
// unlock a mutex that thread does not own, which is undefined behaviour.
// snippet: naive_mutex-async-mutex
class async_mutex {
  public:
    async_mutex(const asio::any_io_executor& ex) : ch_(ex, 1) {}
    // An operation, awaited as it is: no coroutine frame per lock.
    auto lock() { return ch_.async_send(error_code{}, idle_wait); }
    void unlock() {
        ch_.try_receive([](error_code) {});
    }

  private:
    asio::experimental::concurrent_channel<void(error_code)> ch_;
};
// snippet-end

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : opts_(opts),
          acceptor_(open_acceptor(ioc, opts)),
          admission_(opts.max_clients),
          table_lock_(ioc.get_executor()) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    const copy_counter& copies() const { return copies_; }

    void start() {
        co_spawn(acceptor_.get_executor(), listen(), asio::detached);
    }

  private:
    // One connected client, as the table holds it. A constructor: Clang
    // before 16 cannot build an aggregate from parentheses, as make_shared.
    struct peer {
        explicit peer(tcp::socket write_half)
            : socket(std::move(write_half)),
              socket_lock(socket.get_executor()) {}
        tcp::socket socket;  // the write half
        // Used by --deadlock only: the article's per-connection lock.
        async_mutex socket_lock;
    };

    // Ids in accept order: numbered before the next accept, under the table
    // lock, since a session gives its id back when it ends (common::id_pool).
    awaitable<void> listen() {
        return accept_loop(
            acceptor_, admission_, [this](tcp::socket read, tcp::socket write) {
                return admit(std::move(read), std::move(write));
            });
    }

    awaitable<void> admit(tcp::socket read_half, tcp::socket write_half) {
        co_await table_lock_.lock();
        const client_id id = ids_.take();
        table_lock_.unlock();
        co_spawn(acceptor_.get_executor(),
                 session(std::move(read_half), std::move(write_half), id),
                 asio::detached);
    }

    awaitable<void> session(tcp::socket read_half,
                            tcp::socket write_half,
                            client_id id) {
        auto self = std::make_shared<peer>(std::move(write_half));
        // snippet: naive_mutex-deadlock
        // The article's deadlocking edit, first half: this client's own
        // lock is held whenever its session waits to read, so a frame for
        // it waits (in `deliver`) until the client sends something. Taken
        // before the id is sent, so a client that knows its id is already
        // locked: the demonstration does not depend on timing.
        if (opts_.demo) {
            co_await self->socket_lock.lock();
        }
        // snippet-end
        // The id is written under the table lock, as in the article, so no
        // frame can reach this client before its id does.
        co_await table_lock_.lock();
        auto [ec, n] = co_await async_write(
            self->socket, asio::buffer(encode_id(id)), as_tuple);
        if (!ec) {
            table_.emplace(id, self);
        }
        table_lock_.unlock();

        frame_parser parser(opts_.max_frame);
        frame_deadline deadline(opts_.frame_timeout);
        read_half.non_blocking(true, ec);  // for read_now (common/net.hpp)
        while (!ec) {
            // Parks once a read finds nothing, not after a short read (as
            // csp_io's reader does): delivering waits for the destinations'
            // writes, and what came meanwhile is read without a wait.
            if (read_now(read_half, parser, ec).n == 0 && !ec) {
                parser.release();
                if (deadline.armed(parser)) {
                    ec = co_await deadline.wait_readable(read_half);
                } else {
                    std::tie(ec) = co_await wait_readable(read_half);
                }
                continue;
            }
            if (opts_.demo) {
                self->socket_lock.unlock();
            }
            // Every complete frame in this read is forwarded now, even at
            // EOF: the article's version forwarded one per read.
            frame f;
            auto status = frame_parser::status::frame;
            bool completed = false;
            while ((status = parser.next(f)) == frame_parser::status::frame) {
                completed = true;
                co_await deliver(id, f);
            }
            if (status == frame_parser::status::too_long) {
                log_frame_too_long(id, opts_.max_frame);
                break;
            }
            deadline.after_read(parser, completed);
            if (opts_.demo && !ec) {
                co_await self->socket_lock.lock();  // for the next read
            }
        }
        reader_ended(read_half, id, ec, opts_.frame_timeout);
        parser = frame_parser(opts_.max_frame);  // its buffer: not held
        co_await table_lock_.lock();             // while this waits
        table_.erase(id);
        ids_.give_back(id);
        table_lock_.unlock();
        admission_.left();
    }

    // snippet: naive_mutex-deliver
    // The lock is held across the write: while one destination is slow to
    // read, no other frame from any client moves, for up to --write-timeout.
    // That is the lesson.
    awaitable<void> deliver(client_id from, const frame& f) {
        co_await table_lock_.lock();
        auto it = table_.find(f.dest);
        if (it == table_.end()) {
            table_lock_.unlock();
            drops_.dropped(f.dest, from);
            co_return;
        }
        const auto dest = it->second;  // alive even if erased meanwhile
        if (opts_.demo) {
            table_lock_.unlock();
            co_await deliver_deadlocking(dest, f);
            co_return;
        }
        // A destination that has not taken this frame within --write-timeout
        // is reset and the write fails: it is leaving, drop it now (its own
        // session sees the end too). Never write again: after a failed
        // write, Asio's epoll reactor waits for the socket to be reported
        // ready again, and a dead one never is.
        const auto ec = co_await write_with_deadline(
            dest->socket, asio::buffer(f.message), f.dest, opts_.write_timeout);
        if (ec) {
            table_.erase(it);
        } else {
            copies_.delivered(f.message.size());
        }
        table_lock_.unlock();
    }
    // snippet-end

    // snippet: naive_mutex-deadlock-write
    // The article's deadlocking edit, second half: the table lock is
    // already released, and the destination's own lock is taken to write.
    // Its session holds that lock while it waits to read, so this waits
    // until the destination's client sends something. A client that waits
    // for a frame before it speaks never gets it; clients that keep
    // sending carry on, and the table lock is free for everyone.
    awaitable<void> deliver_deadlocking(std::shared_ptr<peer> dest,
                                        const frame& f) {
        co_await dest->socket_lock.lock();
        const auto ec = co_await write_with_deadline(
            dest->socket, asio::buffer(f.message), f.dest, opts_.write_timeout);
        dest->socket_lock.unlock();
        if (!ec) {
            copies_.delivered(f.message.size());
        } else {
            co_await table_lock_.lock();
            table_.erase(f.dest);
            table_lock_.unlock();
        }
    }
    // snippet-end

    const options opts_;
    tcp::acceptor acceptor_;
    admission admission_;  // --max-clients; thread-safe by itself
    async_mutex table_lock_;
    std::unordered_map<client_id, std::shared_ptr<peer>> table_;
    id_pool ids_{opts_.id_jump};  // a session's until it ends
    drop_counter drops_;          // atomic: any session may count
    // Atomic, as drops_. Frames go out from the read buffer they came in:
    // delivered, never copied.
    copy_counter copies_;
};

}  // namespace naive_mutex

template class common::server<naive_mutex::router, naive_mutex::info>;
