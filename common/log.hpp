// Logging to stderr: one line per event, written with a single write(2) so
// lines from several threads never interleave. stdout carries only the
// `listening on` line (docs/protocol.md).
#pragma once

#include <atomic>
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

// Frames to unknown ids are dropped, counted and logged (docs/protocol.md,
// point 5). A misbehaving client can drop millions, so only the first few
// and then every 1000th are written out; the count stays exact.
class drop_counter {
  public:
    void dropped(std::uint32_t dest, std::uint32_t from);
    std::uint64_t count() const { return count_.load(); }

  private:
    std::atomic<std::uint64_t> count_{0};
};

}  // namespace common
