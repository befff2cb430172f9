// reactor_select: one coroutine races readiness over every socket, then
// handles the winner with direct access to the state. The model is in
// server.cpp.
#pragma once

#include "common/server.hpp"

namespace reactor_select {

inline constexpr common::variant_info info{
    .name = "reactor_select",
    .model =
        "a reactor: one coroutine awaits whichever socket is ready first "
        "(a race over all of them), then handles it (no lock); each event "
        "costs work for every connection, so many connections, idle or "
        "coming and going, slow every client: a way to deny service",
    .multi_threaded = false,
    .queues = true,
    .demo_flag = "--unsafe-race",
    .demo_help =
        "race async_read_some instead of readiness: a read that loses the "
        "race may already have taken bytes, which are lost",
    .sharded = true,
    .clusters = true,
};

class router;
// --threads N: N of them (common/reactor/shards.hpp).
using server = common::server<common::shard_set<router>, info>;

}  // namespace reactor_select
