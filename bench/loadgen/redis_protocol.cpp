#include "redis_protocol.hpp"

#include <boost/asio.hpp>

#include "resp3.hpp"

namespace loadgen {

namespace {

constexpr auto as_tuple = asio::as_tuple(asio::use_awaitable);

// What the handshake waits for: the push confirming the subscription, or
// (a client that only publishes) the answer to its PING.
bool ready(const resp_value& v, bool subscribe) {
    if (!subscribe) {
        return true;
    }
    return v.type == '>' && v.count > 0 && v.parts[0] == "subscribe";
}

}  // namespace

asio::awaitable<std::string> redis_protocol::handshake(tcp::socket& sock,
                                                       address& self,
                                                       bool subscribe) const {
    const std::string hello =
        subscribe ? "HELLO 3\r\nSUBSCRIBE " + self.channel + "\r\n"
                  : "PING\r\n";
    auto [ec, n] =
        co_await asio::async_write(sock, asio::buffer(hello), as_tuple);
    if (ec) {
        co_return "redis handshake: " + ec.message();
    }
    std::string in;
    for (;;) {
        char buf[4096];
        auto [ec2, n2] =
            co_await sock.async_read_some(asio::buffer(buf), as_tuple);
        if (ec2) {
            co_return "redis handshake: " + ec2.message();
        }
        in.append(buf, n2);
        const char* p = in.data();
        const char* end = p + in.size();
        resp_value v;
        while (const char* q = resp_parse(p, end, v)) {
            p = q;
            if (v.type == '-') {
                co_return "redis: " + std::string(v.parts[0]);
            }
            if (ready(v, subscribe)) {
                co_return p == end ? "" : "redis: unexpected data";
            }
        }
        in.erase(0, p - in.data());
    }
}

void redis_protocol::begin_frame(std::string& out,
                                 const address& to,
                                 std::size_t size) const {
    const std::string& ch = to.channel;
    out += "*3\r\n$7\r\nPUBLISH\r\n$" + std::to_string(ch.size()) + "\r\n" +
           ch + "\r\n$" + std::to_string(size) + "\r\n";
}

bool redis_protocol::next(const char*& p,
                          const char* end,
                          event& e,
                          std::string&) const {
    resp_value v;
    const char* q = resp_parse(p, end, v);
    if (q == nullptr) {
        return false;
    }
    p = q;
    if (v.type == '>' && v.count == 3 && v.parts[0] == "message") {
        e = {event::payload, v.parts[2]};
    } else if (v.type == '-' || v.type == '!') {
        e = {event::server_error, v.parts[0]};
    } else {
        e = {event::other, {}};
    }
    return true;
}

}  // namespace loadgen
