// Watches the server process (--server-pid) and the machine over the
// measured window: the server's CPU time and memory, and the CPU time other
// processes took.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace loadgen {

class server_watch {
  public:
    server_watch(boost::asio::io_context& ioc, int pid);

    void start();  // samples the server's RSS every 100 ms
    void window_start();
    void window_end();
    // The run is over (`ran`: past the connect phase); sampling stops.
    void stop(bool ran);
    // The run was cut off at its deadline, before stop().
    void cut_off();

    int pid() const { return pid_; }
    // The server's CPU seconds in the window; NaN if unknown.
    double cpu_s() const;
    long rss_start_kb() const { return rss_start_kb_; }
    long sampled_peak_rss_kb() const { return peak_rss_kb_; }
    long vmhwm_kb() const { return hwm_kb_; }
    // Cores' worth of CPU that other processes used during the window
    // (including a hypervisor's steal); negative if unknown.
    double others_cores(double window_s) const;

  private:
    void sample();

    boost::asio::steady_timer timer_;
    int pid_;
    bool stopped_ = false;
    double cpu_at_start_ = -1, cpu_at_end_ = -1;
    double busy_at_start_ = -1, busy_at_end_ = -1;
    double self_at_start_ = 0, self_at_end_ = 0;
    long peak_rss_kb_ = -1, rss_start_kb_ = -1, hwm_kb_ = -1;
};

}  // namespace loadgen
