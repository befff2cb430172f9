// reactor_select, minimal: the article's "Race (select)" and nothing else.
//
// A reactor written as one coroutine on one thread. Each round it awaits
// whichever is ready first among the acceptor, every socket's read
// readiness and the write readiness of every socket with output queued
// (one race), then handles that one event with plain access to the state:
// no lock, no channel, and no client waits for another. The race is over
// readiness, never over reads: a read that loses may already have taken
// bytes from its socket, and they would be lost with it; a wait that loses
// has consumed nothing.
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
//  - the winner in round-robin order and a flush after every event: a busy
//    socket may win round after round while the others wait;
//  - router_core, sans-I/O (common/reactor/): the rules cannot be tested or
//    fuzzed without sockets, and every frame is copied, never lent;
//  - drop_counter and copies(); --unsafe-race, to show the lost bytes.
// --max-pending, --write-timeout, --max-clients and --frame-timeout are
// accepted and ignored; --threads does not apply.

#include <boost/asio.hpp>  // parallel_group.hpp needs it first
#include <boost/asio/experimental/parallel_group.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/log.hpp"
#include "common/main.hpp"
#include "common/net.hpp"
#include "common/server_impl.hpp"

// snippet: reactor_select-minimal
namespace reactor_select_minimal {

using namespace common;
using asio::awaitable;
namespace experimental = asio::experimental;

inline constexpr variant_info info{
    .name = "reactor_select_minimal",
    .model =
        "the article's reactor_select, without server.cpp's hardening: "
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

    void start() { co_spawn(acceptor_.get_executor(), loop(), asio::detached); }

  private:
    struct connection {
        connection(tcp::socket s, std::size_t max_frame)
            : socket(std::move(s)), parser(max_frame) {}
        tcp::socket socket;
        frame_parser parser;
        std::string out;  // queued for the client, its id first
    };

    // Asio races operations of one type only, and a wait on the acceptor,
    // on a timer and on a socket are three: this initiation is any of them.
    struct wait_for {
        tcp::acceptor* acceptor = nullptr;
        asio::steady_timer* timer = nullptr;
        tcp::socket* socket = nullptr;
        tcp::socket::wait_type what = tcp::socket::wait_read;

        template <class Handler>
        void operator()(Handler&& h) const {
            if (acceptor != nullptr) {
                acceptor->async_wait(what, std::move(h));
            } else if (timer != nullptr) {
                timer->async_wait(std::move(h));
            } else {
                socket->async_wait(what, std::move(h));
            }
        }
    };
    static auto race_op(wait_for w) {
        return asio::async_initiate<const asio::deferred_t, void(error_code)>(
            std::move(w), asio::deferred);
    }

    struct event {
        enum { accept, read, write } what;
        client_id id = 0;
    };

    // One race per round over everything that may happen next. The
    // acceptor (or its back-off timer) is always in it: a group over no
    // operation at all would never complete.
    awaitable<void> loop() {
        for (;;) {
            std::vector<event> events{{event::accept}};
            std::vector<decltype(race_op({}))> ops;
            ops.push_back(race_op(backing_off_ ? wait_for{.timer = &backoff_}
                                               : wait_for{&acceptor_}));
            for (auto& [id, c] : conns_) {
                events.push_back({event::read, id});
                ops.push_back(race_op({.socket = &c.socket}));
                if (!c.out.empty()) {
                    events.push_back({event::write, id});
                    ops.push_back(race_op({.socket = &c.socket,
                                           .what = tcp::socket::wait_write}));
                }
            }
            auto [order, errors] =
                co_await experimental::make_parallel_group(std::move(ops))
                    .async_wait(experimental::wait_for_one(),
                                asio::use_awaitable);
            const event e = events[order[0]];
            if (e.what == event::accept) {
                accept_all();
            } else if (e.what == event::read) {
                read(conns_.find(e.id));
            } else {
                flush(conns_.find(e.id));
            }
        }
    }

    void accept_all() {
        backing_off_ = false;
        for (;;) {
            error_code ec;
            tcp::socket socket = acceptor_.accept(ec);
            if (ec == asio::error::would_block) {
                return;
            }
            if (ec) {  // out of descriptors, say: retry later, do not spin
                log("accept: ", ec.message());
                backing_off_ = true;
                backoff_.expires_after(accept_backoff);
                return;
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

    // The socket is readable: one read, and every frame it completes.
    void read(std::map<client_id, connection>::iterator it) {
        auto& [id, c] = *it;
        error_code ec;
        auto space = c.parser.prepare(read_size);
        const auto n =
            c.socket.read_some(asio::buffer(space.data(), space.size()), ec);
        c.parser.commit(n);
        if (ec == asio::error::would_block) {
            return;
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
            return;
        }
        conns_.erase(it);  // its queued output goes with it
    }

    // The socket can take bytes: as many as it takes.
    void flush(std::map<client_id, connection>::iterator it) {
        auto& c = it->second;
        error_code ec;
        c.out.erase(0, c.socket.write_some(asio::buffer(c.out), ec));
        if (ec && ec != asio::error::would_block) {
            conns_.erase(it);
        }
    }

    // Owned by the loop's one thread, so unguarded.
    const std::size_t max_frame_;
    tcp::acceptor acceptor_;
    asio::steady_timer backoff_;
    bool backing_off_ = false;  // the timer stands in for the acceptor
    std::map<client_id, connection> conns_;
    client_id next_id_ = 0;
};

using server = common::server<router, info>;

}  // namespace reactor_select_minimal

int main(int argc, char** argv) {
    return common::run_main<reactor_select_minimal::server>(argc, argv);
}
// snippet-end
