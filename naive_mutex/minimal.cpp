// naive_mutex, minimal: the article's "Mutex" model and nothing else.
//
// A coroutine per connection; all share one table of clients (id -> write
// half) behind one lock, held across each forwarding write: the shortest
// correct router, and while one write waits for a slow reader, every other
// frame waits too (head-of-line blocking).
//
// What server.cpp adds (and what breaks without it):
//  - --write-timeout, a deadline on each whole write (so a client that
//    reads a trickle is cut off too): a client that stops reading holds
//    the lock for ever, and with it every other client;
//  - --max-clients and --frame-timeout: clients are taken until the
//    descriptors run out, and one that leaves a frame unfinished holds
//    its buffer for ever;
//  - ids that skip those in use once the 32-bit counter wraps: after 2^32
//    accepts, a newcomer may take a connected client's id;
//  - read_now/wait_readable: each idle connection keeps a read buffer;
//  - drop_counter: a log line per dropped frame, however many;
//  - copies(): bench/compare cannot say what a frame cost;
//  - --deadlock: the article's deadlocking edit, to show it.
// --max-pending, --write-timeout, --max-clients and --frame-timeout are
// accepted and ignored.

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <memory>
#include <unordered_map>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/main.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

// snippet: naive_mutex-minimal
namespace naive_mutex_minimal {

using namespace common;
using asio::awaitable;
constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

inline constexpr variant_info info{
    .name = "naive_mutex_minimal",
    .model =
        "the article's naive_mutex, without server.cpp's hardening: "
        "--max-pending, --write-timeout, --max-clients and --frame-timeout "
        "are ignored",
    .multi_threaded = true,
    .queues = false,
    .demo_flag = {},
    .demo_help = {},
    .minimal = true};

// Asio has no async mutex; a channel with room for one message is one.
// std::mutex would block the thread, not the coroutine, across the write.
class async_mutex {
  public:
    async_mutex(const asio::any_io_executor& ex) : ch_(ex, 1) {}
    auto lock() { return ch_.async_send(error_code{}, as_tuple); }
    void unlock() {
        ch_.try_receive([](error_code) {});
    }

  private:
    asio::experimental::concurrent_channel<void(error_code)> ch_;
};

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : max_frame_(opts.max_frame),
          acceptor_(open_acceptor(ioc, opts)),
          table_lock_(ioc.get_executor()) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        co_spawn(acceptor_.get_executor(), listen(), asio::detached);
    }

  private:
    // Ids in accept order: numbered before any session runs.
    awaitable<void> listen() {
        return accept_loop(acceptor_, [this](tcp::socket r, tcp::socket w) {
            co_spawn(acceptor_.get_executor(),
                     session(std::move(r), std::move(w), next_id_++),
                     asio::detached);
        });
    }

    awaitable<void> session(tcp::socket read_half,
                            tcp::socket write_half,
                            client_id id) {
        auto self = std::make_shared<tcp::socket>(std::move(write_half));
        // The id is written under the lock: no frame can overtake it.
        co_await table_lock_.lock();
        auto [ec, n] =
            co_await async_write(*self, asio::buffer(encode_id(id)), as_tuple);
        if (!ec) {
            table_.emplace(id, self);
        }
        table_lock_.unlock();

        frame_parser parser(max_frame_);
        auto status = frame_parser::status::need_more;
        while (!ec && status != frame_parser::status::too_long) {
            auto space = parser.prepare(read_size);
            std::tie(ec, n) = co_await read_half.async_read_some(
                asio::buffer(space.data(), space.size()), as_tuple);
            parser.commit(n);
            // Every complete frame of the read, not one per read as in the
            // article: the next one might wait for bytes that never come.
            frame f;
            while ((status = parser.next(f)) == frame_parser::status::frame) {
                co_await deliver(f);
            }
        }
        if (status == frame_parser::status::too_long) {
            log_frame_too_long(id, max_frame_);
        }
        co_await table_lock_.lock();
        table_.erase(id);
        table_lock_.unlock();
    }

    // The lock is held across the write: while one destination is slow to
    // read, no other frame from any client moves. That is the lesson.
    awaitable<void> deliver(const frame& f) {
        co_await table_lock_.lock();
        if (auto it = table_.find(f.dest); it == table_.end()) {
            log("frame to unknown id ", f.dest, " dropped");
        } else {
            auto [ec, n] = co_await async_write(
                *it->second, asio::buffer(f.message), as_tuple);
            if (ec) {
                // The destination is leaving (its session sees it too): a
                // second write to a dead socket would never complete.
                table_.erase(it);
            }
        }
        table_lock_.unlock();
    }

    const std::size_t max_frame_;
    tcp::acceptor acceptor_;
    client_id next_id_ = 0;  // owned by the accept loop
    async_mutex table_lock_;
    std::unordered_map<client_id, std::shared_ptr<tcp::socket>> table_;
};

using server = common::server<router, info>;

}  // namespace naive_mutex_minimal

int main(int argc, char** argv) {
    return common::run_main<naive_mutex_minimal::server>(argc, argv);
}
// snippet-end
