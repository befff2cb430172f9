// The project's router protocol: the server sends each client its id (4
// bytes, big-endian) on connect; a client sends [dest id][payload][0], the
// server forwards [payload][0].
#pragma once

#include "protocol.hpp"

namespace loadgen {

class router_protocol final : public protocol {
  public:
    const char* name() const override { return "router"; }
    asio::awaitable<std::string> handshake(tcp::socket& sock,
                                           address& self,
                                           bool subscribe) const override;
    std::size_t wire_size(std::size_t size) const override {
        return 4 + size + 1;
    }
    void begin_frame(std::string& out,
                     const address& to,
                     std::size_t size) const override;
    void end_frame(std::string& out) const override { out.push_back('\0'); }
    bool next(const char*& p,
              const char* end,
              event& e,
              std::string& reply) const override;
};

}  // namespace loadgen
