// libFuzzer target for common::router_core, the sans-I/O state machine
// both reactors drive: any sequence of events (connects, reads of any
// bytes from any id, partial writes, departures, time passing on a fake
// clock) against a plain model of docs/protocol.md (router_core_model.hpp,
// with the checks; here, the events).
//
// After every event the core and the model agree on who is connected, on
// every byte queued for every client, on every write deadline, on the
// drop count and the drops worth a log line, on every frame deadline
// (point 9), and on whom the core closed, why and past which limit; queued
// output stays within the hard limit (4 x max_pending), or one frame where
// that alone is larger; no client without output has a deadline;
// poll_timeout() is no later than any deadline, and after
// handle_timeout(now) later than now; poll_expired(now) lists exactly the
// clients past their deadline; and the driver was told about every client
// with output to write, never twice for the same backlog.
//
// The zero-copy path: a write takes its bytes from output_buffers() (at
// most max_gather pieces), reading every piece, lent frames included
// (AddressSanitizer catches a piece pointing into a freed buffer, the
// model one into a reused one), and they are exactly the model's next
// bytes for that client: every frame delivered once, in order, through
// any mix of partial writes, reads from the same sender before a write,
// and departures. The copy_counter counts as delivered exactly the frame
// bytes written (not the ids), and copies no frame byte twice.
//
// Input: FuzzedDataProvider; the last bytes choose max_frame (0-64),
// max_pending (0-512), write_timeout (0-20 ms, 0: none), frame_timeout
// (0-20 ms, 0: none) and lend_from (0-8: shorter frames are copied); then each
// event is an op byte (the number of an `op` below) and its operands from the
// back, the bytes of reads and frames from the front.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/reactor/router_core.hpp"
#include "router_core_model.hpp"

namespace {

using namespace router_core_fuzz;

// The events, in the order of their op byte (the seeds depend on it).
enum class op {
    connect,          // a client arrives (at most 32 in all)
    feed,             // raw bytes from any id, copied in
    feed_frame,       // a well-formed frame, so that routes are taken often
    read_in_place,    // bytes read into read_buffer(), as from a socket
    write,            // the socket takes part of the output, gathered
    leave,            // any id leaves
    poll,             // the driver polls what the core decided
    time_passes,      // the fake clock moves, and the driver is woken
    wake_when_asked,  // at poll_timeout(), or a nanosecond before
    last = wake_when_asked,
};

class harness {
  public:
    // The limits are drawn in the order of the members below.
    explicit harness(FuzzedDataProvider& in)
        : in_(in),
          max_frame_(in.ConsumeIntegralInRange<std::size_t>(0, 64)),
          max_pending_(in.ConsumeIntegralInRange<std::size_t>(0, 512)),
          write_timeout_(in.ConsumeIntegralInRange(0, 20)),
          frame_timeout_(in.ConsumeIntegralInRange(0, 20)),
          // Below it, frames are copied: both paths, mixed.
          core_(max_frame_,
                max_pending_,
                write_timeout_,
                in.ConsumeIntegralInRange<std::size_t>(0, 8),
                frame_timeout_),
          model_(max_frame_, max_pending_, write_timeout_, frame_timeout_) {}

    void run() {
        while (in_.remaining_bytes() > 0) {
            step(static_cast<op>(in_.ConsumeIntegralInRange(0, int(op::last))));
            // Nothing due at `now` is left waiting: what the last
            // handle_timeout() found due is closed, and nothing can fall
            // due before the clock moves again.
            if (auto at = core_.poll_timeout(); at && *at <= now_) {
                fail("poll_timeout() is not after the last handle_timeout()");
            }
            compare(core_, model_, max_frame_, max_pending_);
        }
    }

  private:
    void step(op o) {
        switch (o) {
            case op::connect:
                return connect();
            case op::feed:
                return feed();
            case op::feed_frame:
                return feed_frame();
            case op::read_in_place:
                return read_in_place();
            case op::write:
                return write();
            case op::leave:
                return leave();
            case op::poll:
                return poll();
            case op::time_passes:
                return time_passes();
            case op::wake_when_asked:
                return wake_when_asked();
        }
    }

    // Any id, including ones never given out and ones that left.
    client_id pick() {
        return in_.ConsumeIntegralInRange<client_id>(0, model_.next_id() + 1);
    }

    std::string some_bytes() {
        return in_.ConsumeBytesAsString(
            in_.ConsumeIntegralInRange<std::size_t>(0, 2 * max_frame_ + 16));
    }

    void connect() {
        if (model_.next_id() < 32 &&
            core_.handle_connect(now_) != model_.connect(now_)) {
            fail("ids are not given in order from 0");
        }
    }

    void feed() {
        const auto id = pick();
        const auto bytes = some_bytes();
        core_.handle_input(id, std::string_view(bytes), now_);
        model_.received(id, bytes, now_);
    }

