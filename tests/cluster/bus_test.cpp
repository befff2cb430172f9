// The cluster's bus alone (common/cluster/bus.hpp), on a real nats-server:
// what crosses it, in what order, and when it refuses to start.
#include "common/cluster/bus.hpp"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "common/options.hpp"
#include "nats_server.hpp"

using namespace testing;
using common::client_id;
using common::node_ids;
using common::cluster::bus;
using common::cluster::bus_error;

namespace {

common::options node(const nats_server& server, unsigned k) {
    common::options o;
    o.cluster = server.url();
    o.node = k;
    return o;
}

// What a node's bus delivers, collected from the library's thread.
struct collector {
    std::mutex m;
    std::condition_variable cv;
    std::vector<std::pair<client_id, std::string>> frames;
    std::vector<client_id> senders;
    bool all_end_in_0 = true;

    bus::frame_handler handler() {
        return [this](client_id from,
                      client_id dest,
                      std::string_view message,
                      bool) {
            std::lock_guard lock(m);
            all_end_in_0 = all_end_in_0 && message.ends_with('\0');
            message.remove_suffix(1);
            frames.emplace_back(dest, std::string(message));
            senders.push_back(from);
            cv.notify_all();
        };
    }
    // Waits, with a deadline, until `n` frames have arrived.
    bool wait_for(std::size_t n) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, patience, [&] { return frames.size() >= n; });
    }
    std::size_t size() {
        std::lock_guard lock(m);
        return frames.size();
    }
    // Waits up to `d` for a frame of payload `p`; whether one has come.
    bool seen_within(std::string_view p, clock::duration d) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, d, [&] {
            for (const auto& f : frames) {
                if (f.second == p) {
                    return true;
                }
            }
            return false;
        });
    }
};

void ignore(client_id, client_id, std::string_view, bool) {}

// A frame's message as the routers hold it: payload and 0.
std::string msg(std::string_view payload) {
    std::string m(payload);
    m += '\0';
    return m;
}

}  // namespace

TEST_CASE("the bus carries a frame to the node its id names",
          "[cluster][bus]") {
    nats_server server;
    collector at0, at1;
    bus n0(node(server, 0), at0.handler());
    bus n1(node(server, 1), at1.handler());
    const client_id dest = node_ids(1).first + 7;
    n0.publish(5, dest, msg("it works"));
    n0.publish(6, dest, msg(""));
    REQUIRE(at1.wait_for(2));
    CHECK(at1.frames[0] == std::pair<client_id, std::string>{dest, "it works"});
    CHECK(at1.frames[1] == std::pair<client_id, std::string>{dest, ""});
    CHECK(at1.senders == std::vector<client_id>{5, 6});
    CHECK(at1.all_end_in_0);
    CHECK(at0.size() == 0);
    CHECK(n0.dropped() == 0);
}

TEST_CASE("frames from one node to one id arrive in the order sent",
          "[cluster][bus]") {
    nats_server server;
    collector at1;
    bus n0(node(server, 0), ignore);
    bus n1(node(server, 1), at1.handler());
    constexpr int count = 20000;
    for (int i = 0; i < count; ++i) {
        n0.publish(3, node_ids(1).first, msg(std::to_string(i)));
    }
    REQUIRE(at1.wait_for(count));
    for (int i = 0; i < count; ++i) {
        REQUIRE(at1.frames[i].second == std::to_string(i));
    }
}

TEST_CASE("a node already running on the bus: the second one refused",
          "[cluster][bus]") {
    nats_server server;
    {
        bus first(node(server, 2), ignore);
        try {
            bus second(node(server, 2), ignore);
            FAIL("the second node 2 started");
        } catch (const bus_error& e) {
            const std::string what = e.what();
            CHECK(what.find("node 2") != what.npos);
            CHECK(what.find('\n') == what.npos);
        }
        CHECK_NOTHROW(bus(node(server, 3), ignore));
    }
    // Once the first has left, node 2 is free again.
    CHECK_NOTHROW(bus(node(server, 2), ignore));
}

TEST_CASE("a bus that cannot be reached, or carries less than --max-frame",
          "[cluster][bus]") {
    std::string url;
    {
        nats_server gone;
        url = gone.url();
    }  // nothing listens there now
    common::options o;
    o.cluster = url;
    CHECK_THROWS_AS(bus(o, ignore), bus_error);

    nats_server server;
    o = node(server, 0);
    o.max_frame = 1048577;  // nats-server's max_payload is 1048576
    CHECK_THROWS_WITH(bus(o, ignore), Catch::Contains("max_payload 1048576"));
    o.max_frame = 1048576;
    CHECK_NOTHROW(bus(o, ignore));
}

TEST_CASE("the bus down: frames dropped and counted, and back: they flow",
          "[cluster][bus]") {
    nats_server server;
    collector at1;
    bus n0(node(server, 0), ignore);
    bus n1(node(server, 1), at1.handler());
    const client_id dest = node_ids(1).first;
    server.kill();
    // The library notices the loss on its own thread: until then frames
    // may still be taken (and lost with the connection).
    const auto deadline = clock::now() + patience;
    while (n0.dropped() == 0 && clock::now() < deadline) {
        n0.publish(0, dest, msg("lost"));
    }
    REQUIRE(n0.dropped() > 0);
    server.restart();
    // Both nodes reconnect on their own; once node 1 has resubscribed,
    // a frame gets through (those the library held meanwhile may come
    // first: at most once, never twice).
    const auto back = clock::now() + patience;
    bool through = false;
    while (!through && clock::now() < back) {
        n0.publish(0, dest, msg("back"));
        through = at1.seen_within("back", 20ms);
    }
    CHECK(through);
}
