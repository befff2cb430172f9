// Unit tests of the router core's shards (router_core.hpp, "Shards"): two
// or three cores, each owning the ids with id % count == index, and the
// test carrying parcels between them by hand, as the reactors' inboxes
// would, refusing some to play a full inbox.
#include <span>

#include "common/reactor/parcel.hpp"
#include "router_core_support.hpp"

using common::shard_place;

namespace {

std::vector<unsigned> forward_list(router_core& core) {
    std::vector<unsigned> out;
    core.poll_forward(out);
    return out;
}

std::vector<client_id> resumed(router_core& core) {
    std::vector<client_id> out;
    core.poll_resumed(out);
    return out;
}

router_core shard(unsigned index, unsigned count = 2) {
    return router_core(100, 1000, 0ms, 0, 0ms, 0, shard_place{count, index});
}

// Connects `id` to the core that owns it and drains its id.
void connect(router_core& core, client_id id) {
    core.handle_connect(id, t0);
    drain(core, id);
    to_flush(core);
}

}  // namespace

TEST_CASE("a core owns the ids of its shard only", "[router_core][shards]") {
    auto a = shard(0, 3), b = shard(1, 3);
    CHECK(a.owns(0));
    CHECK(a.owns(3));
    CHECK_FALSE(a.owns(1));
    CHECK(b.owns(4));
    router_core single(100, 1000);
    CHECK(single.owns(7));  // one shard owns every id
    single.handle_room(0);  // a reactor with one shard and an inbox
    std::vector<unsigned> none;
    single.poll_forward(none);
    CHECK(none.empty());
}

TEST_CASE("a frame for another shard's client is a parcel for that shard",
          "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    connect(b, 1);
    a.handle_input(0, frame_bytes(1, "over") + frame_bytes(1, "there"), t0);
    CHECK(a.output(1).empty());
    CHECK(to_flush(a).empty());
    CHECK(forward_list(a) == std::vector<unsigned>{1});
    CHECK(forward_list(a).empty());  // listed once
    const auto parcel = a.take_parcel(1);
    b.handle_parcel(parcel, t0);
    CHECK(to_flush(b) == std::vector<client_id>{1});
    CHECK(drain(b, 1) == msg("over") + msg("there"));
    CHECK(b.drops() == 0);
}

TEST_CASE("a parcel's frame for an id that is gone or not owned is dropped",
          "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    a.handle_input(0, frame_bytes(3, "nobody") + frame_bytes(1, "x"), t0);
    b.handle_parcel(a.take_parcel(1), t0);
    CHECK(b.drops() == 2);
    std::vector<char> wrong;  // an id b does not own
    common::pack_frame(wrong, 0, 2, std::string_view("y\0", 2));
    b.handle_parcel(wrong, t0);
    CHECK(b.drops() == 3);
}

TEST_CASE(
    "a refused parcel waits, its senders are held, and room lets "
    "them go in order",
    "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    connect(a, 2);
    connect(a, 4);
    connect(b, 1);
    a.handle_input(0, frame_bytes(1, "a1"), t0);
    a.handle_input(2, frame_bytes(1, "b1"), t0);
    REQUIRE(forward_list(a) == std::vector<unsigned>{1});
    a.handle_refused(1, a.take_parcel(1));  // the inbox is full
    CHECK(a.held(0));
    CHECK(a.held(2));
    CHECK_FALSE(a.held(4));
    CHECK(forward_list(a).empty());  // nothing to hand before room
    // A client not held sends on: its frame waits behind, and it is held.
    a.handle_input(4, frame_bytes(1, "c1"), t0);
    CHECK(a.held(4));
    a.handle_room(1);
    REQUIRE(forward_list(a) == std::vector<unsigned>{1});
    auto parcel = a.take_parcel(1);
    CHECK(resumed(a) == std::vector<client_id>{0, 2, 4});
    CHECK_FALSE(a.held(0));
    b.handle_parcel(parcel, t0);
    CHECK(drain(b, 1) == msg("a1") + msg("b1") + msg("c1"));
}

TEST_CASE("a parcel refused again keeps its senders held",
          "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    connect(b, 1);
    a.handle_input(0, frame_bytes(1, "one"), t0);
    a.handle_refused(1, a.take_parcel(1));
    a.handle_room(1);
    REQUIRE(forward_list(a) == std::vector<unsigned>{1});
    a.handle_refused(1, a.take_parcel(1));  // another shard filled it first
    CHECK(a.held(0));
    CHECK(resumed(a).empty());
    a.handle_room(1);
    REQUIRE(forward_list(a) == std::vector<unsigned>{1});
    b.handle_parcel(a.take_parcel(1), t0);
    CHECK(resumed(a) == std::vector<client_id>{0});
    CHECK(drain(b, 1) == msg("one"));
}

TEST_CASE(
    "frames from one sender to one client keep their order across "
    "a refusal",
    "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    connect(b, 1);
    std::string expected;
    for (int i = 0; i < 20; ++i) {
        const auto payload = "m" + std::to_string(i);
        a.handle_input(0, frame_bytes(1, payload), t0);
        expected += msg(payload);
        if (forward_list(a).empty()) {
            continue;  // waiting for room
        }
        auto parcel = a.take_parcel(1);
        if (i % 3 == 0) {
            a.handle_refused(1, std::move(parcel));
            a.handle_room(1);  // room comes, the parcel is listed again
        } else {
            b.handle_parcel(parcel, t0);
        }
    }
    if (!forward_list(a).empty()) {
        b.handle_parcel(a.take_parcel(1), t0);
    }
    CHECK(drain(b, 1) == expected);
}

TEST_CASE("a parcel's frames meet the destination's --max-pending",
          "[router_core][shards]") {
    auto a = shard(0);
    router_core b(100, 10, 0ms, 0, 0ms, 0, shard_place{2, 1});
    connect(a, 0);
    connect(b, 1);
    std::string big(40, 'x');
    for (int i = 0; i < 3; ++i) {
        a.handle_input(0, frame_bytes(1, big), t0);
    }
    b.handle_parcel(a.take_parcel(1), t0);
    const auto closed = closures(b);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].id == 1);
    CHECK(closed[0].why == reason::slow_consumer);
    CHECK_FALSE(b.connected(1));
}

TEST_CASE("a held client that leaves is forgotten", "[router_core][shards]") {
    auto a = shard(0), b = shard(1);
    connect(a, 0);
    connect(a, 2);
    connect(b, 1);
    a.handle_input(0, frame_bytes(1, "p"), t0);
    a.handle_input(2, frame_bytes(1, "q"), t0);
    a.handle_refused(1, a.take_parcel(1));
    a.handle_disconnect(0);
    a.handle_room(1);
    REQUIRE(forward_list(a) == std::vector<unsigned>{1});
    b.handle_parcel(a.take_parcel(1), t0);
    CHECK(resumed(a) == std::vector<client_id>{2});
    // Its frames were sent before it left: delivered, as point 7 says.
    CHECK(drain(b, 1) == msg("p") + msg("q"));
}
