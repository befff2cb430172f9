// libFuzzer target for common::router_core, the sans-I/O state machine
// both reactors drive: any sequence of events (connects, reads of any
// bytes from any id, partial writes, departures, time passing on a fake
// clock) against a plain model of docs/protocol.md written here.
//
// After every event the core and the model agree on who is connected, on
// every byte queued for every client, on every write deadline, on the
// drop count, and on whom the core closed and why; queued output stays
// within max_pending; no client without output has a deadline;
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
// max_pending (0-512), write_timeout (0-20 ms, 0: none) and lend_from
// (0-8: shorter frames are copied); then each event is an op byte and its
// operands from the back, the bytes of reads and frames from the front.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/id.hpp"
#include "common/router_core.hpp"

namespace {

using common::client_id;
using common::router_core;
using reason = router_core::close_reason;
using time_point = router_core::time_point;
using std::chrono::milliseconds;

[[noreturn]] void fail(const char* what, client_id id = 0) {
    std::fprintf(stderr, "router_core_fuzz: %s (client %u)\n", what, id);
    std::abort();
}

// docs/protocol.md as a model: each client's unparsed input, queued output
// and write deadline, routed frame by frame.
class model {
  public:
    model(std::size_t max_frame,
          std::size_t max_pending,
          milliseconds write_timeout)
        : max_frame_(max_frame),
          max_pending_(max_pending),
          write_timeout_(write_timeout) {}

    client_id connect(time_point now) {
        const auto id = next_id_++;
        const auto wire = common::encode_id(id);
        clients_[id].out.assign(wire.begin(), wire.end());
        clients_[id].deadline = deadline_from(now);
        return id;
    }

    void received(client_id from, const std::string& bytes, time_point now) {
        now_ = now;
        auto it = clients_.find(from);
        if (it == clients_.end()) {
            return;
        }
        it->second.in += bytes;
        // The sender may be closed meanwhile (a slow consumer of its own
        // frames): the frames it completed are still routed.
        std::string in = std::move(it->second.in);
        bool sender_closed = false;
        std::size_t pos = 0;
        for (;;) {
            if (in.size() - pos <= 4) {
                break;
            }
            const auto zero = in.find('\0', pos + 4);
            const auto len =
                (zero == std::string::npos ? in.size() : zero) - (pos + 4);
            if (len > max_frame_) {
                if (!sender_closed && clients_.count(from) != 0) {
                    close(from, reason::protocol_error);
                }
                sender_closed = true;
                break;
            }
            if (zero == std::string::npos) {
                break;
            }
            deliver(common::decode_id(in.data() + pos),
                    in.substr(pos + 4, len + 1));
            pos = zero + 1;
            sender_closed = sender_closed || clients_.count(from) == 0;
        }
        if (auto again = clients_.find(from); again != clients_.end()) {
            again->second.in = in.substr(pos);
        }
    }

    // Any progress restarts the deadline; none leaves it as it was.
    void wrote(client_id id, std::size_t n, time_point now) {
        auto it = clients_.find(id);
        if (it == clients_.end() || n == 0) {
            return;
        }
        const std::size_t id_part = std::min(n, it->second.id_left);
        it->second.id_left -= id_part;
        delivered_ += n - id_part;
        it->second.out.erase(0, n);
        it->second.deadline =
            it->second.out.empty() ? std::nullopt : deadline_from(now);
    }

    void left(client_id id) { clients_.erase(id); }

    // Every client whose deadline is at or before `now` is closed.
    void timeout(time_point now) {
        std::vector<client_id> due;
        for (const auto& [id, c] : clients_) {
            if (c.deadline && *c.deadline <= now) {
                due.push_back(id);
            }
        }
        for (auto id : due) {
            close(id, reason::write_timeout);
        }
    }

    const std::string* output(client_id id) const {
        auto it = clients_.find(id);
        return it == clients_.end() ? nullptr : &it->second.out;
    }
    std::optional<time_point> deadline(client_id id) const {
        auto it = clients_.find(id);
        return it == clients_.end() ? std::nullopt : it->second.deadline;
    }
    client_id next_id() const { return next_id_; }
    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t routed() const { return routed_; }
    std::size_t size() const { return clients_.size(); }
    std::uint64_t drops() const { return drops_; }
    std::vector<router_core::closure>& closures() { return closures_; }

  private:
    struct client {
        std::string in, out;
        std::optional<time_point> deadline;
        std::size_t id_left = 4;  // bytes of its id not yet written
    };

    std::optional<time_point> deadline_from(time_point now) const {
        if (write_timeout_ == milliseconds::zero()) {
            return std::nullopt;
        }
        return now + write_timeout_;
    }

