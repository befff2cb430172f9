// The command line every variant shares (docs/protocol.md, "Command line").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace common {

// What a variant says about itself in `--help`, and its one optional
// demonstration flag (e.g. naive_mutex's `--deadlock`).
struct variant_info {
    std::string_view name;
    std::string_view model;      // one line for --help
    bool multi_threaded;         // does --threads set the loop's threads?
    bool queues;                 // does --max-pending apply?
    std::string_view demo_flag;  // "" when the variant has none
    std::string_view demo_help;
    // Does --threads set the number of reactors, one per thread, each
    // owning a shard of the clients (default 1)? The two reactors.
    bool sharded = false;
    // Does --cluster apply? The reactors only (docs/protocol.md, "Cluster
    // mode"): the NATS connection is one more event source of their loop.
    bool clusters = false;
    // A minimal version (<variant>/minimal.cpp): it takes the limits'
    // options, so that one command line drives every binary, and ignores
    // them, which --help says instead of describing them.
    bool minimal = false;
};

// The largest values --max-frame and --max-pending take: past them, a
// typo rather than a plan (a frame's buffer of 2^64 bytes, or a bound that
// wraps when a frame is added to it), refused where options are parsed.
inline constexpr std::size_t max_frame_limit = std::size_t{1} << 30;
inline constexpr std::size_t max_pending_limit = std::size_t{1} << 36;
inline constexpr std::size_t max_clients_limit = std::size_t{1} << 20;

struct options {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 8080;
    std::size_t max_frame = 1048576;
    std::size_t max_pending = 8388608;
    // How long a client with output waiting for it may take none of it
    // before it is disconnected as a slow consumer; zero: no deadline.
    std::chrono::milliseconds write_timeout{10000};
    unsigned threads = 0;  // 0: one per hardware thread
    // The total bound (docs/protocol.md, "Limits"): how many clients are
    // connected at once (past it, a newcomer is closed before its id is
    // sent), and how long a client may leave a frame it began unfinished
    // before it is closed; zero: no deadline.
    std::size_t max_clients = 10000;
    std::chrono::milliseconds frame_timeout{30000};
    // Cluster mode (docs/protocol.md, "Cluster mode"): the NATS server's
    // URL, empty when the router runs alone, and this router's node, which
    // names its ids (common::node_ids).
    std::string cluster;
    unsigned node = 0;
    bool demo = false;  // the variant's demonstration flag was given
    bool help = false;
    // For tests only, set by no command-line option: unless 0, the id
    // handed out second, so that a test reaches the wrap of the 32-bit id
    // counter (docs/protocol.md, point 1) in a few accepts, with the client
    // numbered 0 still connected.
    std::uint32_t id_jump = 0;
    // For tests only, set by no command-line option: unless 0, the bytes
    // a reactor shard's inbox holds before it refuses more
    // (common/reactor/shards.hpp), so that a test fills one quickly.
    std::size_t inbox_capacity = 0;

    unsigned thread_count() const;
};

// The outcome of parsing: options, or a one-line error naming the option.
struct parse_result {
    std::optional<options> opts;
    std::string error;
};

parse_result parse_command_line(int argc,
                                const char* const* argv,
                                const variant_info& info);

std::string usage(const variant_info& info);

// --- The rules of --max-pending (docs/protocol.md, "Command line") ---
//
// In every model that queues, --max-pending bounds a client's backlog
// (the output queued for it), not a frame, and it is a soft limit: a burst
// may take a backlog past it, if the client takes it down again within
// --write-timeout. A client is a slow consumer, cut at once, when a frame
// for it arrives and
//  - its backlog would pass the hard limit, `hard_pending_factor` times
//    --max-pending: so memory stays bounded whatever the bursts; or
//  - its backlog has been past --max-pending since at least
//    --write-timeout ago (at once with --write-timeout 0).
// A client with nothing queued takes a frame of any size, so a frame
// within --max-frame always reaches a client that keeps up. Four, as in
// Redis's limits for pub/sub clients (a soft 8 MB for 60 s, a hard 32 MB):
// room for a burst of 16 frames of the largest default size at once.
inline constexpr std::size_t hard_pending_factor = 4;

constexpr std::size_t hard_max_pending(std::size_t max_pending) {
    return hard_pending_factor * max_pending;
}

// The one rule of --frame-timeout, in every model (docs/protocol.md,
// point 9): the deadline belongs to one partial frame. A read that
// completes a frame, or leaves no partial frame, ends the deadline that
// ran; a partial frame left after it is a new one, with a new deadline.
// Any other read (more bytes of the same frame) leaves the deadline as it
// is: a client that trickles a frame in is cut off all the same.
constexpr bool frame_deadline_restarts(bool completed, bool partial_left) {
    return completed || !partial_left;
}

// One client's backlog, watched against those rules by whoever adds to it
// (a dispatcher, the reactors' core): it is only checked when a frame
// arrives, so between two frames nobody needs to look at it, or at a
// clock. Not thread-safe: one owner.
class backlog_watch {
  public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;
    enum class verdict { take, past_hard_limit, over_too_long };

    // For the log line of a client cut off.
    static const char* why(verdict v) {
        return v == verdict::past_hard_limit
                   ? "slow consumer: past the hard limit of its backlog"
                   : "slow consumer: past --max-pending for --write-timeout";
    }

    // A frame of `adding` bytes arrives for a client with `queued` bytes
    // waiting; `now()` (called only when the backlog is past the limit)
    // says when. A backlog only grows here, so one found back within
    // the limit was there at some point since the last frame.
    template <class Now>
    verdict check(std::size_t queued,
                  std::size_t adding,
                  std::size_t max_pending,
                  std::chrono::milliseconds window,
                  Now&& now) {
        if (queued > 0 && queued + adding > hard_max_pending(max_pending)) {
            return verdict::past_hard_limit;
        }
        if (queued <= max_pending) {
            over_since_ = time_point::max();
        }
        if (queued + adding <= max_pending) {
            return verdict::take;
        }
        const time_point t = now();
        if (over_since_ == time_point::max()) {
            over_since_ = t;
        }
        return queued > 0 && t - over_since_ >= window ? verdict::over_too_long
                                                       : verdict::take;
    }
    template <class Now>
    verdict check(std::size_t queued,
                  std::size_t adding,
                  const options& opts,
                  Now&& now) {
        return check(queued, adding, opts.max_pending, opts.write_timeout, now);
    }

  private:
    time_point over_since_ = time_point::max();  // max: not past the limit
};

}  // namespace common
