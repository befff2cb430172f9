// The sans-I/O router: the whole routing state and its rules, driven by
// events, with no sockets, no clock, no executor and no threads.
//
// The article's closing section: the reactor decides *when* something can
// be done (a socket is readable, writable, a client arrived or left, a
// deadline passed); this class decides *what* is done (parse, route,
// queue, drop, close). Both reactors drive it, so their two server.cpp
// files differ only in how they wait for events.
//
// Events in:     handle_connect(), read_buffer() + handle_input(),
//                handle_written(), handle_disconnect(), handle_timeout();
//                with shards: handle_parcel(), handle_refused(),
//                handle_room().
// Decisions out: poll_transmit() (who has new output) and
//                output_buffers(id) (what to write to it, gathered),
//                poll_close() (whom to disconnect, and why),
//                poll_dropped() (frames dropped, worth a log line),
//                poll_timeout() (when to call handle_timeout() next),
//                poll_expired() (who is past its write deadline);
//                with shards: poll_forward() + take_parcel() (frames
//                for ids another shard owns), held() and poll_resumed()
//                (whom not to read while its frames wait for room).
// Time is an argument: every event that can start, move or fire a
// deadline (write or frame) takes `now`, and the core never reads a clock, so a
// test or a fuzzer drives time by hand. `now` must never go backwards. Nor does
// it log: the drivers write the lines of what poll_close() and poll_dropped()
// hand them (poll_close_and_log() below).
//
// Guarantees (docs/protocol.md):
//  - ids in accept order from 0; once the counter wraps, ids in use are
//    skipped (common::id_counter), a closed client's until the driver has
//    its closure; a client's id is the first thing queued for it, so no
//    frame can overtake it;
//  - every complete frame of a read is routed before handle_input()
//    returns, so a client that leaves after sending loses nothing it
//    completed;
//  - bounded memory: a client's queued output never exceeds the hard
//    limit, common::hard_max_pending(max_pending), or one frame if that
//    alone is larger (common::backlog_watch: a client with nothing queued
//    takes a frame of any size; past the hard limit, or past max_pending
//    for write_timeout, when a frame arrives, the client is closed as a
//    slow consumer and its output freed); its parser holds at most one
//    partial frame plus one read;
//  - the write deadline (point 8): all the output queued for a client
//    when its deadline starts (when output appears) must be taken by
//    write_timeout later; if it is not, the client is closed by the first
//    handle_timeout() at or after that instant, and its output freed. Once
//    it is, whatever was queued since is due by a new write_timeout. Zero:
//    no deadline.
//  - the frame deadline (point 9): a client whose input ends in a partial
//    frame for frame_timeout, counted from the read that left that frame
//    partial (common::frame_deadline_restarts), is closed by the first
//    handle_timeout() at or after that instant. Zero: no deadline.
//
// Zero-copy when it can be (the fast path): a frame to a client with
// nothing queued (and not shorter than lend_from) is not copied but lent,
// a view into its sender's read buffer, and output_buffers(id) hands the
// driver those views (from any number of senders) for one gathered write.
// Whatever the socket does not take is copied into the client's queue by
// handle_written(), so a lent frame lives until its destination's next
// write, no longer. Frames to a client with bytes queued are copied
// behind them, as are those past max_gather views, so the order never
// changes. A read buffer that is about to be overwritten or freed
// (read_buffer() or handle_input() for its sender, the sender leaving or
// being closed) first has the frames still lent from it copied into their
// destinations' queues (spilled): whatever the driver does, the core
// never reads freed memory.
//
// Why the drivers' zero-copy path is safe, told here once for all of them
// (common/reactor/reactor_io.hpp, bench/epoll_forwarder.cpp): a driver's round
// reads each sender at most once (a busy one waits for the next round),
// then ends with a write to every destination with lent frames, after
// which the core has copied whatever its socket did not take. So no read
// buffer is read into again while a frame in it is lent. A driver that
// read a sender twice before writing, or put its writes off, would break
// that; the core then spills the lent frames before the buffer is
// overwritten or freed, so the driver stays correct and only copies.
//
// Shards (docs/08-past-one-core.md): a core may own only some of the ids,
// those with id % count == index (shard_place). A frame for an id it does
// not own is a decision: it is packed into a parcel for the owning shard
// (common/reactor/parcel.hpp), one per shard, which the driver takes
// (poll_forward, take_parcel) and hands over; a parcel handed to it is an
// event (handle_parcel), whose frames it delivers as its own clients'
// would be, limits and deadlines included. A parcel the other shard had no
// room for comes back (handle_refused): it waits, in order, in front of
// the frames packed since, and each client with frames in it is held:
// held() says not to read it, so the waiting frames stay bounded by one
// read per held client. Once the driver hears of room (handle_room), the
// parcel is listed again; once it is taken, its senders come out of
// poll_resumed(). With one shard (the default) none of this runs.
//
// Not thread-safe, on purpose: one loop owns it and mutates it directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/counters.hpp"
#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"
#include "common/options.hpp"
#include "common/reactor/byte_queue.hpp"