    void deliver(client_id dest, const std::string& message) {
        auto it = clients_.find(dest);
        if (it == clients_.end()) {
            ++drops_;
            return;
        }
        if (it->second.out.size() + message.size() > max_pending_) {
            close(dest, reason::slow_consumer);
            return;
        }
        if (it->second.out.empty()) {
            it->second.deadline = deadline_from(now_);
        }
        it->second.out += message;
        routed_ += message.size();
    }

    void close(client_id id, reason why) {
        clients_.erase(id);
        closures_.push_back({id, why});
    }

    std::size_t max_frame_, max_pending_;
    milliseconds write_timeout_;
    time_point now_{};  // of the read being routed
    client_id next_id_ = 0;
    std::map<client_id, client> clients_;
    std::uint64_t drops_ = 0;
    std::uint64_t delivered_ = 0;  // frame bytes written, ids not counted
    std::uint64_t routed_ = 0;     // frame bytes queued for someone
    std::vector<router_core::closure> closures_;
};

// Everything the core and the model must agree on, after each event.
void compare(const router_core& core, const model& m, std::size_t max_pending) {
    if (core.size() != m.size()) {
        fail("number of connected clients differs");
    }
    if (core.drops() != m.drops()) {
        fail("drop count differs");
    }
    if (core.copies().delivered() != m.delivered()) {
        fail("delivered bytes counted differ from those written");
    }
    if (core.copies().copied() > m.routed()) {
        fail("more bytes copied than frames routed: one copied twice");
    }
    for (client_id id = 0; id <= m.next_id(); ++id) {
        const std::string* expected = m.output(id);
        if (core.connected(id) != (expected != nullptr)) {
            fail("connected() differs", id);
        }
        if (expected == nullptr) {
            if (!core.output(id).empty()) {
                fail("output queued for a client that is gone", id);
            }
            continue;
        }
        if (core.output(id) != *expected) {
            fail("queued output differs", id);
        }
        if (expected->size() > std::max<std::size_t>(max_pending, 4)) {
            fail("more than max_pending queued", id);
        }
        const auto deadline = core.write_deadline(id);
        if (deadline != m.deadline(id)) {
            fail("write deadline differs", id);
        }
        if (deadline && expected->empty()) {
            fail("a deadline without output", id);
        }
        if (deadline && !(core.poll_timeout() <= deadline)) {
            fail("poll_timeout() later than a deadline", id);
        }
    }
}

// poll_expired(now) lists exactly the clients past their deadline, once.
void check_expired(const router_core& core, const model& m, time_point now) {
    std::vector<client_id> listed;
    core.poll_expired(now, listed);
    std::sort(listed.begin(), listed.end());
    std::vector<client_id> due;
    for (client_id id = 0; id < m.next_id(); ++id) {
        if (auto d = m.deadline(id); d && *d <= now) {
            due.push_back(id);
        }
    }
    if (listed != due) {
        fail("poll_expired() differs from the deadlines that passed");
    }
}

// The order of a batch of closures is not part of the contract (timed-out
// clients close in heap order): compared by id, each closed at most once.
void sort_by_id(std::vector<router_core::closure>& v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.id < b.id;
    });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // The core logs drops and closures; millions of runs need silence.
    setenv("ROUTER_LOG", "quiet", 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto max_frame = in.ConsumeIntegralInRange<std::size_t>(0, 64);
    const auto max_pending = in.ConsumeIntegralInRange<std::size_t>(0, 512);
    const milliseconds write_timeout{in.ConsumeIntegralInRange(0, 20)};
    // Below it, frames are copied: both paths, mixed.
    const auto lend_from = in.ConsumeIntegralInRange<std::size_t>(0, 8);
    router_core core(max_frame, max_pending, write_timeout, lend_from);
    model m(max_frame, max_pending, write_timeout);
    time_point now{};  // the fake clock: only ops 7 and 8 move it
    // Clients handed to the driver by poll_transmit() whose output has not
    // been emptied since: the driver's to write.
    std::set<client_id> listed;
    std::vector<client_id> to_flush;
    std::vector<router_core::closure> closures;
    // Any id, including ones never given out and ones that left.
    auto pick = [&] {
        return in.ConsumeIntegralInRange<client_id>(0, m.next_id() + 1);
    };
    while (in.remaining_bytes() > 0) {
        switch (in.ConsumeIntegralInRange(0, 8)) {
            case 0:
                if (m.next_id() < 32 &&
                    core.handle_connect(now) != m.connect(now)) {
                    fail("ids are not given in order from 0");
                }
                break;
            case 1: {  // raw bytes, copied in
                const auto id = pick();
                const auto bytes = in.ConsumeBytesAsString(
                    in.ConsumeIntegralInRange<std::size_t>(0,
                                                           2 * max_frame + 16));
                core.handle_input(id, std::string_view(bytes), now);
                m.received(id, bytes, now);
                break;
            }
            case 2: {  // a well-formed frame, so that routes are taken often
                const auto id = pick();
                const auto dest = pick();
                auto payload = in.ConsumeBytesAsString(
                    in.ConsumeIntegralInRange<std::size_t>(0, max_frame + 1));
                std::replace(payload.begin(), payload.end(), '\0', 'z');
                const auto wire = common::encode_id(dest);
                std::string frame(wire.begin(), wire.end());
                frame += payload;
                frame += '\0';
                core.handle_input(id, std::string_view(frame), now);
                m.received(id, frame, now);
                break;
            }
            case 3: {  // in place, as a socket read: offered more than it fills
                const auto id = pick();
                const auto bytes = in.ConsumeBytesAsString(
                    in.ConsumeIntegralInRange<std::size_t>(0,
                                                           2 * max_frame + 16));
                auto space = core.read_buffer(id, bytes.size() + 32);
                if (!core.connected(id)) {
                    if (!space.empty()) {
                        fail("a read buffer for a client that is gone", id);
                    }
                    break;
                }
                if (space.size() < bytes.size() + 32) {
                    fail("read_buffer() gave less room than asked", id);
                }
                std::memcpy(space.data(), bytes.data(), bytes.size());
                core.handle_input(id, bytes.size(), now);
                m.received(id, bytes, now);
                break;
            }
            case 4: {  // the socket takes part of the output, gathered
                // A driver writes only to clients it was handed.
                const auto id = pick();
                if (listed.count(id) == 0) {
                    break;
                }
                const auto pieces = core.output_buffers(id);
                if (pieces.size() > router_core::max_gather) {
                    fail("more pieces than one gathered write takes", id);
                }
                std::string gathered;  // reads every piece, lent or queued
                for (std::string_view piece : pieces) {
                    gathered += piece;
                }
                // Closed by the core and not yet polled: nothing to write.
                const std::string* expected = m.output(id);
                if (expected == nullptr && !gathered.empty()) {
                    fail("output_buffers() for a client that is gone", id);
                }
                if (expected != nullptr && gathered != *expected) {
                    fail("output_buffers() are not the next bytes due", id);
                }
                const auto queued = gathered.size();
                const auto n =
                    in.ConsumeIntegralInRange<std::size_t>(0, queued);
                core.handle_written(id, n, now);
                m.wrote(id, n, now);
                if (n == queued) {
                    listed.erase(id);
                }
                break;
            }
            case 5: {
                const auto id = pick();
                core.handle_disconnect(id);
                m.left(id);
                listed.erase(id);
                break;
            }
            case 6:
                to_flush.clear();
                core.poll_transmit(to_flush);
                for (auto id : to_flush) {
                    if (!listed.insert(id).second && !core.output(id).empty()) {
                        fail("listed twice for one backlog", id);
                    }
                }
                closures.clear();
                core.poll_close(closures);
                sort_by_id(closures);
                sort_by_id(m.closures());
                if (closures.size() != m.closures().size()) {
                    fail("a different number of clients closed");
                }
                for (std::size_t i = 0; i < closures.size(); ++i) {
                    if (closures[i].id != m.closures()[i].id ||
                        closures[i].why != m.closures()[i].why) {
                        fail("a different client closed, or for another reason",
                             closures[i].id);
                    }
                    listed.erase(closures[i].id);
                }
                m.closures().clear();
                // Whoever has output to write has been handed to the driver.
                for (client_id id = 0; id < m.next_id(); ++id) {
                    if (!core.output(id).empty() && listed.count(id) == 0) {
                        fail("output queued but the driver was never told", id);
                    }
                }
                break;
            case 7:  // time passes, and the driver is woken
                now +=
                    milliseconds(in.ConsumeIntegralInRange<int>(0, 3 * 20 + 1));
                check_expired(core, m, now);
                core.handle_timeout(now);
                m.timeout(now);
                break;
            case 8:  // the driver wakes when asked, or a nanosecond before
                if (auto at = core.poll_timeout(); at && *at > now) {
                    now = *at - std::chrono::nanoseconds(in.ConsumeBool());
                    check_expired(core, m, now);
                    core.handle_timeout(now);
                    m.timeout(now);
                }
                break;
        }
        // Nothing due at `now` is left waiting: what the last
        // handle_timeout() found due is closed, and nothing can fall due
        // before the clock moves again.
        if (auto at = core.poll_timeout(); at && *at <= now) {
            fail("poll_timeout() is not after the last handle_timeout()");
        }
        compare(core, m, max_pending);
    }
    return 0;
}
