// The command line: what to run, against what, for how long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace loadgen {

enum class protocol_kind { router, redis, nats };

struct config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    // Unless 0: the second client of each pair connects here instead, to
    // another router of a cluster (--cluster), so every frame crosses the
    // bus.
    std::uint16_t partner_port = 0;
    protocol_kind protocol = protocol_kind::router;
    unsigned pairs = 8;
    std::size_t size = 64;  // payload bytes, the terminating 0 not counted
    unsigned window = 32;   // closed loop: frames in flight per client
    unsigned batch = 0;     // closed loop: fewest frames per write; 0: half
                            // the window
    double rate = 0;        // open loop: frames/s in total; 0: closed loop
    double duration = 2.0;  // measured seconds
    double warmup = 0.3;    // seconds run before measuring
    unsigned idle = 0;
    bool slow_client = false;
    std::size_t flood_bytes = 24u << 20;
    std::size_t flood_frame = 16u << 10;
    int server_pid = 0;
    double stall_after = 1.0;    // a client waiting this long has stalled
    double connect_timeout = 0;  // 0: 10 s + 1 s per 1000 connections
    unsigned connect_parallel = 128;
    // Prints "window open" and "window closed" on stderr as the measured
    // window starts and ends, so that a tool counting the server's system
    // calls (bench/comparison/syscalls.py) counts over the same window.
    bool mark_window = false;
    // Router only: unless 0, partners are chosen by the ids the server
    // gave, not by connect order: sorted by id, in blocks of 2S, the j-th
    // pairs with the (j+S)-th. With the reactors' --threads N (shard:
    // id % N) and ids 0..2P-1, stride 1 puts every pair across two shards,
    // stride N on one (bench/comparison/shards.py).
    unsigned pair_stride = 0;
};

// Parses and checks the command line; exits with status 2 and the usage on
// anything wrong.
config parse(int argc, char** argv);

[[noreturn]] void usage_error(const std::string& what);

}  // namespace loadgen
