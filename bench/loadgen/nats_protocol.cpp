#include "nats_protocol.hpp"

#include <boost/asio.hpp>
#include <charconv>
#include <cstring>

namespace loadgen {

namespace {

// The payload size that ends a MSG line ("MSG subj sid [reply] n"), or -1.
long long msg_size(std::string_view line) {
    const auto sp = line.rfind(' ');
    if (sp == std::string_view::npos) {
        return -1;
    }
    long long n = -1;
    const char* b = line.data() + sp + 1;
    const char* e = line.data() + line.size();
    if (std::from_chars(b, e, n).ptr != e) {
        return -1;
    }
    return n;
}

}  // namespace

asio::awaitable<std::string> nats_protocol::handshake(tcp::socket& sock,
                                                      address& self,
                                                      bool subscribe) const {
    std::string hello = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    if (subscribe) {
        hello += "SUB " + self.channel + " 1\r\n";
    }
    hello += "PING\r\n";
    co_return co_await greet(sock, std::move(hello), [](const event& e) {
        return e.kind == event::other && e.data == "PONG";
    });
}

void nats_protocol::begin_frame(std::string& out,
                                const address& to,
                                std::size_t size) const {
    out += "PUB ";
    out += to.channel;
    out += ' ';
    out += std::to_string(size);
    out += "\r\n";
}

bool nats_protocol::next(const char*& p,
                         const char* end,
                         event& e,
                         std::string& reply) const {
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', end - p));
    if (cr == nullptr || cr + 1 >= end) {
        return false;
    }
    const std::string_view line(p, cr - p);
    const char* after = cr + 2;  // past "\r\n"
    if (line.starts_with("MSG ")) {
        const long long n = msg_size(line);
        if (n < 0) {
            e = {event::server_error, line};
        } else if (end - after < n + 2) {
            return false;
        } else {
            e = {event::payload, std::string_view(after, std::size_t(n))};
            after += n + 2;
        }
    } else if (line == "PING") {
        reply += "PONG\r\n";
        e = {event::other, line};
    } else if (line.starts_with("-ERR")) {
        e = {event::server_error, line};
    } else {  // INFO, PONG, +OK
        e = {event::other, line};
    }
    p = after;
    return true;
}

}  // namespace loadgen
