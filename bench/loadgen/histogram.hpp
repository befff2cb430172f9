// The latency histogram.
//
// Log-linear buckets: exact below 16 ns, then 16 buckets per power of two
// (6 % wide): plenty for p50/p99/p99.9 and cheap enough for every frame.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace loadgen {

class histogram {
  public:
    void record(std::uint64_t v) {
        ++counts_[index(v)];
        ++total_;
        max_ = std::max(max_, v);
        sum_ += double(v);
    }
    std::uint64_t count() const { return total_; }
    std::uint64_t max() const { return max_; }
    double mean() const { return total_ ? sum_ / double(total_) : 0; }
    std::uint64_t quantile(double q) const;

  private:
    static std::size_t index(std::uint64_t v) {
        if (v < 16) {
            return std::size_t(v);
        }
        const int e = 63 - __builtin_clzll(v);
        return std::size_t(e - 3) * 16 + ((v >> (e - 4)) & 15);
    }
    static std::uint64_t mid(std::size_t i);

    std::array<std::uint64_t, 61 * 16> counts_{};
    std::uint64_t total_ = 0, max_ = 0;
    double sum_ = 0;
};

}  // namespace loadgen
