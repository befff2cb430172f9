// The payload every frame carries, and its check at the receiver.
//
// A payload may hold no 0 byte, so numbers travel 7 bits per byte with the
// high bit set: [seq: 5][send time, ns: 6][sender: 3][filler]. The filler
// is a pattern that depends on seq, so a shifted or mixed-up frame fails
// the check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

constexpr std::size_t header_size = 14;
constexpr std::size_t max_payload_size = (1u << 20) - 256;

// Appends a payload of `size` bytes (at least header_size).
void append_payload(std::string& out,
                    std::uint64_t seq,
                    std::uint64_t stamp_ns,
                    std::uint64_t sender,
                    std::size_t size);

struct checked_payload {
    bool ok = false;  // the expected size, well encoded, filler intact
    std::uint64_t seq = 0, stamp_ns = 0, sender = 0;
};

checked_payload check_payload(std::string_view payload, std::size_t size);

}  // namespace loadgen
