// The JSON report: one object on stdout. bench/compare parses it: keep its
// fields' names and meaning.
#pragma once

#include <cstdint>
#include <string>

#include "client.hpp"
#include "config.hpp"
#include "hol_probe.hpp"
#include "server_watch.hpp"

namespace loadgen {

struct report {
    const config& cfg;
    const char* protocol;
    const connect_result& connect;
    const tally& counts;
    std::uint64_t sent;        // frames the paired clients sent
    std::uint64_t min_client;  // fewest a client received in the window
    const hol_result* hol;     // nullptr without --slow-client
    const server_watch& server;
    double loadgen_cpu_s;
    bool deadline_hit;
};

std::string to_json(const report& r);

}  // namespace loadgen
