// Many clients at once, each sending to random others: every frame arrives
// exactly once, intact, and in order per sender.
#include <map>
#include <random>

#include "fixture.hpp"

using namespace testing;

namespace {

struct sent_frame {
    std::uint32_t from;
    int seq;
    std::string payload;
};

std::string make_payload(std::uint32_t from, int seq, std::mt19937& rng) {
    std::string p = std::to_string(from) + ":" + std::to_string(seq) + ":";
    p.append(std::uniform_int_distribution<>(0, 300)(rng),
             static_cast<char>('a' + seq % 26));
    return p;
}

}  // namespace

TEMPLATE_TEST_CASE("120 clients sending to random others lose nothing",
                   "[routing][load]",
                   ROUTER_VARIANTS) {
    running<TestType> r;
    constexpr int n_clients = 120, per_client = 40;
    std::vector<client> clients;
    for (int i = 0; i < n_clients; ++i) {
        clients.push_back(r.connect());
    }
    std::mt19937 rng(20251126);
    std::uniform_int_distribution<int> pick(0, n_clients - 1);
    std::vector<std::vector<sent_frame>> to(n_clients);
    std::vector<std::string> wire(n_clients);
    for (int i = 0; i < n_clients; ++i) {
        for (int seq = 0; seq < per_client; ++seq) {
            const int dest = pick(rng);
            auto payload = make_payload(clients[i].id(), seq, rng);
            wire[i] += frame_bytes(clients[dest].id(), payload);
            to[dest].push_back({clients[i].id(), seq, std::move(payload)});
        }
    }
    // Interleave the senders: each sends its bytes in three pieces cut at
    // random points, round-robin, so frames are split across writes.
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < n_clients; ++i) {
            const auto size = wire[i].size();
            const auto cut =
                round == 2
                    ? size
                    : std::uniform_int_distribution<std::size_t>(0, size)(rng);
            clients[i].send(wire[i].substr(0, cut));
            wire[i].erase(0, cut);
        }
    }
    for (int d = 0; d < n_clients; ++d) {
        std::size_t total = 0;
        std::map<std::pair<std::uint32_t, int>, std::string> expected;
        for (auto& f : to[d]) {
            total += f.payload.size() + 1;
            expected[{f.from, f.seq}] = f.payload;
        }
        const auto got = clients[d].read_exactly(total);
        std::map<std::uint32_t, int> last_seq;
        std::size_t pos = 0;
        while (pos < got.size()) {
            const auto end = got.find('\0', pos);
            REQUIRE(end != std::string::npos);
            const auto payload = got.substr(pos, end - pos);
            pos = end + 1;
            const auto c1 = payload.find(':');
            const auto c2 = payload.find(':', c1 + 1);
            REQUIRE(c2 != std::string::npos);
            const auto from =
                static_cast<std::uint32_t>(std::stoul(payload.substr(0, c1)));
            const int seq = std::stoi(payload.substr(c1 + 1, c2 - c1 - 1));
            auto it = expected.find({from, seq});
            REQUIRE(it != expected.end());   // sent to d, and only once
            REQUIRE(it->second == payload);  // intact
            expected.erase(it);
            auto [prev, fresh] = last_seq.try_emplace(from, seq);
            REQUIRE((fresh || prev->second < seq));  // in order per sender
            prev->second = seq;
        }
        REQUIRE(expected.empty());
        CHECK(clients[d].silent_for(1ms));
    }
}