namespace common {

// Which ids a core owns: those with id % count == index; in cluster mode
// (docs/protocol.md, "Cluster mode"), of those, the ids of its node.
struct shard_place {
    unsigned count = 1;
    unsigned index = 0;
    bool clustered = false;
    unsigned node = 0;
    static unsigned of(client_id id, unsigned count) { return id % count; }
    // A client of another router: its frames go out on the bus.
    bool remote(client_id id) const { return clustered && node_of(id) != node; }
};

class router_core {
  public:
    using clock = std::chrono::steady_clock;
    using time_point = clock::time_point;

    enum class close_reason {
        protocol_error,    // a frame longer than max_frame (point 6)
        slow_consumer,     // past the hard limit (hard_max_pending)
        over_max_pending,  // past max_pending for write_timeout
        write_timeout,     // did not take its output in time (point 8)
        frame_timeout,     // left a frame unfinished for frame_timeout (9)
    };
    struct closure {
        client_id id;
        close_reason why;
        // The limit it went past, for the driver's log line: max_frame,
        // the hard limit or max_pending (bytes), or write_timeout or
        // frame_timeout (ms).
        std::uint64_t limit;
    };
    // A frame to an unknown id that is worth a log line (drop_counter's
    // rule): the count includes it.
    struct dropped_frame {
        client_id dest;
        client_id from;
        std::uint64_t count;
    };

    // What the drivers pass as lend_from: a frame shorter than this costs
    // less to copy than to hand the kernel as one more piece of a gathered
    // write. The kernel walks each piece of a writev on its own, a cost
    // per piece, while the copied frames all go out as one piece, the
    // queue, whose copy costs per byte.
    static constexpr std::size_t small_frame = 2048;

    // write_timeout zero: no write deadline; frame_timeout zero: no frame
    // deadline; both zero: poll_timeout() is always empty. Frames shorter
    // than lend_from bytes are always copied (zero: every frame to a
    // client with nothing queued is lent). id_jump: for tests
    // (options::id_jump).
    router_core(std::size_t max_frame,
                std::size_t max_pending,
                std::chrono::milliseconds write_timeout =
                    std::chrono::milliseconds::zero(),
                std::size_t lend_from = 0,
                std::chrono::milliseconds frame_timeout =
                    std::chrono::milliseconds::zero(),
                client_id id_jump = 0,
                shard_place shard = {});

    // --- Events in ---

    // A client connected: its new id, which is already queued for it (so
    // its write deadline starts now).
    client_id handle_connect(time_point now);
    // The same for a client numbered elsewhere (by the acceptor of the
    // shards): `id`, which this core owns and no client of it holds.
    void handle_connect(client_id id, time_point now);

    // Bytes arrived from `id`, without a copy: read at most `n` bytes into
    // `read_buffer(id, n)`, then say how many with
    // `handle_input(id, count, now)`. Every frame they complete is routed
    // at once; a partial frame left starts, keeps or ends the client's
    // frame deadline. An unknown id gets an empty buffer.
    std::span<char> read_buffer(client_id id, std::size_t n);
    void handle_input(client_id id, std::size_t count, time_point now);
    // The same, copying bytes the caller already holds.
    void handle_input(client_id id, std::string_view bytes, time_point now);

    // The socket took the first `n` bytes of output_buffers(id). Once it
    // has taken all that was due by the client's write deadline, the
    // deadline restarts for what is left, or is cleared if nothing is. Frames
    // lent to it that the socket did not take, however many or few (n may be
    // 0), are copied into its queue.
    void handle_written(client_id id, std::size_t n, time_point now);

    // The client left (EOF, error, or closed by its driver). Its complete
    // frames were routed when they arrived; its partial frame and queued
    // output are discarded; its id leaves the table. Unknown ids are
    // ignored, so calling it for a closed client is harmless.
    void handle_disconnect(client_id id);

    // Time passed: every client whose write deadline is at or before `now`
    // is closed (close_reason::write_timeout), then every other one whose
    // frame deadline is (close_reason::frame_timeout). Call it once `now`
    // reaches poll_timeout(); calling it earlier, or more often, is
    // harmless.
    void handle_timeout(time_point now);

    // A parcel of frames for this core's clients, from another thread
    // (parcel.hpp): delivered as if its clients' own, but copied.
    void handle_parcel(std::span<const char> parcel, time_point now);

