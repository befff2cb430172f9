#include "pair_traffic.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

namespace testing {

std::string numbered_payload(const std::string& label, std::uint64_t seq) {
    std::string p = label + "#" + std::to_string(seq) + ":";
    p.append(seq * 37 % 201, static_cast<char>('a' + seq % 26));
    return p;
}

pair_traffic::pair_traffic(swarm& s, std::size_t a, std::size_t b, int window)
    : swarm_(s), dirs_{{a, b}, {b, a}}, window_(window) {}

bool pair_traffic::step() {
    return error_.empty() && step(dirs_[0]) && step(dirs_[1]);
}

bool pair_traffic::step(direction& d) {
    peer& from = swarm_[d.from];
    peer& to = swarm_[d.to];
    const auto label = "p" + std::to_string(d.from);
    if (from.closed || to.closed) {
        error_ = "the server closed " + label + "'s pair";
        return false;
    }
    if (!from.id || !to.id) {
        return true;  // not yet known: nothing to send to
    }
    while (!stopping_ && d.next_send - d.next_recv < std::uint64_t(window_)) {
        from.out += frame_bytes(*to.id, numbered_payload(label, d.next_send));
        ++d.next_send;
    }
    while (auto msg = pop_message(to.in)) {
        auto expected = message(numbered_payload(label, d.next_recv));
        if (d.next_recv == d.next_send || *msg != expected) {
            error_ = "peer " + std::to_string(d.to) + " got '" +
                     msg->substr(0, 60) + "', expected '" +
                     expected.substr(0, 60) + "'";
            return false;
        }
        ++d.next_recv;
    }
    return true;
}

bool pair_traffic::drained() const {
    return dirs_[0].next_recv == dirs_[0].next_send &&
           dirs_[1].next_recv == dirs_[1].next_send;
}

std::uint64_t pair_traffic::delivered() const {
    return dirs_[0].next_recv + dirs_[1].next_recv;
}

std::vector<pair_traffic> make_pairs(swarm& s, std::size_t n, int window) {
    std::vector<pair_traffic> pairs;
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = s.connect();
        const auto b = s.connect();
        pairs.emplace_back(s, a, b, window);
    }
    return pairs;
}

void step_all(std::vector<pair_traffic>& pairs) {
    for (auto& p : pairs) {
        // The error is known only after step() fails: say it then.
        if (!p.step()) {
            FAIL(p.error());
        }
    }
}

std::uint64_t least_delivered(const std::vector<pair_traffic>& pairs) {
    std::uint64_t least = UINT64_MAX;
    for (const auto& p : pairs) {
        least = std::min(least, p.delivered());
    }
    return least;
}

void drain_all(swarm& s, std::vector<pair_traffic>& pairs) {
    for (auto& p : pairs) {
        p.stop();
    }
    s.pump_until(
        [&] {
            step_all(pairs);
            return std::all_of(pairs.begin(), pairs.end(), [](auto& p) {
                return p.drained();
            });
        },
        "the pairs' last frames");
}

}  // namespace testing
