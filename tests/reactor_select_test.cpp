// reactor_select's lesson, asserted: racing reads loses bytes, racing
// readiness does not (the cancellation hazard of select).
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <vector>

#include "fixture.hpp"

using namespace testing;

// reactor_select's own rows; shard_tests lists its sharded ones instead.
#ifndef ROUTER_SELECT_VARIANTS
#define ROUTER_SELECT_VARIANTS reactor_select::server
#endif

namespace {

struct outcome {
    int sent;
    int delivered;
};

// Two sockets must hold data when a race starts: then both reads complete
// (on Linux Asio reads at once when it can), one wins, and with
// --unsafe-race the other's bytes are gone. A flooder keeps its socket
// full all along (its frames go to an id nobody has and are dropped),
// while b sends numbered frames to c, one at a time, up to `max_sent` or
// until a few are missing.
template <class Server>
outcome frames_through_a_flood(bool unsafe_race, int max_sent) {
    auto opts = test_options();
    opts.demo = unsafe_race;
    running<Server> r(opts);
    auto flooder = r.connect();
    // With shards (shard_tests), b on the flooder's shard, so that both
    // are in one race: the clients between go to the other shards.
    std::vector<client> others;
    if constexpr (requires { Server::shards; }) {
        for (unsigned i = 1; i < Server::shards; ++i) {
            others.push_back(r.connect());
        }
    }
    auto b = r.connect();
    auto c = r.connect();

    std::atomic<bool> flooding{true}, started{false};
    std::thread flood([&] {
        std::string blob;
        while (blob.size() < 256 * 1024) {
            blob += frame_bytes(0x7fffffff, std::string(60, 'x'));
        }
        try {
            while (flooding) {
                flooder.send(blob);
                started = true;
                started.notify_one();
            }
        } catch (const std::exception&) {
            // The server stopped reading: the assertions below will say.
        }
        started = true;
        started.notify_one();
    });
    started.wait(false);

    std::set<int> seen;
    auto send = [&](int k) {
        char payload[32];
        std::snprintf(payload, sizeof payload, "frame %04d", k);
        b.send_frame(c.id(), payload);
    };
    auto receive = [&](clock::duration within) {
        if (c.silent_for(within)) {
            return false;
        }
        const auto m = c.read_exactly(11);  // "frame NNNN\0"
        seen.insert(std::stoi(m.substr(6, 4)));
        return true;
    };

    int sent = 0;
    while (sent < max_sent && sent - static_cast<int>(seen.size()) < 5) {
        send(sent++);
        // With --unsafe-race a lost frame never comes, so a long wait
        // would prove nothing; a late one is counted below all the same.
        receive(unsafe_race ? 100ms : patience);
    }
    flooding = false;
    flood.join();

    // Frames from b to c arrive in order: once a later frame (a marker)
    // arrives, every earlier one not seen was lost, not late.
    for (int marker = sent;; ++marker) {
        REQUIRE(marker < sent + 50);
        send(marker);
        while (!seen.contains(marker) && receive(1s)) {
        }
        if (seen.contains(marker)) {
            break;
        }
    }
    int delivered = 0;
    for (int k = 0; k < sent; ++k) {
        delivered += seen.contains(k) ? 1 : 0;
    }
    return {sent, delivered};
}

}  // namespace

TEMPLATE_TEST_CASE("racing readiness loses no frame",
                   "[reactor_select][race]",
                   ROUTER_SELECT_VARIANTS) {
    const auto o = frames_through_a_flood<TestType>(false, 200);
    CHECK(o.sent == 200);
    CHECK(o.delivered == o.sent);
}

TEMPLATE_TEST_CASE("with --unsafe-race, racing reads loses frames",
                   "[reactor_select][race]",
                   ROUTER_SELECT_VARIANTS) {
    const auto o = frames_through_a_flood<TestType>(true, 2000);
    CHECK(o.delivered < o.sent);
}
