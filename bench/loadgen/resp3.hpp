// Just enough of Redis's protocol (RESP3) for the Redis adapter: skips any
// value, and keeps the first strings of a top-level push or array (a
// pub/sub message is the push ["message", channel, payload]).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace loadgen {

struct resp_value {
    char type = 0;          // '>' push, '*' array, '-' error, '+' status, ...
    std::size_t count = 0;  // strings at the top level of a push or array
    std::array<std::string_view, 3> parts;  // the first of them
};

// Parses one value at p: returns its end, or nullptr if it is incomplete.
// parts: a push's or an array's first strings, or a simple value's text.
const char* resp_parse(const char* p, const char* end, resp_value& v);

}  // namespace loadgen
