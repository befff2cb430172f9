// Debian's nats-server, run by a test: on 127.0.0.1, on a port the kernel
// picks, and ready when the constructor returns (the server says so on
// stderr; no sleep). Killed when the object goes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "process.hpp"

namespace testing {

class nats_server {
  public:
    nats_server();
    std::uint16_t port() const { return port_; }
    // What --cluster takes: nats://127.0.0.1:PORT.
    std::string url() const;

    // The bus dies (SIGKILL): its clients see their connections drop.
    void kill();
    // Started again, on the same port, ready on return.
    void restart();

  private:
    void start(std::uint16_t port);

    std::optional<process> proc_;
    std::uint16_t port_ = 0;
};

}  // namespace testing
