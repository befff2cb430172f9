#include "router_protocol.hpp"

#include <array>
#include <boost/asio.hpp>
#include <cstring>

#include "common/id.hpp"

namespace loadgen {

asio::awaitable<std::string> router_protocol::handshake(tcp::socket& sock,
                                                        address& self,
                                                        bool) const {
    std::array<char, 4> idb;
    auto [ec, n] = co_await asio::async_read(
        sock, asio::buffer(idb), asio::as_tuple(asio::use_awaitable));
    if (ec) {
        co_return "reading the id: " + ec.message();
    }
    self.id = common::decode_id(idb.data());
    co_return "";
}

void router_protocol::begin_frame(std::string& out,
                                  const address& to,
                                  std::size_t) const {
    const auto idb = common::encode_id(to.id);
    out.append(idb.data(), idb.size());
}

bool router_protocol::next(const char*& p,
                           const char* end,
                           event& e,
                           std::string&) const {
    const void* z = std::memchr(p, 0, end - p);
    if (z == nullptr) {
        return false;
    }
    const char* ze = static_cast<const char*>(z);
    e = {event::payload, std::string_view(p, ze - p)};
    p = ze + 1;
    return true;
}

}  // namespace loadgen