    // The parcel take_parcel(shard) gave could not go: that shard's inbox
    // is full. It waits, and its senders are held, until handle_room().
    void handle_refused(unsigned shard, std::vector<char>&& parcel);

    // The inbox of `shard` has room again: its waiting parcel is listed
    // by poll_forward().
    void handle_room(unsigned shard);

    // --- Decisions out ---

    // Everything waiting for `id`, in order, to be written in one go
    // (writev): the frames lent from their senders' read buffers, then
    // the bytes queued; at most max_gather pieces (io_sizes.hpp: frames
    // past it are copied). Then handle_written() with what the socket took,
    // before anything else is asked of the core. Valid until the next call
    // to the core.
    std::span<const std::string_view> output_buffers(client_id id);

    // Clients whose output went from empty to not empty since the last
    // call, appended to `to_flush`. A listed client stays the driver's to
    // write until output(id) is empty again: it is not listed twice
    // meanwhile.
    void poll_transmit(std::vector<client_id>& to_flush);

    // Clients the core has closed since the last call, appended to `out`.
    // They have already left the table: the driver logs them (see
    // poll_close_and_log() below) and closes their sockets.
    void poll_close(std::vector<closure>& out);

    // The drops since the last call that are worth a log line, appended to
    // `out`, for the driver to log (poll_close_and_log() below); drops()
    // counts them all.
    void poll_dropped(std::vector<dropped_frame>& out);

    // When to call handle_timeout() next, or none: no client has a write
    // or frame deadline. It may be earlier than needed (the deadlines are kept
    // in a lazy heap, which still holds those that were since moved later or
    // cleared, or whose client left): such a wake-up finds nothing due
    // and is harmless. It is never later than the earliest deadline.
    std::optional<time_point> poll_timeout() const;

    // For a driver's one timer at poll_timeout(), set again only when that
    // instant changed (a system call when the earliest deadline moves, not
    // one per round): `timer_at` is where the timer is set, none if it is
    // not. False if that is still poll_timeout(); else true, and
    // `timer_at` is moved there: the driver sets its timer to it, or
    // disarms it if none.
    bool update_timer(std::optional<time_point>& timer_at) const {
        const auto next = poll_timeout();
        if (next == timer_at) {
            return false;
        }
        timer_at = next;
        return true;
    }

    // The clients whose write deadline is at or before `now`, appended to
    // `out`: those the next handle_timeout(now) closes. For a driver that
    // tries one last write to each first: a kernel reports a socket
    // writable only once a good part of its buffer is free, so a client
    // that reads slowly may have made room unnoticed, and if its socket
    // now takes all that was due (handle_written), its deadline moves.
    void poll_expired(time_point now, std::vector<client_id>& out) const;

    // The shards with a parcel to take, appended to `out`: each once until
    // take_parcel() takes it.
    void poll_forward(std::vector<unsigned>& out);
    // The frames packed for `shard`, moved out for its inbox. A client
    // held for it is let go: poll_resumed() names it, unless
    // handle_refused() holds it again first.
    std::vector<char> take_parcel(unsigned shard);

    // Whether `id` must not be read: frames it sent wait for room.
    bool held(client_id id) const {
        auto it = clients_.find(id);
        return it != clients_.end() && !it->second.held_for.empty();
    }
    // Clients no longer held since the last call, appended to `out`.
    void poll_resumed(std::vector<client_id>& out);

    bool owns(client_id id) const {
        return !shard_.remote(id) &&
               (shard_.count == 1 ||
                shard_place::of(id, shard_.count) == shard_.index);
    }

    // Cluster mode: the frames for clients of other nodes (of other
    // routers) since the last call, packed as a parcel (parcel.hpp),
    // appended to `out`, for the driver to publish on the bus. Nothing
    // holds them back: the bus takes or drops them (common/cluster/bus.hpp).
    void take_remote(std::vector<char>& out) {
        out.insert(out.end(), remote_.begin(), remote_.end());
        remote_.clear();
    }

    // --- Inspection (tests, fuzzer) ---

    // Everything waiting for `id`, lent and queued, joined: a copy.
    std::string output(client_id id) const;
    // How many bytes are waiting for `id`: more than one output_buffers()
    // holds when they take more than max_gather pieces.
    std::size_t pending(client_id id) const {
        auto it = clients_.find(id);
        return it == clients_.end()
                   ? 0
                   : it->second.ref_bytes + it->second.out.size();
    }
    // The frame bytes that were delivered (handed to a socket, ids not
    // counted) and those copied on the way (into a queue, spills included).
    const copy_counter& copies() const { return copies_; }
    bool connected(client_id id) const { return clients_.contains(id); }
    std::size_t size() const { return clients_.size(); }
    std::uint64_t drops() const { return drops_.count(); }
    // The client's write deadline, or none (no output queued, no deadline
    // configured, or not connected).
    std::optional<time_point> write_deadline(client_id id) const;
    // The client's frame deadline, or none (no partial frame, no deadline
    // configured, or not connected).
    std::optional<time_point> frame_deadline(client_id id) const;

