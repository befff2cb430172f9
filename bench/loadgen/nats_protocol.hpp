// NATS core pub/sub through the router's interface, as Redis: each client
// subscribes to its own subject ("c<index>", the Redis adapter's channel
// names) and publishes to its partner's. Text protocol: the server greets
// with INFO; a client sends CONNECT, SUB <subject> <sid>, PUB <subject> <n>
// and its payload; it receives MSG <subject> <sid> <n> and the payload, and
// must answer the server's PING with PONG.
#pragma once

#include "protocol.hpp"

namespace loadgen {

class nats_protocol final : public protocol {
  public:
    const char* name() const override { return "nats"; }
    // CONNECT, SUB if it subscribes, then PING: the PONG tells that the
    // server has processed the SUB (the protocol is in order).
    asio::awaitable<std::string> handshake(tcp::socket& sock,
                                           address& self,
                                           bool subscribe) const override;
    std::size_t wire_size(std::size_t size) const override { return 20 + size; }
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
