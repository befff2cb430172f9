// Many clients: a thousand connections to an in-process server at once,
// frames between random pairs of them ([stress]).
#include <deque>
#include <map>
#include <random>
#include <set>

#include "fixture.hpp"
#include "pair_traffic.hpp"
#include "swarm.hpp"
#include "tests/procfs.hpp"

using namespace testing;

namespace {

constexpr std::size_t clients = 1000, per_client = 10;

// reactor_select rebuilds its wait over every client on every event (its
// lesson): a thousand clients take it seconds, more under the sanitizers
// or a loaded machine. Hence deadlines beyond `patience`.
constexpr auto deadline = 6 * patience;

// Parses "c<index>#<seq>:..." as written by numbered_payload("c<index>").
std::pair<std::size_t, std::uint64_t> sender_and_seq(const std::string& m) {
    const auto hash = m.find('#');
    const auto colon = m.find(':', hash);
    if (m.empty() || m[0] != 'c' || hash == std::string::npos ||
        colon == std::string::npos) {
        throw std::runtime_error("not a numbered frame: " + m.substr(0, 60));
    }
    return {std::stoul(m.substr(1, hash - 1)),
            std::stoull(m.substr(hash + 1, colon - hash - 1))};
}

std::string payload(std::size_t from, std::uint64_t seq) {
    return numbered_payload("c" + std::to_string(from), seq);
}

// Connects every client and waits for all their ids, which must differ.
void connect_all(swarm& s) {
    for (std::size_t i = 0; i < clients; ++i) {
        s.connect();
    }
    s.pump_until(
        [&] {
            for (std::size_t i = 0; i < clients; ++i) {
                REQUIRE_FALSE(s[i].closed);
                if (!s[i].id) {
                    return false;
                }
            }
            return true;
        },
        "1000 clients waiting for their ids",
        deadline);
    std::set<std::uint32_t> ids;
    for (std::size_t i = 0; i < clients; ++i) {
        ids.insert(*s[i].id);
    }
    REQUIRE(ids.size() == clients);
}

// Frames from every client to random others: what each client must
// receive, from whom, in which order.
class random_traffic {
  public:
    explicit random_traffic(swarm& s) : s_(s), plan_(clients) {
        std::mt19937 rng(1000);
        std::uniform_int_distribution<std::size_t> pick(0, clients - 1);
        for (std::size_t from = 0; from < clients; ++from) {
            for (std::uint64_t seq = 0; seq < per_client; ++seq) {
                const auto to = pick(rng);
                s_[from].out += frame_bytes(*s_[to].id, payload(from, seq));
                plan_[to][from].push_back(seq);
            }
        }
    }

    // Checks what has arrived against the plan; true once all has.
    bool check_arrivals() {
        for (std::size_t to = 0; to < clients; ++to) {
            REQUIRE_FALSE(s_[to].closed);
            while (auto msg = pop_message(s_[to].in)) {
                const auto [from, seq] = sender_and_seq(*msg);
                INFO("client " << to << " got " << msg->substr(0, 40));
                REQUIRE(outstanding_ > 0);
                auto& expected = plan_[to][from];
                REQUIRE_FALSE(expected.empty());   // sent to `to`, once
                REQUIRE(expected.front() == seq);  // in order per sender
                REQUIRE(*msg == message(payload(from, seq)));  // intact
                expected.pop_front();
                --outstanding_;
            }
        }
        return outstanding_ == 0;
    }

  private:
    swarm& s_;
    std::vector<std::map<std::size_t, std::deque<std::uint64_t>>> plan_;
    std::size_t outstanding_ = clients * per_client;
};

}  // namespace

TEMPLATE_TEST_CASE("1000 clients at once, frames between random pairs",
                   "[stress]",
                   ROUTER_VARIANTS) {
    // One descriptor per client here, one or two in the (in-process)
    // server: the default soft limit of 1024 is not enough.
    if (!procfs::raise_fd_limit(3 * clients + 100)) {
        FAIL("the hard RLIMIT_NOFILE is below " << 3 * clients + 100);
    }
    running<TestType> r;
    swarm s(r.port());
    connect_all(s);
    random_traffic traffic(s);
    s.pump_until([&] { return traffic.check_arrivals(); },
                 "frames between 1000 clients",
                 deadline);
    // Nothing extra arrives once everything expected has.
    s.pump_for(50ms);
    traffic.check_arrivals();
    for (std::size_t i = 0; i < clients; ++i) {
        CHECK(s[i].in.empty());
    }
}
