// csp: one dispatcher task owns the table and does every forwarding write;
// readers send it messages over one bounded channel. The model is in
// server.cpp.
#pragma once

#include "common/server.hpp"

namespace csp {

inline constexpr common::variant_info info{
    .name = "csp",
    .model =
        "a reader task per connection sends messages to one dispatcher "
        "task, which owns the table and writes each frame itself "
        "(head-of-line blocking)",
    .multi_threaded = true,
    .queues = false,
    .demo_flag = "",
    .demo_help = "",
};

class router;
using server = common::server<router, info>;

}  // namespace csp
