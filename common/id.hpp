// Client ids on the wire: a u32 in network order (docs/protocol.md, point 1).
#pragma once

#include <array>
#include <cstdint>

namespace common {

using client_id = std::uint32_t;

inline std::array<char, 4> encode_id(client_id id) {
    return {static_cast<char>(id >> 24),
            static_cast<char>(id >> 16),
            static_cast<char>(id >> 8),
            static_cast<char>(id)};
}

inline client_id decode_id(const char* p) {
    auto b = [p](int i) { return static_cast<client_id>(std::uint8_t(p[i])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

}  // namespace common
