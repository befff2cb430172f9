// An in-process server for one test: bound to an ephemeral port, started
// at once, stopped and joined when the test ends (even when it fails).
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "client.hpp"
#include "common/options.hpp"
#include "variants.hpp"

namespace testing {

inline common::options test_options() {
    common::options o;
    o.port = 0;
    o.threads = 2;
    return o;
}

// For the write deadline's tests: a queue so large that only the deadline
// cuts a client off.
inline common::options deadline_options(std::chrono::milliseconds timeout) {
    auto opts = test_options();
    opts.max_pending = std::size_t{1} << 30;
    opts.write_timeout = timeout;
    return opts;
}

// A reactor's --threads is its number of shards: 1 in its own rows of
// the suite, N in the rows of `with_shards<server, N>` (shards.cmake).
// For a test that runs the executable: the arguments that say as much.
template <class Server>
common::options threads_for(common::options o) {
    if constexpr (requires { Server::shards; }) {
        o.threads = Server::shards;
    } else if constexpr (Server::info.sharded) {
        o.threads = 1;
    }
    return o;
}

template <class Server>
std::vector<std::string> threads_args() {
    if constexpr (requires { Server::shards; }) {
        return {"--threads", std::to_string(Server::shards)};
    }
    return {};
}

template <class Server>
struct running {
    Server server;
    explicit running(const common::options& o = test_options())
        : server(threads_for<Server>(o)) {
        static_assert(common::router_server<Server>);
        server.start();
    }
    std::uint16_t port() const { return server.port(); }
    client connect(bool read_id = true) { return client(port(), read_id); }
};

// Reads `expected` from c and checks it byte for byte.
inline void expect(client& c, std::string_view expected) {
    REQUIRE(c.read_exactly(expected.size()) == expected);
}

// Reads one frame's payload and its 0 from c, and checks them.
inline void expect_frame(client& c, std::string_view payload) {
    expect(c, message(payload));
}

}  // namespace testing