  private:
    static constexpr time_point none = time_point::max();

    // A frame lent to its destination: a view into its sender's parser.
    struct lent {
        std::string_view bytes;
        client_id from;
    };

    struct client {
        explicit client(std::size_t max_frame) : parser(max_frame) {}
        frame_parser parser;     // input: the partial frame, if any
        std::vector<lent> refs;  // output: first these frames, in place,
        std::size_t ref_bytes = 0;
        byte_queue out;           // then these bytes, copied
        std::size_t id_left = 4;  // of its id, at the front, not yet written
        // As a sender: the clients it lent frames to (maybe since written).
        std::vector<client_id> lent_to;
        time_point deadline = none;        // `none` unless output is queued
        std::size_t due = 0;               // bytes still due by `deadline`
        backlog_watch backlog;             // against max_pending
        time_point frame_deadline = none;  // `none` unless a partial frame
        // Its entries in `deadlines_`, if any: one per kind.
        time_point heap_key[2] = {none, none};
        bool closing = false;  // closed while its frames are routed
        // The shards whose waiting parcel holds frames of it: while any,
        // it is held (not read).
        std::vector<unsigned> held_for;
    };

    // The frames for one other shard, not yet handed to its inbox.
    struct outlet {
        std::vector<char> parcel;
        std::vector<client_id> senders;  // of its frames (maybe repeated)
        std::vector<client_id> flight;   // of the parcel last taken
        std::vector<client_id> held;     // held for it
        bool listed = false;             // for poll_forward()
        bool waiting = false;            // refused: until taken again
    };

    // The two deadlines a client may have, each with its own entry.
    enum deadline_kind : std::uint8_t { write_kind, frame_kind };
    struct deadline_entry {
        time_point at;
        client_id id;
        deadline_kind kind;
    };
    static time_point& deadline_of(client& c, deadline_kind k) {
        return k == write_kind ? c.deadline : c.frame_deadline;
    }

    void route(client_id from, client& sender, time_point now);
    // `sender` is null for a frame from a parcel: it is copied, never lent.
    void deliver(client_id from,
                 client* sender,
                 client_id dest_id,
                 std::string_view message,
                 time_point now);
    void forward(client_id from, client_id dest, std::string_view message);
    void go_remote(client_id from, client_id dest, std::string_view message);
    void hold(client_id id, unsigned shard);
    void append(client& dest, std::string_view bytes);
    void release(client_id sender_id, client& sender);
    void spill(client& dest, std::size_t written);
    void erase(client_id id);
    void start_deadline(client_id id, client& c, time_point now);
    void schedule(client_id id, client& c, deadline_kind k);
    void restart_frame_deadline(client_id id, client& c, time_point now);
    void close(client_id id, client& c, close_reason why, std::uint64_t limit);

    std::size_t max_frame_;
    std::size_t max_pending_;
    std::chrono::milliseconds write_timeout_;
    std::size_t lend_from_;
    std::chrono::milliseconds frame_timeout_;
    id_counter ids_;
    std::unordered_map<client_id, client> clients_;
    std::vector<client_id> to_flush_;
    std::vector<closure> closures_;
    std::vector<dropped_frame> dropped_;  // for poll_dropped()
    // A min-heap of (deadline, id, kind), lazy: an entry is pushed only
    // when a client without one of that kind gets a deadline of it;
    // moving or clearing a deadline leaves the entry as it is, and
    // handle_timeout() sorts it out when it comes due. So a client has at
    // most one entry of each kind (a departed client's stay until they
    // come due), and the hot path (output appears, the socket takes some,
    // a read leaves a partial frame) touches the heap only when a client
    // that has no entry of a kind gets a deadline of it.
    std::vector<deadline_entry> deadlines_;
    std::vector<std::string_view> gather_;  // output_buffers()' answer
    drop_counter drops_;
    copy_counter copies_;
    shard_place shard_;
    std::vector<outlet> outlets_;       // one per shard (this one's unused)
    std::vector<unsigned> to_forward_;  // for poll_forward()
    std::vector<client_id> resumed_;    // for poll_resumed()
    std::vector<char> remote_;          // for take_remote()
};

// What a driver calls for poll_close(): the closures appended to `out`, as
// poll_close() does, and a line logged for each of them and for each drop
// poll_dropped() has. The core does no I/O, so its drivers write these
// lines, all with this (defined in core_log.cpp).
void poll_close_and_log(router_core& core,
                        std::vector<router_core::closure>& out);

}  // namespace common
