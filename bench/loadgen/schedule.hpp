// The open loop's schedule: frame k of a client is due at k / rate, the
// clients' schedules spread over one interval, so they do not all send in
// the same instant (a burst the load generator itself would queue).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace loadgen {

class schedule {
  public:
    schedule(double rate, std::size_t clients)
        : per_client_rate_(rate / double(clients)), clients_(clients) {
        if (rate > 0) {
            tick_ns_ =
                std::max<std::uint64_t>(tick_ns_, std::uint64_t(1e9 / rate));
        }
    }

    // Frames client `index` may have sent by `t` s after the run started:
    // frame 0 at once.
    std::uint64_t due_by(std::uint32_t index, double t) const {
        return std::uint64_t(t * per_client_rate_ + offset(index)) + 1;
    }

    // When frame k of client `index` is due, in ns after the run started.
    std::uint64_t due_ns(std::uint32_t index, std::uint64_t k) const {
        const double s = (double(k) - offset(index)) / per_client_rate_;
        return std::uint64_t(std::max(0.0, s * 1e9));
    }

    // How often due frames are sent. No finer than the gap between two
    // frames of the whole schedule, and no finer than 50 us: every tick
    // costs the load generator CPU the server could use.
    std::uint64_t tick_ns() const { return tick_ns_; }

  private:
    double offset(std::uint32_t index) const {
        return double(index) / double(clients_);
    }

    double per_client_rate_;
    std::size_t clients_;
    std::uint64_t tick_ns_ = 50'000;
};

}  // namespace loadgen
