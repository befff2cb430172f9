// Redis 7 pub/sub through the router's interface: each client subscribes
// to its own channel and publishes to its partner's. Subscribed clients
// speak RESP3, so that one connection may both receive and publish.
#pragma once

#include "protocol.hpp"

namespace loadgen {

class redis_protocol final : public protocol {
  public:
    const char* name() const override { return "redis"; }
    asio::awaitable<std::string> handshake(tcp::socket& sock,
                                           address& self,
                                           bool subscribe) const override;
    std::size_t wire_size(std::size_t size) const override { return 40 + size; }
    void begin_frame(std::string& out,
                     const address& to,
                     std::size_t size) const override;
    void end_frame(std::string& out) const override { out += "\r\n"; }
    bool next(const char*& p,
              const char* end,
              event& e,
              std::string& reply) const override;
};

}  // namespace loadgen
