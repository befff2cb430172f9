#include "histogram.hpp"

#include <cmath>

namespace loadgen {

std::uint64_t histogram::quantile(double q) const {
    if (total_ == 0) {
        return 0;
    }
    const auto rank = std::uint64_t(std::ceil(q * double(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= std::max<std::uint64_t>(rank, 1)) {
            return std::min(mid(i), max_);
        }
    }
    return max_;
}

std::uint64_t histogram::mid(std::size_t i) {
    if (i < 16) {
        return i;
    }
    const int e = int(i / 16) + 3;
    const std::uint64_t lower = (16 + i % 16) << (e - 4);
    return lower + (std::uint64_t(1) << (e - 4)) / 2;
}

}  // namespace loadgen
