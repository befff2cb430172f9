// How much one system call moves, in every server that reads into the
// frame parser or gathers a write.
#pragma once

#include <cstddef>

namespace common {

// How much one read asks the parser for: many frames per system call, all
// routed before the next read (the article parsed one frame per read).
inline constexpr std::size_t read_size = 64 * 1024;

// At most this many buffers in one gathered write: what Asio passes to one
// writev(2) (its buffer_sequence_adapter stops at 64; IOV_MAX is 1024).
// More are written by a second call, so a writer that gathers past it
// gains nothing.
inline constexpr std::size_t max_gather = 64;

}  // namespace common
