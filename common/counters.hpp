// The two counts every server keeps: frames dropped and bytes copied. The
// lines they write are log.hpp's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/log.hpp"

namespace common {

// Frames to unknown ids are dropped, counted and logged (docs/protocol.md,
// point 5). A misbehaving client can drop millions, so only the first few
// and then every 1000th are written out; the count stays exact.
class drop_counter {
  public:
    // Counts one drop and logs it if its line is due.
    void dropped(std::uint32_t dest, std::uint32_t from) {
        if (const auto n = count_one(); line_due(n)) {
            log_drop(dest, from, n);
        }
    }
    // Counts one drop without logging it: the count so far.
    std::uint64_t count_one() {
        return count_.fetch_add(1, std::memory_order_relaxed) + 1;
    }
    // Whether the n-th drop gets a line: the first few, then every 1000th.
    static bool line_due(std::uint64_t n) { return n <= 10 || n % 1000 == 0; }
    std::uint64_t count() const { return count_.load(); }

  private:
    std::atomic<std::uint64_t> count_{0};
};

// What a model's hand-over costs: the frame bytes (payload and its 0) it
// delivered to clients, and those it copied in user space on the way.
// Every server reports both once, when it stops (log_copies).
// Relaxed atomics: an add per write or per copy, never a lock, and only
// the totals matter.
class copy_counter {
  public:
    void delivered(std::size_t n) {
        delivered_.fetch_add(n, std::memory_order_relaxed);
    }
    void copied(std::size_t n) {
        copied_.fetch_add(n, std::memory_order_relaxed);
    }
    std::uint64_t delivered() const { return delivered_.load(); }
    std::uint64_t copied() const { return copied_.load(); }
    void report() const { log_copies(delivered(), copied()); }

  private:
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> copied_{0};
};

}  // namespace common
