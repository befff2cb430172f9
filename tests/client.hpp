// A small blocking test client with deadlines: every wait in the suite goes
// through it, so a broken server fails a test cleanly instead of hanging CI.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// How long a test waits for something that should happen. Generous, since
// the sanitizer builds run several times slower; a passing test never waits
// this long.
inline constexpr auto patience = 10s;

struct timeout_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The wire form of one frame: dest id, payload, 0.
std::string frame_bytes(std::uint32_t dest, std::string_view payload);

// What the receiver of a frame reads: its payload, then the 0.
inline std::string message(std::string_view payload) {
    std::string m(payload);
    m += '\0';
    return m;
}

class client {
  public:
    // Connects to 127.0.0.1:port and, unless told otherwise, reads the id.
    explicit client(std::uint16_t port, bool read_id = true);
    ~client();
    client(client&& other) noexcept;
    client& operator=(client&&) = delete;

    std::uint32_t id() const { return id_; }
    int fd() const { return fd_; }

    std::uint32_t read_id();
    void send(std::string_view bytes);
    void send_frame(std::uint32_t dest, std::string_view payload) {
        send(frame_bytes(dest, payload));
    }
    // Sends at least `total` bytes of frames (whole frames of `payload`
    // bytes each) to `dest`, never blocking for long: it stops early, maybe
    // mid-frame, once the server has taken nothing for `stall`, or at the
    // deadline. Returns the bytes sent.
    std::size_t flood(std::uint32_t dest,
                      std::size_t total,
                      clock::duration stall,
                      std::size_t payload = 16 * 1024);

    // Exactly n bytes, or timeout_error (or std::runtime_error on EOF).
    std::string read_exactly(std::size_t n, clock::duration within = patience);
    // Whatever arrives next (at least one byte), or "" on EOF.
    std::string read_some(clock::duration within = patience);
    // True if nothing at all arrives for `d` (a deadline, not a sleep: it
    // returns early with false as soon as a byte or EOF arrives).
    bool silent_for(clock::duration d);
    // True if the server closes this connection within the deadline;
    // bytes that arrive first are discarded.
    bool closed_within(clock::duration within = patience);
    // The same, but true only if the end was a reset (ECONNRESET), not a
    // FIN: the server threw away what it still held for this client.
    bool reset_within(clock::duration within = patience);

    void shutdown_write();
    void close();

  private:
    bool wait_readable(clock::time_point deadline);
    std::optional<int> end_within(clock::duration within);

    int fd_ = -1;
    std::uint32_t id_ = 0;
};

}  // namespace testing
