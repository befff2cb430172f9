// Faults: a full descriptor table and a client that never reads, each
// observed from outside on the built executable (its descriptors, memory
// and CPU in /proc), for every variant ([stress], with stress_test.cpp).
// The functional side of slow consumers (who is disconnected, who stalls)
// is slow_consumer_test.cpp's; here it is what the process pays for them.
#include <algorithm>

#include "fixture.hpp"
#include "stress.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("out of descriptors: no crash, no spin, accepts again",
                   "[stress][fault]",
                   ROUTER_VARIANTS) {
    // Room for a few dozen clients: the server meets EMFILE on accept
    // (or on the dup of a split socket) while more keep arriving.
    constexpr std::size_t limit = 64, extra = 24;
    // (UBSan's vptr check, which needs a spare descriptor, is off in the
    // asan build: see the top-level CMakeLists.txt.)
    server_process srv(variant<TestType>(), {}, limit);
    swarm s(srv.port());
    for (std::size_t i = 0; i < limit + extra; ++i) {
        s.connect();  // completes in the listen backlog, served or not
    }
    // A client is served (it got its id), refused (closed at once, which
    // a server may do with a connection it cannot hold), or waiting in the
    // backlog. Settled when nothing changes for 300 ms.
    struct tally {
        std::size_t served = 0, refused = 0;
        bool operator==(const tally&) const = default;
    };
    auto count = [&] {
        tally t;
        for (std::size_t i = 0; i < s.size(); ++i) {
            t.served += s[i].id.has_value();
            t.refused += s[i].closed && !s[i].id;
        }
        return t;
    };
    tally before;
    const auto deadline = clock::now() + patience;
    do {
        REQUIRE(clock::now() < deadline);
        before = count();
        s.pump_for(300ms);
    } while (count() != before);
    const auto [served, refused] = before;
    const auto waiting = s.size() - served - refused;
    INFO("served " << served << ", refused " << refused << ", waiting "
                   << waiting << "; server descriptors "
                   << procfs::fd_count(srv.pid()).value());
    report(variant<TestType>() + " at " + std::to_string(limit) +
           " descriptors: served " + std::to_string(served) + ", refused " +
           std::to_string(refused) + ", waiting " + std::to_string(waiting));
    REQUIRE(srv.describe() == "running");
    REQUIRE(served >= 16);
    REQUIRE(served < s.size());  // the limit was really reached
    for (std::size_t i = 0; i < s.size(); ++i) {
        REQUIRE_FALSE((s[i].id && s[i].closed));  // none served, then lost
    }

    // No spin: a second at the limit, with clients in the backlog that
    // the server cannot take, costs it a few retries, not a core.
    const double cpu_before = procfs::cpu_seconds(srv.pid()).value();
    const auto window_start = clock::now();
    s.pump_for(1s);
    const double cpu_used = procfs::cpu_seconds(srv.pid()).value() - cpu_before;
    const double window =
        std::chrono::duration<double>(clock::now() - window_start).count();
    INFO("server CPU over " << window << " s at the limit: " << cpu_used
                            << " s");
    CHECK(cpu_used < 0.25 * window);
    report(variant<TestType>() + " CPU at the limit: " +
           std::to_string(cpu_used) + " s in " + std::to_string(window) + " s");
    REQUIRE(srv.describe() == "running");

    // Keeps serving: the served clients pass a frame round a ring.
    std::vector<std::size_t> ring;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].id) {
            ring.push_back(i);
        }
    }
    for (std::size_t k = 0; k < ring.size(); ++k) {
        s[ring[k]].out +=
            frame_bytes(*s[ring[(k + 1) % ring.size()]].id, "ring");
    }
    s.pump_until(
        [&] {
            return std::all_of(ring.begin(), ring.end(), [&](auto i) {
                REQUIRE_FALSE(s[i].closed);
                return s[i].in.size() >= 5;
            });
        },
        "a frame round the ring of served clients");
    for (auto i : ring) {
        CHECK(s[i].in == std::string("ring") + '\0');
        s[i].in.clear();
    }

    // Accepts again: all but two served clients leave; the waiting ones
    // are taken, or newcomers are. A client may still be refused (closed
    // unserved) if the server accepts it before it has released what the
    // leavers held: then another newcomer tries, up to 32.
    const auto keep_a = ring[0], keep_b = ring[1];
    const std::size_t leavers = ring.size() - 2;
    for (std::size_t k = 2; k < ring.size(); ++k) {
        s.close(ring[k]);
    }
    std::vector<std::size_t> hopefuls;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!s[i].id && !s[i].closed) {
            hopefuls.push_back(i);
        }
    }
    // Each leaver frees one descriptor or two (a split socket), and a
    // client takes as many: a quarter of them is a safe floor.
    const std::size_t want =
        std::max<std::size_t>(1, std::min(hopefuls.size(), leavers / 4));
    std::size_t newly_served = 0, newcomers = 0;
    s.pump_until(
        [&] {
            std::size_t unresolved = 0;
            newly_served = 0;
            for (auto i : hopefuls) {
                newly_served += s[i].id.has_value();
                unresolved += !s[i].id && !s[i].closed;
            }
            if (newly_served < want && unresolved == 0 && newcomers < 32) {
                hopefuls.push_back(s.connect());
                ++newcomers;
            }
            return newly_served >= want;
        },
        "clients served again once descriptors were free");
    const auto newcomer =
        *std::find_if(hopefuls.begin(), hopefuls.end(), [&](auto i) {
            return s[i].id.has_value();
        });
    report(variant<TestType>() + " after " + std::to_string(leavers) +
           " left: " + std::to_string(newly_served) + " of " +
           std::to_string(hopefuls.size()) + " waiting clients served (" +
           std::to_string(newcomers) + " newcomers)");
    s[keep_a].out += frame_bytes(*s[newcomer].id, "welcome");
    s[newcomer].out += frame_bytes(*s[keep_b].id, "thanks");
    s.pump_until(
        [&] { return s[newcomer].in.size() >= 8 && s[keep_b].in.size() >= 7; },
        "frames between old and new clients");
    CHECK(s[newcomer].in == std::string("welcome") + '\0');
    CHECK(s[keep_b].in == std::string("thanks") + '\0');
    for (std::size_t i = 0; i < s.size(); ++i) {
        s.close(i);
    }
    expect_clean_exit(srv);
}

