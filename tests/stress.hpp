// Support for the stress and fault tests (stress_test.cpp, fault_test.cpp):
// many non-blocking connections driven by one poll loop, traffic that
// checks itself, and a server executable run as a child process so that
// its descriptors, memory and CPU can be read from /proc.
//
// One thread drives every connection, so no test can deadlock itself on a
// full socket buffer: whatever the server sends is read while the test is
// still sending. Every loop has a deadline.
#pragma once

#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client.hpp"
#include "common/procfs.hpp"
#include "process.hpp"

namespace testing {

// The sanitizer builds run the same tests; a few figures only hold without
// them (ASan's quarantine keeps freed memory resident on purpose, TSan's
// allocator keeps its own caches), and slower runs get longer deadlines.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif
#else
inline constexpr bool sanitized = false;
#endif

// The figures behind an assertion (descriptors, memory, CPU), printed to
// stderr when ROUTER_STRESS_REPORT is set, for docs/reliability.md and for
// judging how much headroom a bound has.
void report(const std::string& line);

// Waits until `done()` holds, re-checking every 10 ms: for state that only
// /proc shows (a count of descriptors), which no event announces.
bool eventually(const std::function<bool()>& done,
                clock::duration within = patience);

// A variant's executable, started with --port 0 and ROUTER_LOG=quiet,
// optionally under `prlimit --nofile=N`.
class server_process {
  public:
    server_process(const std::string& variant,
                   std::vector<std::string> args = {},
                   std::optional<std::size_t> nofile = std::nullopt,
                   std::vector<std::string> env = {});
    std::uint16_t port() const { return port_; }
    pid_t pid() const { return proc_.pid(); }
    // For a failure message: "running", or how it ended and its stderr.
    std::string describe();
    // SIGTERM; the exit status (nullopt if it did not exit in time), and
    // whatever it wrote to stderr (a sanitizer's report, say) in `err`.
    std::optional<int> terminate(clock::duration within, std::string& err);

  private:
    process proc_;
    std::uint16_t port_ = 0;
};

// The executable's name of a variant's server type.
template <class Server>
std::string variant() {
    return std::string(Server::info.name);
}

// Ends a test: the server must exit 0 on SIGTERM within the contract's
// 2 s, which under ASan includes LeakSanitizer's check (a leak exits 23)
// and under TSan any race report (exit 66). Returns how long it took.
inline clock::duration expect_clean_exit(server_process& srv) {
    std::string err;
    const auto start = clock::now();
    const auto status = srv.terminate(2s, err);
    const auto took = clock::now() - start;
    INFO("server stderr:\n" << err);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    return took;
}

// One non-blocking connection, driven by a `swarm`.
struct peer {
    int fd = -1;
    std::optional<std::uint32_t> id;  // once its 4 bytes have arrived
    bool closed = false;              // EOF or reset seen, or closed by us
    std::string out;                  // bytes still to send
    std::size_t sent = 0;             // bytes sent so far, in total
    std::string in;                   // bytes received after the id
    std::size_t received = 0;         // bytes received in total
    bool keep_input = true;           // false: count received bytes only
    bool paused = false;              // true: not read at all (a slow one)
};

class swarm {
  public:
    explicit swarm(std::uint16_t port);
    ~swarm();
    swarm(const swarm&) = delete;
    swarm& operator=(const swarm&) = delete;

    // Connects (the connect itself completes in the listen backlog, before
    // the server accepts) and returns the new peer's index.
    std::size_t connect(int rcvbuf = 0);
    peer& operator[](std::size_t i) { return *peers_[i]; }
    std::size_t size() const { return peers_.size(); }

    // Closes our end; with `reset`, with an RST instead of a FIN.
    void close(std::size_t i, bool reset = false);

    // Sends and receives until done() holds, or throws timeout_error at
    // the deadline with `what`. done() is checked after every poll round.
    void pump_until(const std::function<bool()>& done,
                    const std::string& what,
                    clock::duration within = patience);
    // Sends and receives for `d`: traffic keeps flowing while the test
    // waits for something outside the swarm (a CPU window).
    void pump_for(clock::duration d);

  private:
    void round(int timeout_ms);
    void on_readable(peer& p);
    void on_writable(peer& p);

    std::uint16_t port_;
    std::vector<std::unique_ptr<peer>> peers_;
};

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

// Pops one complete message (payload + 0) from the front of `in`.
std::optional<std::string> pop_message(std::string& in);

}  // namespace testing
