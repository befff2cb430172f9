// The one interface all five variants implement, so one test suite and one
// main() drive them all in-process.
//
// A variant writes its model as a class `router` in its server.cpp (the
// article's `Router`) and exposes it as `common::server<router, info>`.
// This handle keeps Asio out of the headers the tests include, and gives
// every variant the same lifetime:
//  - the constructor binds and listens (port 0 allowed, `port()` is real at
//    once) and throws on a setup error such as a port in use;
//  - `start()` returns at once; the model runs on its own threads;
//  - `stop()` is idempotent: it stops the io_context and joins its threads,
//    destroys the router (tables, channels, acceptor), then the io_context,
//    which destroys every suspended coroutine and so closes every socket.
//    Hence one rule for every variant: a coroutine's locals must not touch
//    the router when they are destroyed, for it may be gone by then.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>

#include "options.hpp"

namespace common {

template <class S>
concept router_server = requires(S& s, const S& cs, const options& o) {
    { S::info } -> std::convertible_to<const variant_info&>;
    requires std::constructible_from<S, const options&>;
    { cs.port() } -> std::same_as<std::uint16_t>;
    s.start();
    s.stop();
}
&&!std::copyable<S>;

template <class Router, const variant_info& Info>
class server {
  public:
    static constexpr const variant_info& info = Info;

    explicit server(const options& opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    std::uint16_t port() const { return port_; }
    void start();
    void stop();

  private:
    struct runtime;                // io_context, threads, router
    std::unique_ptr<runtime> rt_;  // null once stopped
    std::uint16_t port_;
};

// The reactors' router: --threads N shards of the variant's router
// (common/reactor/shards.hpp).
template <class Shard>
class shard_set;

// The member definitions live in server_impl.hpp: the variant's server.cpp
// includes it and instantiates `template class common::server<...>;` once
// its `router` is complete.

}  // namespace common
