// csp_channel_per_writer: one dispatcher task owns the table; each client
// has its own bounded channel and writer task, and a client that lets more
// than --max-pending bytes pile up is disconnected. The model is in
// server.cpp.
#pragma once

#include "common/server.hpp"

namespace csp_channel_per_writer {

inline constexpr common::variant_info info{
    .name = "csp_channel_per_writer",
    .model =
        "a reader task per connection sends messages to one dispatcher "
        "task, which owns the table and hands each frame to the "
        "destination's own channel and writer task",
    .multi_threaded = true,
    .queues = true,
    .demo_flag = "",
    .demo_help = "",
};

class router;
using server = common::server<router, info>;

}  // namespace csp_channel_per_writer
