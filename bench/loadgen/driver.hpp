// The run: its phases (connect, warmup, measure, drain), the load the
// paired clients send each other and the check of every frame received.
// Protocol-blind: the server's protocol is behind `protocol`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "config.hpp"
#include "connector.hpp"
#include "hol_probe.hpp"
#include "protocol.hpp"
#include "schedule.hpp"
#include "server_watch.hpp"

namespace loadgen {

class driver {
  public:
    driver(asio::io_context& ioc, config c);

    void start();
    // The deadline the caller enforces with io_context::run_for.
    double hard_deadline() const {
        return cfg_.connect_timeout + cfg_.warmup + cfg_.duration + 5.0;
    }
    bool finished() const { return phase_ == phase::done; }
    std::string json(bool deadline_hit);
    int exit_status() const;

  private:
    enum class phase { connecting, warmup, measure, drain, done };

    void make_clients();
    void pair_by_id();
    void begin_run();
    void open_window();
    std::uint64_t ns_since_start(steady::time_point t) const {
        return std::uint64_t((t - t0_).count());
    }
    // ---- sending
    std::uint64_t allowed(const client& c, steady::time_point now) const;
    void pump(client& c);
    void add_frames(client& c);
    void open_loop_tick();
    // ---- receiving
    void read(client& c);
    void on_data(client& c);
    void on_flooder_data(client& c);
    void check(client& c,
               std::string_view payload,
               std::uint64_t now_ns,
               bool in_window);
    void check_stalls();
    void lost(client& c, const boost::system::error_code& ec);
    // ---- ending
    void end_measure();
    void drain_wait();
    void count_undelivered();
    void drain_slow();
    void finish();

    asio::io_context& ioc_;
    config cfg_;
    std::unique_ptr<protocol> proto_;
    std::vector<std::unique_ptr<client>> clients_;
    std::vector<client*> pairs_;
    std::optional<hol_probe> probe_;  // with --slow-client
    schedule sched_;
    connector connector_;
    server_watch watch_;
    asio::steady_timer timer_, tick_, stall_timer_;
    phase phase_ = phase::connecting;
    steady::time_point t0_, run_start_, measure_start_, measure_end_,
        drain_deadline_;
    tally tally_;
};

}  // namespace loadgen
