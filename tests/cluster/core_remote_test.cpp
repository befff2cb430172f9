// The core's decision in cluster mode (router_core, go_remote): a frame for
// another node's client is packed for the bus, in order, and never held.
#include <tuple>

#include "common/reactor/parcel.hpp"
#include "router_core_support.hpp"

namespace {

using frame = std::tuple<client_id, client_id, std::string>;

std::vector<frame> remote(router_core& core) {
    std::vector<char> parcel;
    core.take_remote(parcel);
    std::vector<frame> out;
    common::unpack_frames(
        parcel, [&](client_id from, client_id dest, std::string_view m) {
            out.emplace_back(from, dest, std::string(m));
        });
    return out;
}

// Node 2 of a cluster, one shard: its clients numbered from node 2's
// first id, as the shards' acceptor numbers them.
router_core node2(unsigned shards = 1, unsigned index = 0) {
    return router_core(1024, 1 << 20, 0ms, 0, 0ms, 0, {shards, index, true, 2});
}

}  // namespace

TEST_CASE("cluster mode: frames for other nodes go to the bus, in order",
          "[cluster][core]") {
    auto core = node2();
    const client_id a = common::node_ids(2).first;
    const client_id b = a + 1;
    core.handle_connect(a, t0);
    core.handle_connect(b, t0);
    const client_id far = common::node_ids(5).first + 9;
    CHECK_FALSE(core.owns(far));
    CHECK(core.owns(b));
    core.handle_input(a,
                      frame_bytes(far, "one") + frame_bytes(b, "local") +
                          frame_bytes(far, "two"),
                      t0);
    CHECK(remote(core) ==
          std::vector<frame>{{a, far, msg("one")}, {a, far, msg("two")}});
    CHECK(remote(core).empty());  // taken
    drain(core, b);
    CHECK(core.output(b).empty());
    CHECK_FALSE(core.held(a));  // the bus never holds a sender
    // A parcel from the bus is delivered like another shard's.
    std::vector<char> parcel;
    common::pack_frame(parcel, far, b, msg("from afar"));
    common::pack_frame(parcel, far, far, msg("not ours"));
    core.handle_parcel(parcel, t0);
    CHECK(drain(core, b) == msg("from afar"));
    CHECK(core.drops() == 1);
}

TEST_CASE(
    "cluster mode with shards: another node's id is the bus's, "
    "whatever its shard",
    "[cluster][core]") {
    auto core = node2(2, 0);
    const client_id a = common::node_ids(2).first;  // even: shard 0's
    core.handle_connect(a, t0);
    const client_id far_even = common::node_ids(3).first;
    core.handle_input(a, frame_bytes(far_even, "x"), t0);
    CHECK(remote(core) == std::vector<frame>{{a, far_even, msg("x")}});
    std::vector<unsigned> shards;
    core.poll_forward(shards);
    CHECK(shards.empty());
}
