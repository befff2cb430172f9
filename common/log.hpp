// Logging to stderr: one line per event, written with a single write(2) so
// lines from several threads never interleave. stdout carries only the
// `listening on` line (docs/protocol.md).
#pragma once

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

// The line every model writes when a client leaves a frame it began
// unfinished past --frame-timeout (docs/protocol.md, point 9), before
// closing that client.
void log_frame_timeout(std::uint32_t id, std::int64_t timeout_ms);

// The line of the n-th drop: a frame from `from` to the unknown id `dest`.
void log_drop(std::uint32_t dest, std::uint32_t from, std::uint64_t n);

// The line every server writes once, when it stops, and bench/compare
// reads: "copies: delivered D bytes, copied C bytes" (copy_counter).
void log_copies(std::uint64_t delivered, std::uint64_t copied);

}  // namespace common
