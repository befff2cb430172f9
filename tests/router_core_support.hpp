// What the router core's unit tests share: they play the part of a
// reactor by hand, with time passed in from t0.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "client.hpp"
#include "common/reactor/router_core.hpp"

using common::client_id;
using common::router_core;
using reason = router_core::close_reason;
using testing::frame_bytes;
using namespace std::chrono_literals;

namespace testing::core {

// The core never reads a clock: the tests pass time by hand, from t0.
inline const router_core::time_point t0{};

inline std::vector<client_id> to_flush(router_core& core) {
    std::vector<client_id> out;
    core.poll_transmit(out);
    return out;
}

inline std::vector<router_core::closure> closures(router_core& core) {
    std::vector<router_core::closure> out;
    core.poll_close(out);
    return out;
}

// Everything queued for `id`, as a socket that takes it all would.
inline std::string drain(router_core& core,
                         client_id id,
                         router_core::time_point now = t0) {
    std::string out(core.output(id));
    core.handle_written(id, out.size(), now);
    return out;
}

inline std::string id_bytes(client_id id) {
    auto b = common::encode_id(id);
    return {b.begin(), b.end()};
}

inline std::string msg(std::string_view payload) {
    return std::string(payload) + '\0';
}

}  // namespace testing::core

using namespace testing::core;
