// Shutdown under load: SIGTERM lands while 64 pairs are busy and frames
// are in flight both ways; the server must exit 0 within 2 s and close
// every connection ([stress]).
#include "pair_traffic.hpp"
#include "server_process.hpp"
#include "support.hpp"
#include "swarm.hpp"
#include "variants.hpp"

using namespace testing;

TEMPLATE_TEST_CASE("SIGTERM while 64 pairs are busy exits 0 within 2 s",
                   "[stress]",
                   ROUTER_VARIANTS) {
    server_process srv(variant<TestType>());
    swarm s(srv.port());
    auto pairs = make_pairs(s, 64, 16);
    s.pump_until(
        [&] {
            step_all(pairs);
            return least_delivered(pairs) >= 100;
        },
        "every pair busy");
    // Frames are in flight both ways when the signal lands: queued in the
    // server, in socket buffers, half-read.
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i].out += frame_bytes(0x7fffffff, std::string(100000, 'q'));
    }
    s.pump_for(1ms);
    const auto took = expect_clean_exit(srv);
    report()
        << variant<TestType>() << " exited "
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
        << " ms after SIGTERM";
    // Every connection was closed by the server, none left hanging.
    s.pump_until(
        [&] {
            for (std::size_t i = 0; i < s.size(); ++i) {
                if (!s[i].closed) {
                    return false;
                }
            }
            return true;
        },
        "every connection closed",
        2s);
}
