// The connect phase: every client connects and does its handshake, a
// bounded number at a time, within a deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "client.hpp"
#include "config.hpp"
#include "protocol.hpp"

namespace loadgen {

class connector {
  public:
    connector(asio::io_context& ioc,
              const config& cfg,
              const protocol& proto,
              std::vector<std::unique_ptr<client>>& clients);

    // Connects every client; then calls done(true), or done(false) at the
    // first failure of a client that is not idle (an idle one's failure is
    // counted: the run measures what was held), or at the deadline.
    void start(std::function<void(bool)> done);

    const connect_result& result() const { return result_; }

  private:
    asio::awaitable<void> connect_some();
    asio::awaitable<std::string> setup(client& c);
    void fail(const std::string& why);
    void one_done();

    asio::io_context& ioc_;
    const config& cfg_;
    const protocol& proto_;
    std::vector<std::unique_ptr<client>>& clients_;
    asio::steady_timer deadline_;
    std::function<void(bool)> done_;
    std::size_t next_ = 0, connected_ = 0;
    steady::time_point t0_;
    bool over_ = false;
    connect_result result_;
};

}  // namespace loadgen