namespace {
// The slow-consumer scene: `slow` never reads (a small receive window, so
// the kernel holds little for it); `flooder` sends it 64 KiB frames.
constexpr std::size_t max_pending = 1 << 20;
constexpr std::size_t flood_frame = 64 * 1024;
constexpr std::size_t flood_total = 64 << 20;  // 64 x --max-pending

// Keeps up to 1 MiB queued on the flooder's side, numbered frames to
// `dest`, until `total` bytes have been queued in all.
void top_up_flood(peer& flooder,
                  std::uint32_t dest,
                  std::size_t& queued,
                  std::uint64_t& seq,
                  std::size_t total = flood_total) {
    while (flooder.out.size() < (1 << 20) && queued < total) {
        auto payload = numbered_payload("f", seq++);
        payload.resize(flood_frame, 'F');
        flooder.out += frame_bytes(dest, payload);
        queued += 4 + flood_frame + 1;
    }
}
}  // namespace

#ifdef ROUTER_QUEUING_VARIANTS
TEMPLATE_TEST_CASE(
    "slow consumer: cut off past --max-pending, memory stays bounded",
    "[stress][fault]",
    ROUTER_QUEUING_VARIANTS) {
    server_process srv(variant<TestType>(),
                       {"--max-pending", std::to_string(max_pending)});
    swarm s(srv.port());
    const auto slow = s.connect(4096);
    const auto flooder = s.connect();
    const auto a = s.connect();
    const auto b = s.connect();
    pair_traffic pair(s, a, b);
    s.pump_until(
        [&] { return s[slow].id && s[flooder].id && s[a].id && s[b].id; },
        "four ids");
    s[slow].paused = true;
    s[slow].keep_input = false;
    const auto base_rss = procfs::rss_kib(srv.pid()).value();
    std::size_t queued = 0;
    std::uint64_t seq = 0;
    s.pump_until(
        [&] {
            INFO(pair.error());
            REQUIRE(pair.step());
            REQUIRE_FALSE(s[flooder].closed);
            top_up_flood(s[flooder], *s[slow].id, queued, seq);
            return queued >= flood_total && s[flooder].out.empty();
        },
        "64 MiB flooded at a client that does not read",
        patience * (sanitized ? 3 : 1));
    const auto peak = procfs::peak_rss_kib(srv.pid()).value();
    INFO("server RSS " << base_rss << " KiB before the flood, peak " << peak
                       << " KiB");
    report(variant<TestType>() + " slow consumer: server RSS " +
           std::to_string(base_rss) + " KiB before 64 MiB flood, peak " +
           std::to_string(peak) + " KiB");
    if constexpr (!sanitized) {
        // Holding the flood would take 64 MiB; the queue may hold 1.
        CHECK(peak < base_rss + 24 * 1024);
    }
    // Disconnected: once it reads, it finds the end of the stream well
    // before the 64 MiB sent its way.
    s[slow].paused = false;
    s.pump_until([&] { return s[slow].closed; },
                 "the slow consumer disconnected");
    CHECK(s[slow].received < flood_total / 2);
    // Everyone else carried on.
    s.pump_until(
        [&] {
            INFO(pair.error());
            REQUIRE(pair.step());
            return pair.delivered() >= 200;
        },
        "the pair exchanging after the flood");
    CHECK_FALSE(s[flooder].closed);
    expect_clean_exit(srv);
}
#endif

