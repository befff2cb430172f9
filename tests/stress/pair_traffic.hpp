// Traffic that checks itself: pairs of peers of a swarm exchanging
// numbered frames.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "swarm.hpp"

namespace testing {

// A pair of peers that keep sending numbered frames to each other, a few
// in flight each way, and check that each side receives exactly the other
// side's frames in order (nothing lost, duplicated, altered or foreign).
class pair_traffic {
  public:
    pair_traffic(swarm& s, std::size_t a, std::size_t b, int window = 4);
    // Tops up the frames in flight and checks what arrived; false (with a
    // reason in `error()`) as soon as something wrong arrives.
    bool step();
    // Stop sending; `drained()` once everything sent has arrived.
    void stop() { stopping_ = true; }
    bool drained() const;
    std::uint64_t delivered() const;
    const std::string& error() const { return error_; }

  private:
    struct direction {
        std::size_t from, to;
        std::uint64_t next_send = 0, next_recv = 0;
    };
    bool step(direction& d);

    swarm& swarm_;
    direction dirs_[2];
    int window_;
    bool stopping_ = false;
    std::string error_;
};

// The payload of frame `seq` on a labelled stream: self-describing and of
// varied length (0 to 200 bytes of filler), never containing a 0.
std::string numbered_payload(const std::string& label, std::uint64_t seq);

// `n` pairs of fresh peers of `s`, each with `window` frames in flight
// each way.
std::vector<pair_traffic> make_pairs(swarm& s, std::size_t n, int window = 4);

// Steps every pair; fails the test with the first error one meets.
void step_all(std::vector<pair_traffic>& pairs);

// The fewest frames any of the pairs has delivered.
std::uint64_t least_delivered(const std::vector<pair_traffic>& pairs);

// Stops every pair and pumps until all they sent has arrived.
void drain_all(swarm& s, std::vector<pair_traffic>& pairs);

}  // namespace testing
