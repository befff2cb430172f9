#include "protocol.hpp"

#include <boost/asio.hpp>

#include "nats_protocol.hpp"
#include "redis_protocol.hpp"
#include "router_protocol.hpp"

namespace loadgen {

std::unique_ptr<protocol> make_protocol(protocol_kind kind) {
    switch (kind) {
        case protocol_kind::redis:
            return std::make_unique<redis_protocol>();
        case protocol_kind::nats:
            return std::make_unique<nats_protocol>();
        case protocol_kind::router:
            break;
    }
    return std::make_unique<router_protocol>();
}

asio::awaitable<std::string> protocol::greet(
    tcp::socket& sock,
    std::string hello,
    std::function<bool(const event&)> ready) const {
    constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);
    const std::string failed = std::string(name()) + " handshake: ";
    std::string in, reply;
    for (;;) {
        if (!hello.empty()) {  // the greeting, then any answer it asks for
            auto [ec, n] =
                co_await asio::async_write(sock, asio::buffer(hello), as_tuple);
            if (ec) {
                co_return failed + ec.message();
            }
        }
        char buf[4096];
        auto [ec, n] =
            co_await sock.async_read_some(asio::buffer(buf), as_tuple);
        if (ec) {
            co_return failed + ec.message();
        }
        in.append(buf, n);
        const char* p = in.data();
        const char* end = p + in.size();
        event e;
        while (next(p, end, e, reply)) {
            if (e.kind == event::server_error) {
                co_return std::string(name()) + ": " + std::string(e.data);
            }
            if (ready(e)) {
                co_return p == end ? ""
                                   : std::string(name()) + ": unexpected data";
            }
        }
        in.erase(0, p - in.data());
        hello = std::move(reply);
        reply.clear();
    }
}

}  // namespace loadgen
