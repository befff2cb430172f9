// Garbage: fifty clients break the protocol in five ways beside a pair
// exchanging numbered frames; each offender must be closed, the pair
// unaffected, the server still up ([stress]).
#include <algorithm>
#include <random>
#include <set>

#include "fixture.hpp"
#include "pair_traffic.hpp"
#include "server_process.hpp"
#include "swarm.hpp"

using namespace testing;

namespace {

// A smaller limit than the default keeps the over-long frames (the same
// code path at any size) quick to send.
constexpr std::size_t max_frame = 64 * 1024;
constexpr std::size_t offenders = 50;

// How an offender breaks the protocol; the offenders take them in turn.
enum class garbage : std::size_t {
    noise,           // uniform noise, zeros included: frames to random ids
    random_ids,      // well-formed frames to random ids, known or not
    one_too_long,    // a frame of max_frame + 1 bytes, exactly one too many
    huge,            // a huge frame: megabytes without a 0
    empty_then_run,  // an empty payload, then a giant id-less run
    count
};

class garbage_maker {
  public:
    explicit garbage_maker(std::set<std::uint32_t> pair_ids)
        : pair_ids_(std::move(pair_ids)) {}

    // Every offender ends on a frame that never ends, so every offender
    // must be closed; before it, each kind breaks the protocol its own way.
    std::string make(garbage kind) {
        std::string out = before_the_end(kind);
        if (kind != garbage::one_too_long && kind != garbage::huge) {
            out += std::string(4, '\x7e') + std::string(max_frame * 2, 'y');
        }
        return out;
    }

  private:
    std::string before_the_end(garbage kind) {
        switch (kind) {
            case garbage::noise:
                return random_bytes(64 * 1024, true);
            case garbage::random_ids: {
                std::string out;
                for (int f = 0; f < 200; ++f) {
                    const std::uint32_t to = rng_() % (2 * offenders);
                    if (pair_ids_.count(to) == 0) {
                        out +=
                            frame_bytes(to, random_bytes(rng_() % 300, false));
                    }
                }
                return out;
            }
            case garbage::one_too_long: {
                auto out =
                    frame_bytes(0x7fffffff, random_bytes(max_frame + 1, false));
                out.pop_back();  // ...and never its 0
                return out;
            }
            case garbage::huge:
                return std::string(4, '\x7f') + random_bytes(4 << 20, false);
            default:
                return frame_bytes(0x7ffffffe, "") +
                       std::string(max_frame * 3, 'x');
        }
    }

    std::string random_bytes(std::size_t size, bool zeros) {
        std::string out(size, '\0');
        std::uniform_int_distribution<> byte(zeros ? 0 : 1, 255);
        for (auto& c : out) {
            c = static_cast<char>(byte(rng_));
        }
        return out;
    }

    std::set<std::uint32_t> pair_ids_;
    std::mt19937 rng_{50};
};

}  // namespace

TEMPLATE_TEST_CASE("garbage: 50 clients send random bytes beside a pair",
                   "[stress]",
                   ROUTER_VARIANTS) {
    server_process srv(variant<TestType>(),
                       {"--max-frame", std::to_string(max_frame)});
    swarm s(srv.port());
    auto pairs = make_pairs(s, 1);
    std::vector<std::size_t> bad;
    for (std::size_t i = 0; i < offenders; ++i) {
        bad.push_back(s.connect());
        s[bad.back()].keep_input = false;  // what it gets is noise
    }
    auto all = [&](auto pred) {
        return std::all_of(
            bad.begin(), bad.end(), [&](auto i) { return pred(s[i]); });
    };
    s.pump_until([&] { return all([](peer& p) { return p.id.has_value(); }); },
                 "the offenders' ids");
    garbage_maker maker({*s[0].id, *s[1].id});  // the pair's two peers
    for (std::size_t k = 0; k < offenders; ++k) {
        s[bad[k]].out = maker.make(garbage(k % std::size_t(garbage::count)));
    }
    s.pump_until(
        [&] {
            step_all(pairs);
            return all([](peer& p) { return p.closed; }) &&
                   pairs[0].delivered() >= 400;
        },
        "the server closing all 50 offenders");
    drain_all(s, pairs);
    CHECK(s[0].in.empty());
    CHECK(s[1].in.empty());
    // Still up, and still serving newcomers.
    REQUIRE(srv.describe() == "running");
    client c(srv.port()), d(srv.port());
    c.send_frame(d.id(), "after the storm");
    expect_frame(d, "after the storm");
    expect_clean_exit(srv);
}
