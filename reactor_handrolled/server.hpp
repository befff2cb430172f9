// reactor_handrolled: one thread, one loop; sockets wait for readiness and
// a single poll() does all the work. The model is in server.cpp.
#pragma once

#include "common/server.hpp"

namespace reactor_handrolled {

inline constexpr common::variant_info info{
    .name = "reactor_handrolled",
    .model =
        "a reactor: one thread waits for socket readiness and one poll() "
        "reads, routes and writes (state owned by the loop, no lock)",
    .multi_threaded = false,
    .queues = true,
    .demo_flag = "",
    .demo_help = "",
    .sharded = true,
    .clusters = true,
};

class router;
// --threads N: N of them (common/reactor/shards.hpp).
using server = common::server<common::shard_set<router>, info>;

}  // namespace reactor_handrolled
