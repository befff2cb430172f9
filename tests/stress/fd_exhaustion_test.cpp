// Descriptor exhaustion: a server under `prlimit --nofile=64` meets more
// clients than it can hold. Observed from outside on the built executable
// (its descriptors and CPU in /proc, its log): no crash, no spin, the
// served clients still route, none is taken only to be closed: the excess
// wait in the listen backlog and are served once others leave, and the
// log says so in a bounded number of lines ([stress][fault]).
#include <algorithm>
#include <sstream>

#include "server_process.hpp"
#include "support.hpp"
#include "swarm.hpp"
#include "variants.hpp"

using namespace testing;

namespace {

// Room for a few dozen clients: the server meets EMFILE on accept (or on
// the dup of a split socket) while more keep arriving.
constexpr std::size_t limit = 64, extra = 24;

// A client is served (it got its id), refused (closed with no id, which
// no server may do with a client it cannot hold yet), or waiting in the
// backlog.
struct tally {
    std::size_t served = 0, refused = 0;
    bool operator==(const tally&) const = default;
};

tally count(swarm& s) {
    tally t;
    for (std::size_t i = 0; i < s.size(); ++i) {
        t.served += s[i].id.has_value();
        t.refused += s[i].closed && !s[i].id;
    }
    return t;
}

// Settled when nothing changes for 300 ms.
tally settle(swarm& s) {
    tally before;
    const auto deadline = clock::now() + patience;
    do {
        REQUIRE(clock::now() < deadline);
        before = count(s);
        s.pump_for(300ms);
    } while (count(s) != before);
    return before;
}

// No spin: a second at the limit, with clients in the backlog that the
// server cannot take, costs it a few retries, not a core.
void check_no_spin(swarm& s, server_process& srv, const std::string& name) {
    const double cpu_before = srv.cpu_seconds();
    const auto window_start = clock::now();
    s.pump_for(1s);
    const double cpu_used = srv.cpu_seconds() - cpu_before;
    const double window =
        std::chrono::duration<double>(clock::now() - window_start).count();
    INFO("server CPU over " << window << " s at the limit: " << cpu_used
                            << " s");
    CHECK(cpu_used < 0.25 * window);
    report() << name << " CPU at the limit: " << cpu_used << " s in " << window
             << " s";
}

// Keeps serving: the served clients pass a frame round a ring. Returns
// the ring.
std::vector<std::size_t> pass_round_ring(swarm& s) {
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
        CHECK(s[i].in == message("ring"));
        s[i].in.clear();
    }
    return ring;
}

// Accepts again: all but two of the ring leave, and the waiting clients
// are taken; none is refused. Returns a client served after the leavers
// left.
std::size_t served_again(swarm& s,
                         const std::vector<std::size_t>& ring,
                         const std::string& name) {
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
    std::size_t newly_served = 0;
    s.pump_until(
        [&] {
            newly_served = 0;
            for (auto i : hopefuls) {
                REQUIRE_FALSE(s[i].closed);  // waited, not refused
                newly_served += s[i].id.has_value();
            }
            return newly_served >= want;
        },
        "clients served again once descriptors were free");
    report() << name << " after " << leavers << " left: " << newly_served
             << " of " << hopefuls.size() << " waiting clients served";
    return *std::find_if(hopefuls.begin(), hopefuls.end(), [&](auto i) {
        return s[i].id.has_value();
    });
}

// The log is bounded: a line a second at most for the failures (accept,
// or the dup of a split socket), plus the few every run writes (the
// descriptor limit, the signal, the copies).
void check_log(server_process& srv, clock::time_point start) {
    std::string err;
    const auto status = srv.terminate(2s, err);
    const double seconds =
        std::chrono::duration<double>(clock::now() - start).count();
    INFO("server stderr:\n" << err);
    REQUIRE(status == 0);
    std::istringstream in(err);
    std::size_t lines = 0, failures = 0;
    for (std::string line; std::getline(in, line);) {
        ++lines;
        failures += line.starts_with("cannot take a client now");
    }
    CHECK(failures >= 1);  // the limit was reached, and said so
    CHECK(failures <= 1 + static_cast<std::size_t>(seconds));
    CHECK(lines <= failures + 3);
}

}  // namespace

TEMPLATE_TEST_CASE("out of descriptors: no crash, no spin, accepts again",
                   "[stress][fault]",
                   ROUTER_VARIANTS) {
    const auto name = variant<TestType>();
    // (UBSan's vptr check, which needs a spare descriptor, is off in the
    // asan build: see the top-level CMakeLists.txt.)
    const auto start = clock::now();
    server_process srv(name, {}, limit, {"ROUTER_LOG=normal"});
    swarm s(srv.port());
    for (std::size_t i = 0; i < limit + extra; ++i) {
        s.connect();  // completes in the listen backlog, served or not
    }
    const auto [served, refused] = settle(s);
    const auto waiting = s.size() - served - refused;
    INFO("served " << served << ", refused " << refused << ", waiting "
                   << waiting << "; server descriptors " << srv.fds());
    report() << name << " at " << limit << " descriptors: served " << served
             << ", refused " << refused << ", waiting " << waiting;
    REQUIRE(srv.describe() == "running");
    REQUIRE(served >= 16);
    REQUIRE(served < s.size());  // the limit was really reached
    CHECK(refused == 0);         // the excess wait in the backlog
    for (std::size_t i = 0; i < s.size(); ++i) {
        REQUIRE_FALSE((s[i].id && s[i].closed));  // none served, then lost
    }
    check_no_spin(s, srv, name);
    REQUIRE(srv.describe() == "running");
    const auto ring = pass_round_ring(s);
    const auto keep_a = ring[0], keep_b = ring[1];
    const auto newcomer = served_again(s, ring, name);
    s[keep_a].out += frame_bytes(*s[newcomer].id, "welcome");
    s[newcomer].out += frame_bytes(*s[keep_b].id, "thanks");
    s.pump_until(
        [&] { return s[newcomer].in.size() >= 8 && s[keep_b].in.size() >= 7; },
        "frames between old and new clients");
    CHECK(s[newcomer].in == message("welcome"));
    CHECK(s[keep_b].in == message("thanks"));
    for (std::size_t i = 0; i < s.size(); ++i) {
        s.close(i);
    }
    check_log(srv, start);
}
