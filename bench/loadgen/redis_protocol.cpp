#include "redis_protocol.hpp"

#include <boost/asio.hpp>

#include "resp3.hpp"

namespace loadgen {

namespace {

// The kind of a push that is not a message ("subscribe"...), or empty.
std::string_view push_kind(const resp_value& v) {
    return v.type == '>' && v.count > 0 ? v.parts[0] : std::string_view();
}

}  // namespace

asio::awaitable<std::string> redis_protocol::handshake(tcp::socket& sock,
                                                       address& self,
                                                       bool subscribe) const {
    std::string hello = subscribe
                            ? "HELLO 3\r\nSUBSCRIBE " + self.channel + "\r\n"
                            : "PING\r\n";
    // Ready at the push confirming the subscription, or (a client that
    // only publishes) at the answer to its PING.
    co_return co_await greet(
        sock, std::move(hello), [subscribe](const event& e) {
            return !subscribe || e.data == "subscribe";
        });
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
        e = {event::other, push_kind(v)};
    }
    return true;
}

}  // namespace loadgen
