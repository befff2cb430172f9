// Slow consumers, as the process pays for them: a client that never
// reads is flooded with 64 MiB, and the built executable's memory is read
// from /proc ([stress][fault]). The functional side (who is disconnected,
// who stalls) is slow_consumer_test.cpp's.
#include "pair_traffic.hpp"
#include "server_process.hpp"
#include "support.hpp"
#include "swarm.hpp"
#include "variants.hpp"

using namespace testing;

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
    const auto base_rss = srv.rss_kib();
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
    const auto peak = srv.peak_rss_kib();
    INFO("server RSS " << base_rss << " KiB before the flood, peak " << peak
                       << " KiB");
    report() << variant<TestType>() << " slow consumer: server RSS " << base_rss
             << " KiB before 64 MiB flood, peak " << peak << " KiB";
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
    const auto base_rss = srv.rss_kib();
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
    const auto peak = srv.peak_rss_kib();
    INFO("flooder stalled after " << s[flooder].sent << " bytes; server RSS "
                                  << base_rss << " KiB before, peak " << peak
                                  << " KiB");
    report() << variant<TestType>() << " slow consumer: flooder stalled after "
             << s[flooder].sent << " bytes, server RSS " << base_rss
             << " KiB, peak " << peak << " KiB";
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
                REQUIRE(*msg == message(expected));
            }
            return got == frames;
        },
        "the stalled frames, once the slow client reads");
    expect_clean_exit(srv);
}
#endif