#ifdef ROUTER_BLOCKING_VARIANTS
// The blocking models never queue, so --max-pending does not apply (their
// --help says so): a reader that stops stalls its writers, the kernel's
// socket buffers are all that fills, and nothing is lost once it reads.
TEMPLATE_TEST_CASE(
    "slow consumer, blocking models: the sender stalls, memory stays "
    "bounded, nothing is lost",
    "[stress][fault]",
    ROUTER_BLOCKING_VARIANTS) {
    server_process srv(variant<TestType>(),
                       {"--max-pending", std::to_string(max_pending)});
    swarm s(srv.port());
    const auto slow = s.connect(4096);
    const auto flooder = s.connect();
    s.pump_until([&] { return s[slow].id && s[flooder].id; }, "two ids");
    s[slow].paused = true;
    const auto base_rss = procfs::rss_kib(srv.pid()).value();
    std::size_t queued = 0;
    std::uint64_t seq = 0;
    // Stalled: the flooder has bytes to send and the kernel has taken none
    // of them for 500 ms.
    std::size_t last_sent = 0;
    auto last_progress = clock::now();
    s.pump_until(
        [&] {
            REQUIRE_FALSE(s[flooder].closed);
            top_up_flood(s[flooder], *s[slow].id, queued, seq);
            if (s[flooder].sent != last_sent) {
                last_sent = s[flooder].sent;
                last_progress = clock::now();
            }
            return clock::now() - last_progress > 500ms;
        },
        "the flooder stalling",
        patience * (sanitized ? 3 : 1));
    const auto peak = procfs::peak_rss_kib(srv.pid()).value();
    INFO("flooder stalled after " << s[flooder].sent << " bytes; server RSS "
                                  << base_rss << " KiB before, peak " << peak
                                  << " KiB");
    report(variant<TestType>() + " slow consumer: flooder stalled after " +
           std::to_string(s[flooder].sent) + " bytes, server RSS " +
           std::to_string(base_rss) + " KiB, peak " + std::to_string(peak) +
           " KiB");
    CHECK(s[flooder].sent < flood_total);
    if constexpr (!sanitized) {
        CHECK(peak < base_rss + 24 * 1024);
    }
    // Not disconnected, and every frame arrives intact and in order once
    // the slow client reads.
    REQUIRE_FALSE(s[slow].closed);
    s[slow].paused = false;
    const std::uint64_t frames = seq;
    std::uint64_t got = 0;
    s.pump_until(
        [&] {
            REQUIRE_FALSE(s[slow].closed);
            while (auto msg = pop_message(s[slow].in)) {
                auto expected = numbered_payload("f", got++);
                expected.resize(flood_frame, 'F');
                REQUIRE(*msg == expected + '\0');
            }
            return got == frames;
        },
        "the stalled frames, once the slow client reads");
    expect_clean_exit(srv);
}
#endif
