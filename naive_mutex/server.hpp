// naive_mutex: one task per connection, one lock around the table of
// clients, held across every forwarding write. The model is in server.cpp.
#pragma once

#include "common/server.hpp"

namespace naive_mutex {

inline constexpr common::variant_info info{
    .name = "naive_mutex",
    .model =
        "a task per connection; one lock around the table, held across "
        "each forwarding write (head-of-line blocking)",
    .multi_threaded = true,
    .queues = false,
    .demo_flag = "--deadlock",
    .demo_help =
        "reproduce the article's deadlocking edit: each connection "
        "also locked, and held across its read",
};

class router;
using server = common::server<router, info>;

}  // namespace naive_mutex