    void feed_frame() {
        const auto id = pick();
        const auto dest = pick();
        auto payload = in_.ConsumeBytesAsString(
            in_.ConsumeIntegralInRange<std::size_t>(0, max_frame_ + 1));
        std::replace(payload.begin(), payload.end(), '\0', 'z');
        const auto wire = common::encode_id(dest);
        std::string frame(wire.begin(), wire.end());
        frame += payload;
        frame += '\0';
        core_.handle_input(id, std::string_view(frame), now_);
        model_.received(id, frame, now_);
    }

    // Offered more room than it fills, as a socket read usually is.
    void read_in_place() {
        const auto id = pick();
        const auto bytes = some_bytes();
        auto space = core_.read_buffer(id, bytes.size() + 32);
        if (!core_.connected(id)) {
            if (!space.empty()) {
                fail("a read buffer for a client that is gone", id);
            }
            return;
        }
        if (space.size() < bytes.size() + 32) {
            fail("read_buffer() gave less room than asked", id);
        }
        std::memcpy(space.data(), bytes.data(), bytes.size());
        core_.handle_input(id, bytes.size(), now_);
        model_.received(id, bytes, now_);
    }

    // A driver writes only to clients it was handed.
    void write() {
        const auto id = pick();
        if (listed_.count(id) == 0) {
            return;
        }
        const auto pieces = core_.output_buffers(id);
        if (pieces.size() > common::max_gather) {
            fail("more pieces than one gathered write takes", id);
        }
        std::string gathered;  // reads every piece, lent or queued
        for (std::string_view piece : pieces) {
            gathered += piece;
        }
        // Closed by the core and not yet polled: nothing to write.
        const std::string* expected = model_.output(id);
        if (expected == nullptr && !gathered.empty()) {
            fail("output_buffers() for a client that is gone", id);
        }
        if (expected != nullptr && gathered != *expected) {
            fail("output_buffers() are not the next bytes due", id);
        }
        const auto n =
            in_.ConsumeIntegralInRange<std::size_t>(0, gathered.size());
        core_.handle_written(id, n, now_);
        model_.wrote(id, n, now_);
        if (n == gathered.size()) {
            listed_.erase(id);
        }
    }

    void leave() {
        const auto id = pick();
        core_.handle_disconnect(id);
        model_.left(id);
        listed_.erase(id);
    }

    void poll() {
        to_flush_.clear();
        core_.poll_transmit(to_flush_);
        for (auto id : to_flush_) {
            if (!listed_.insert(id).second && !core_.output(id).empty()) {
                fail("listed twice for one backlog", id);
            }
        }
        check_closures();
        check_dropped();
        // Whoever has output to write has been handed to the driver.
        for (client_id id = 0; id < model_.next_id(); ++id) {
            if (!core_.output(id).empty() && listed_.count(id) == 0) {
                fail("output queued but the driver was never told", id);
            }
        }
    }

    void check_closures() {
        closures_.clear();
        core_.poll_close(closures_);
        sort_by_id(closures_);
        auto& expected = model_.closures();
        sort_by_id(expected);
        if (closures_.size() != expected.size()) {
            fail("a different number of clients closed");
        }
        for (std::size_t i = 0; i < closures_.size(); ++i) {
            const auto& c = closures_[i];
            if (c.id != expected[i].id || c.why != expected[i].why ||
                c.limit != expected[i].limit) {
                fail("a different client closed, or for another reason", c.id);
            }
            listed_.erase(c.id);
        }
        expected.clear();
    }

    // In the order they happened.
    void check_dropped() {
        dropped_.clear();
        core_.poll_dropped(dropped_);
        auto& expected = model_.dropped();
        if (dropped_.size() != expected.size()) {
            fail("a different number of drops worth a log line");
        }
        for (std::size_t i = 0; i < dropped_.size(); ++i) {
            const auto& d = dropped_[i];
            if (d.dest != expected[i].dest || d.from != expected[i].from ||
                d.count != expected[i].count) {
                fail("a drop's line names another frame or count", d.from);
            }
        }
        expected.clear();
    }

    void time_passes() {
        now_ += milliseconds(in_.ConsumeIntegralInRange<int>(0, 3 * 20 + 1));
        timeout();
    }

    void wake_when_asked() {
        if (auto at = core_.poll_timeout(); at && *at > now_) {
            now_ = *at - std::chrono::nanoseconds(in_.ConsumeBool());
            timeout();
        }
    }

    void timeout() {
        check_expired(core_, model_, now_);
        core_.handle_timeout(now_);
        model_.timeout(now_);
    }

    FuzzedDataProvider& in_;
    const std::size_t max_frame_;
    const std::size_t max_pending_;
    const milliseconds write_timeout_;
    const milliseconds frame_timeout_;
    router_core core_;
    model model_;
    time_point now_{};  // the fake clock: only the time ops move it
    // Clients handed to the driver by poll_transmit() whose output has not
    // been emptied since: the driver's to write.
    std::set<client_id> listed_;
    std::vector<client_id> to_flush_;
    std::vector<router_core::closure> closures_;
    std::vector<router_core::dropped_frame> dropped_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
    FuzzedDataProvider in(data, size);
    harness(in).run();
    return 0;
}
