// reactor_handrolled, minimal: the article's hand-rolled future, poll_next,
// and nothing else.
//
// A reactor on one thread. Every socket waits for readiness (it can be
// read, it can take bytes), not for an operation; a wait's handler only
// wakes `poll()`, which does all the accepting, reading, routing and
// writing, without blocking, with plain access to the state: no lock, no
// channel, and no client waits for another. Each round reads once from
// every connection with no read wait armed, then writes to every one with
// output queued and no write wait armed.
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
//  - the ready list: every round sweeps every connection, idle or not;
//  - router_core, sans-I/O (common/reactor/): the rules cannot be tested or
//    fuzzed without sockets, and every frame is copied, never lent;
//  - drop_counter and copies(), as in the other models.
// --max-pending, --write-timeout, --max-clients and --frame-timeout are
// accepted and ignored; --threads does not apply.

#include <map>
#include <string>
#include <utility>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/main.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

// snippet: reactor_handrolled-minimal
namespace reactor_handrolled_minimal {

using namespace common;

inline constexpr variant_info info{
    .name = "reactor_handrolled_minimal",
    .model =
        "the article's reactor_handrolled, without server.cpp's hardening: "
        "--max-pending, --write-timeout, --max-clients and --frame-timeout "
        "are ignored",
    .multi_threaded = false,
    .queues = false,
    .demo_flag = {},
    .demo_help = {},
    .minimal = true};

class router {
  public:
    router(asio::io_context& ioc, const options& opts)
        : max_frame_(opts.max_frame),
          acceptor_(open_acceptor(ioc, opts)),
          backoff_(ioc) {
        acceptor_.non_blocking(true);
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() { wake(); }

  private:
    struct connection {
        connection(tcp::socket s, std::size_t max_frame)
            : socket(std::move(s)), parser(max_frame) {}
        tcp::socket socket;
        frame_parser parser;
        std::string out;       // queued for the client, its id first
        bool reading = false;  // a read wait is armed: nothing to read yet
        bool writing = false;  // a write wait is armed: the socket is full
    };
    using iterator = std::map<client_id, connection>::iterator;

    // The article's poll_next: one round over everything, then idle.
    void poll() {
        woken_ = false;
        if (!accepting_) {
            accept_all();
        }
        for (auto it = conns_.begin(); it != conns_.end();) {
            it = it->second.reading ? std::next(it) : read(it);
        }
        for (auto it = conns_.begin(); it != conns_.end();) {
            const auto& c = it->second;
            it = c.writing || c.out.empty() ? std::next(it) : flush(it);
        }
    }

    // The handler of the acceptor's wait, and of the back-off's.
    auto accept_waker() {
        accepting_ = true;
        return [this](error_code ec) {
            if (ec != asio::error::operation_aborted) {
                accepting_ = false;
                wake();
            }
        };
    }

    void accept_all() {
        for (;;) {
            error_code ec;
            tcp::socket socket = acceptor_.accept(ec);
            if (ec == asio::error::would_block) {
                return acceptor_.async_wait(tcp::acceptor::wait_read,
                                            accept_waker());
            }
            if (ec) {  // out of descriptors, say: retry later, do not spin
                log("accept: ", ec.message());
                backoff_.expires_after(accept_backoff);
                return backoff_.async_wait(accept_waker());
            }
            socket.set_option(tcp::no_delay(true), ec);
            socket.non_blocking(true, ec);
            const auto id = next_id_++;
            auto& c = conns_.try_emplace(id, std::move(socket), max_frame_)
                          .first->second;
            const auto hello = encode_id(id);
            c.out.assign(hello.begin(), hello.end());
        }
    }

    // One read per round, fair to the other clients; at the end of the
    // socket's bytes, the wait is armed again, or the next ones are never
    // noticed (the article's reactor did not re-arm, and stalled).
    iterator read(iterator it) {
        auto& [id, c] = *it;
        error_code ec;
        auto space = c.parser.prepare(read_size);
        const auto n =
            c.socket.read_some(asio::buffer(space.data(), space.size()), ec);
        c.parser.commit(n);
        if (ec == asio::error::would_block) {
            wait(id, c, tcp::socket::wait_read, &connection::reading);
            return std::next(it);
        }
        frame f;
        auto status = frame_parser::status::frame;
        while ((status = c.parser.next(f)) == frame_parser::status::frame) {
            if (auto dest = conns_.find(f.dest); dest != conns_.end()) {
                dest->second.out += f.message;
            } else {
                log("frame to unknown id ", f.dest, " dropped");
            }
        }
        if (status == frame_parser::status::too_long) {
            log_frame_too_long(id, max_frame_);
        } else if (!ec) {
            wake();  // more may be waiting: read again next round
            return std::next(it);
        }
        return conns_.erase(it);  // its queued output goes with it
    }

    iterator flush(iterator it) {
        auto& [id, c] = *it;
        error_code ec;
        c.out.erase(0, c.socket.write_some(asio::buffer(c.out), ec));
        if (ec && ec != asio::error::would_block) {
            return conns_.erase(it);
        }
        if (!c.out.empty()) {
            wait(id, c, tcp::socket::wait_write, &connection::writing);
        }
        return std::next(it);
    }

    // A waker: the handler only clears the flag and schedules a poll().
    void wait(client_id id,
              connection& c,
              tcp::socket::wait_type what,
              bool connection::*armed) {
        c.*armed = true;
        c.socket.async_wait(what, [this, id, armed](error_code ec) {
            auto it = conns_.find(id);
            if (ec != asio::error::operation_aborted && it != conns_.end()) {
                it->second.*armed = false;
                wake();
            }
        });
    }

    // One poll() for however many handlers fire meanwhile.
    void wake() {
        if (!std::exchange(woken_, true)) {
            asio::post(acceptor_.get_executor(), [this] { poll(); });
        }
    }

    // Owned by the loop's one thread, so unguarded.
    const std::size_t max_frame_;
    tcp::acceptor acceptor_;
    asio::steady_timer backoff_;
    std::map<client_id, connection> conns_;
    client_id next_id_ = 0;
    bool accepting_ = false;  // an accept wait (or back-off) is armed
    bool woken_ = false;      // a poll() is posted
};

using server = common::server<router, info>;

}  // namespace reactor_handrolled_minimal

int main(int argc, char** argv) {
    return common::run_main<reactor_handrolled_minimal::server>(argc, argv);
}
// snippet-end
