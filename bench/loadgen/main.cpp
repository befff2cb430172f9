// loadgen: the project's load generator, one process, one thread, Asio.
//
// What it measures: frames delivered per second between N client pairs
// (each client sends to its partner only), one-way latency (a send
// timestamp rides in every payload; sender and receiver share this process's
// clock), and, given --server-pid, the server's CPU time and peak RSS over
// the measured window. Every received frame is verified: from the right
// partner, intact, in order; anything else is counted as an error.
//
// Load shapes:
//  - closed loop (default): each client keeps at most --window frames in
//    flight to its partner; the throughput a server sustains;
//  - open loop (--rate R): R frames/s in total, evenly spread over the
//    clients, whatever the server does; the latency at a given load. A frame
//    delayed because the server stopped reading is stamped with the time it
//    was due, not the time it finally went out, so a stall shows in the
//    latency instead of hiding (no "coordinated omission").
// Options for the article's claims: --slow-client adds a client that never
// reads while another floods it with --flood-bytes (head-of-line blocking,
// unbounded queues); --idle K holds K idle connections open (the cost of
// watching every socket).
//
// It always ends: the run has a hard deadline, and a server that stops
// delivering is reported as `"stalled": true`, never waited for. It prints
// one JSON object on stdout; exit status 0 if every frame checked out and
// nothing stalled, 1 otherwise (the JSON is printed either way).
//
// --protocol redis drives a Redis 7 server instead, and --protocol nats a
// NATS server, each through an adapter: each client subscribes to its own
// channel (subject) and publishes to its partner's. --partner-port P
// connects the second client of each pair to port P: another router of a
// cluster (--cluster), so that every frame crosses the bus.
//
// The parts: config (command line), payload (encoding and check), histogram,
// protocol (the interface) with router_protocol, redis_protocol (and resp3)
// and nats_protocol behind it, connector (connect phase), driver (the run's
// phases) and traffic (the load and its check), schedule (open loop),
// hol_probe (--slow-client), server_watch (the server, through tests/procfs),
// report (JSON).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "config.hpp"
#include "driver.hpp"
#include "tests/procfs.hpp"

int main(int argc, char** argv) {
    using namespace loadgen;
    const config cfg = parse(argc, argv);
    procfs::raise_fd_limit();
    asio::io_context ioc(1);
    driver run(ioc, cfg);
    run.start();
    // The hard deadline: run_for returns even if the server never answers.
    // The whole run is single-threaded, so once it returns nothing else
    // touches the counters.
    const auto deadline = std::chrono::duration<double>(run.hard_deadline());
    ioc.run_for(std::chrono::duration_cast<steady::duration>(deadline));
    const bool deadline_hit = !run.finished();
    std::cout << run.json(deadline_hit) << std::flush;
    // Thousands of sockets need no orderly teardown: the kernel closes them.
    std::_Exit(deadline_hit ? 1 : run.exit_status());
}
