#include "net.hpp"

#include <unistd.h>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <stdexcept>

#include "log.hpp"

namespace common {

asio::ip::address bind_address(const options& opts) {
    error_code ec;
    auto address = asio::ip::make_address(opts.bind, ec);
    if (!ec) {
        return address;
    }
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    const auto results =
        resolver.resolve(opts.bind, "", tcp::resolver::passive, ec);
    if (ec || results.empty()) {
        throw std::runtime_error(
            "cannot listen on " + opts.bind + ":" + std::to_string(opts.port) +
            ": cannot resolve: " + (ec ? ec.message() : "no address"));
    }
    return results.begin()->endpoint().address();
}

std::string listening_line(const asio::ip::address& address,
                           std::uint16_t port) {
    const bool v6 = address.is_v6();
    return "listening on " + std::string(v6 ? "[" : "") + address.to_string() +
           (v6 ? "]:" : ":") + std::to_string(port);
}

tcp::acceptor open_acceptor(asio::io_context& ioc, const options& opts) {
    const tcp::endpoint endpoint(bind_address(opts), opts.port);
    const std::string where = opts.bind + ":" + std::to_string(opts.port);
    error_code ec;
    tcp::acceptor acceptor(ioc);
    auto fail = [&](const char* what) {
        throw std::runtime_error("cannot listen on " + where + ": " + what +
                                 ": " + ec.message());
    };
    acceptor.open(endpoint.protocol(), ec);
    if (ec) {
        fail("socket");
    }
    // So that a restarted server can bind while old connections linger in
    // TIME_WAIT; it does not let two servers share a live port.
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
    if (ec) {
        fail("bind");
    }
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        fail("listen");
    }
    return acceptor;
}

bool is_normal_close(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::operation_aborted ||
           ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor;
}

void reader_ended(tcp::socket& socket,
                  client_id id,
                  const error_code& ec,
                  std::chrono::milliseconds frame_timeout) {
    if (ec == asio::error::timed_out) {
        log_frame_timeout(id, frame_timeout.count());
        reset_connection(socket);
    } else if (ec && !is_normal_close(ec)) {
        log("client ", id, ": ", ec.message());
    }
}

tcp::socket dup_socket(tcp::socket& socket, error_code& ec) {
    tcp::socket other(socket.get_executor());
    const int fd = ::dup(socket.native_handle());
    if (fd < 0) {
        ec = error_code(errno, boost::system::system_category());
        return other;
    }
    other.assign(socket.local_endpoint().protocol(), fd, ec);
    if (ec) {
        ::close(fd);
    }
    // Socket options (no-delay, non-blocking) live on the shared file
    // description; Asio's own per-object flags are set on first use.
    return other;
}

asio::awaitable<error_code> frame_deadline::wait_readable(tcp::socket& socket) {
    using namespace asio::experimental;
    const auto start = std::chrono::steady_clock::now();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(left_);
    auto [order, wait_ec, timer_ec] =
        co_await make_parallel_group(
            socket.async_wait(tcp::socket::wait_read, asio::deferred),
            timer.async_wait(asio::deferred))
            .async_wait(wait_for_one(), asio::use_awaitable);
    left_ -= std::chrono::steady_clock::now() - start;
    if (order[0] == 1) {
        co_return asio::error::timed_out;
    }
    co_return wait_ec;
}

namespace {

// Drops the first n bytes of `buffers`.
void consume(std::vector<asio::const_buffer>& buffers, std::size_t n) {
    auto it = buffers.begin();
    for (; it != buffers.end() && n >= it->size(); ++it) {
        n -= it->size();
    }
    it = buffers.erase(buffers.begin(), it);
    if (it != buffers.end()) {
        *it += n;
    }
}

}  // namespace

// snippet: net-write_with_deadline-loop
asio::awaitable<error_code> write_with_deadline(
    tcp::socket& socket,
    std::vector<asio::const_buffer> buffers,
    client_id dest,
    std::chrono::milliseconds timeout) {
    using namespace asio::experimental;
    if (timeout.count() == 0) {
        auto [ec, n] = co_await asio::async_write(
            socket, buffers, asio::as_tuple(asio::use_awaitable));
        co_return ec;
    }
    // Most writes fit in the kernel's buffer at once: try that first,
    // without a timer, for a timer set and cancelled around every write,
    // and the wait on two operations, would cost more than a small write
    // itself. The socket's own non-blocking mode makes write_some return
    // would_block rather than wait; its asynchronous operations are
    // unaffected.
    error_code ec;
    if (!socket.non_blocking()) {
        socket.non_blocking(true, ec);
    }
    consume(buffers, socket.write_some(buffers, ec));
    if (ec && ec != asio::error::would_block) {
        co_return ec;
    }
    if (buffers.empty()) {
        co_return error_code{};
    }
    // The rest, racing one timer at the deadline (from now: the write
    // above did not wait): whichever completes first cancels the other.
    asio::steady_timer check(co_await asio::this_coro::executor, timeout);
    auto [order, write_ec, n, check_ec] =
        co_await make_parallel_group(
            asio::async_write(socket, buffers, asio::deferred),
            check.async_wait(asio::deferred))
            .async_wait(wait_for_one(), asio::use_awaitable);
    if (order[0] == 0 || !write_ec) {
        co_return write_ec;  // done, or failed; or done as the timer fired
    }
    log("client ",
        dest,
        ": did not take a write within --write-timeout (",
        timeout.count(),
        " ms), disconnecting it as a slow consumer");
    reset_connection(socket);
    co_return asio::error::timed_out;
}
// snippet-end

asio::awaitable<error_code> write_with_deadline(
    tcp::socket& socket,
    asio::const_buffer bytes,
    client_id dest,
    std::chrono::milliseconds timeout) {
    return write_with_deadline(
        socket, std::vector<asio::const_buffer>{bytes}, dest, timeout);
}

void reset_connection(tcp::socket& socket) {
    error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.shutdown(tcp::socket::shutdown_receive, ignored);
    // Now, not in the destructor: Asio's destructor turns SO_LINGER back
    // off (a destructor must not block), and the end would be a FIN again.
    socket.close(ignored);
}

void io_threads::start(asio::io_context& ioc, unsigned count) {
    ioc_ = &ioc;
    for (unsigned i = 0; i < count; ++i) {
        threads_.emplace_back([&ioc] {
            for (;;) {
                try {
                    ioc.run();
                    return;
                } catch (const std::exception& e) {
                    log("unexpected exception in an event loop thread: ",
                        e.what());
                }
            }
        });
    }
}

void io_threads::stop() {
    if (ioc_ != nullptr) {
        ioc_->stop();
    }
    for (auto& t : threads_) {
        t.join();
    }
    threads_.clear();
}

}  // namespace common
