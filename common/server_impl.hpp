// Definitions for common::server, included only by a variant's server.cpp.
#pragma once

#include <optional>

#include "net.hpp"
#include "server.hpp"

namespace common {

// A variant's router is built on an io_context it does not own, run here
// by --threads threads, or by one for the single-threaded models and for
// the reactors, whose other shards run on threads of their own
// (common/reactor/shards.hpp).
template <class Router, const variant_info& Info>
struct server<Router, Info>::runtime {
    // Declared first, destroyed last: the router's sockets and channels
    // need it, and the coroutines it destroys outlive the router.
    unsigned thread_count;
    asio::io_context ioc;
    io_threads threads;
    std::optional<Router> router;

    explicit runtime(const options& opts)
        : thread_count(Info.multi_threaded ? opts.thread_count() : 1),
          ioc(static_cast<int>(thread_count)) {
        router.emplace(ioc, opts);
    }
};

template <class Router, const variant_info& Info>
server<Router, Info>::server(const options& opts)
    : rt_(std::make_unique<runtime>(opts)), port_(rt_->router->port()) {}

template <class Router, const variant_info& Info>
server<Router, Info>::~server() {
    stop();
}

template <class Router, const variant_info& Info>
void server<Router, Info>::start() {
    rt_->router->start();
    rt_->threads.start(rt_->ioc, rt_->thread_count);
}

template <class Router, const variant_info& Info>
void server<Router, Info>::stop() {
    if (rt_) {
        // The reactors in cluster mode leave the bus first, while their
        // loops still take what its thread hands them
        // (common/reactor/shards.hpp).
        if constexpr (requires { rt_->router->leave(); }) {
            rt_->router->leave();
        }
        rt_->threads.stop();  // no handler runs after this
        // The reactors' other shards run on threads of their own
        // (common/reactor/shards.hpp).
        if constexpr (requires { rt_->router->stop(); }) {
            rt_->router->stop();
        }
        // For bench/compare; the minimal versions (<variant>/minimal.cpp)
        // count nothing.
        if constexpr (requires { rt_->router->copies(); }) {
            rt_->router->copies().report();
        }
        rt_->router.reset();  // tables, channels, acceptor
        rt_.reset();          // suspended coroutines, and their sockets
    }
}

}  // namespace common
