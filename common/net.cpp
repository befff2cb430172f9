#include "net.hpp"

#include <unistd.h>

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

void log_accept_error(const error_code& ec) {
    log("accept failed: ",
        ec.message(),
        "; retrying in ",
        accept_backoff.count(),
        " ms");
}

std::pair<tcp::socket, tcp::socket> split(tcp::socket socket) {
    const int fd = ::dup(socket.native_handle());
    if (fd < 0) {
        throw boost::system::system_error(
            error_code(errno, boost::system::system_category()), "dup");
    }
    tcp::socket other(socket.get_executor());
    error_code ec;
    other.assign(socket.local_endpoint().protocol(), fd, ec);
    if (ec) {
        ::close(fd);
        throw boost::system::system_error(ec, "assign");
    }
    // Socket options (no-delay, non-blocking) live on the shared file
    // description; Asio's own per-object flags are set on first use.
    return {std::move(socket), std::move(other)};
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
