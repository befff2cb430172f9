#include "connector.hpp"

#include <boost/asio.hpp>

namespace loadgen {

connector::connector(asio::io_context& ioc,
                     const config& cfg,
                     const protocol& proto,
                     std::vector<std::unique_ptr<client>>& clients)
    : ioc_(ioc), cfg_(cfg), proto_(proto), clients_(clients), deadline_(ioc) {}

void connector::start(std::function<void(bool)> done) {
    done_ = std::move(done);
    t0_ = steady::now();
    for (unsigned i = 0; i < cfg_.connect_parallel; ++i) {
        asio::co_spawn(ioc_, connect_some(), asio::detached);
    }
    deadline_.expires_after(std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(cfg_.connect_timeout)));
    deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            fail("connect phase took longer than " +
                 std::to_string(cfg_.connect_timeout) + " s");
        }
    });
}

asio::awaitable<void> connector::connect_some() {
    while (next_ < clients_.size() && !over_) {
        client& c = *clients_[next_++];
        const std::string err = co_await setup(c);
        if (over_) {
            co_return;
        }
        if (!err.empty() && c.kind != role::idle) {
            fail(err);
            co_return;
        }
        if (!err.empty()) {
            ++result_.idle_failed;
            if (result_.idle_error.empty()) {
                result_.idle_error = err;
            }
            c.sock.close();
        }
        one_done();
    }
}

asio::awaitable<std::string> connector::setup(client& c) {
    const bool partner_side =
        cfg_.partner_port != 0 && c.kind == role::pair && c.index % 2 == 1;
    tcp::endpoint ep(asio::ip::make_address(cfg_.host),
                     partner_side ? cfg_.partner_port : cfg_.port);
    auto [ec] =
        co_await c.sock.async_connect(ep, asio::as_tuple(asio::use_awaitable));
    if (ec) {
        co_return "connect: " + ec.message();
    }
    c.sock.set_option(tcp::no_delay(true), ec);
    const bool subscribe = c.kind == role::pair || c.kind == role::slow;
    co_return co_await proto_.handshake(c.sock, c.addr, subscribe);
}

void connector::fail(const std::string& why) {
    if (over_) {
        return;
    }
    over_ = true;
    result_.failed = why;
    done_(false);
}

void connector::one_done() {
    if (++connected_ < clients_.size()) {
        return;
    }
    over_ = true;
    deadline_.cancel();
    result_.seconds =
        std::chrono::duration<double>(steady::now() - t0_).count();
    done_(true);
}

}  // namespace loadgen
