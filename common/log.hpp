// Logging to stderr: one line per event, written with a single write(2) so
// lines from several threads never interleave. stdout carries only the
// `listening on` line (docs/protocol.md).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

namespace common {

void write_log_line(const std::string& line);

template <class... Args>
void log(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    os << '\n';
    write_log_line(os.str());
}

// The line every model writes when a client sends a frame longer than
// --max-frame (docs/protocol.md, point 6), before closing that client.
void log_frame_too_long(std::uint32_t id, std::size_t max_frame);

// The line of the n-th drop: a frame from `from` to the unknown id `dest`.
void log_drop(std::uint32_t dest, std::uint32_t from, std::uint64_t n);

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
// Every server reports both once, when it stops, in one line that
// bench/compare reads: "copies: delivered D bytes, copied C bytes".
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
    void report() const;

  private:
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> copied_{0};
};

}  // namespace common
