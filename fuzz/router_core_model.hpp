// The plain model of docs/protocol.md that fuzz/router_core_fuzz.cpp
// checks common::router_core against, and the checks themselves: what the
// core and the model must agree on after every event.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/counters.hpp"
#include "common/id.hpp"
#include "common/options.hpp"
#include "common/reactor/router_core.hpp"

namespace router_core_fuzz {

using common::client_id;
using common::router_core;
using reason = router_core::close_reason;
using time_point = router_core::time_point;
using std::chrono::milliseconds;

[[noreturn]] inline void fail(const char* what, client_id id = 0) {
    std::fprintf(stderr, "router_core_fuzz: %s (client %u)\n", what, id);
    std::abort();
}

// docs/protocol.md as a model: each client's unparsed input, queued output,
// write deadline and frame deadline, routed frame by frame.
class model {
  public:
    model(std::size_t max_frame,
          std::size_t max_pending,
          milliseconds write_timeout,
          milliseconds frame_timeout)
        : max_frame_(max_frame),
          max_pending_(max_pending),
          write_timeout_(write_timeout),
          frame_timeout_(frame_timeout) {}

    // The fuzzer connects at most 32 clients, so the counter never wraps
    // here: router_core_test.cpp checks the skip past a wrap.
    client_id connect(time_point now) {
        const auto id = next_id_++;
        const auto wire = common::encode_id(id);
        clients_[id].out.assign(wire.begin(), wire.end());
        start_deadline(clients_[id], now);
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
        bool completed = false;
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
            deliver(from,
                    common::decode_id(in.data() + pos),
                    in.substr(pos + 4, len + 1));
            completed = true;
            pos = zero + 1;
            sender_closed = sender_closed || clients_.count(from) == 0;
        }
        if (auto again = clients_.find(from); again != clients_.end()) {
            again->second.in = in.substr(pos);
            frame_clock(again->second, completed);
        }
    }

    // The deadline restarts, for what is left, only once everything that
    // was due by it is written.
    void wrote(client_id id, std::size_t n, time_point now) {
        auto it = clients_.find(id);
        if (it == clients_.end() || n == 0) {
            return;
        }
        client& c = it->second;
        const std::size_t id_part = std::min(n, c.id_left);
        c.id_left -= id_part;
        delivered_ += n - id_part;
        c.out.erase(0, n);
        c.due = n >= c.due ? 0 : c.due - n;
        if (c.out.empty()) {
            c.deadline.reset();
            c.due = 0;
        } else if (c.due == 0) {
            start_deadline(c, now);
        }
    }

    void left(client_id id) { clients_.erase(id); }

    // Every client whose deadline is at or before `now` is closed: past
    // its write deadline, else past its frame deadline.
    void timeout(time_point now) {
        std::vector<std::pair<client_id, reason>> due;
        for (const auto& [id, c] : clients_) {
            if (c.deadline && *c.deadline <= now) {
                due.emplace_back(id, reason::write_timeout);
            } else if (c.frame_deadline && *c.frame_deadline <= now) {
                due.emplace_back(id, reason::frame_timeout);
            }
        }
        for (auto [id, why] : due) {
            close(id, why);
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
    std::optional<time_point> frame_deadline(client_id id) const {
        auto it = clients_.find(id);
        return it == clients_.end() ? std::nullopt : it->second.frame_deadline;
    }
    client_id next_id() const { return next_id_; }
    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t routed() const { return routed_; }
    std::size_t size() const { return clients_.size(); }
    std::uint64_t drops() const { return drops_; }
    std::vector<router_core::closure>& closures() { return closures_; }
    // The drops worth a log line since the driver last polled.
    std::vector<router_core::dropped_frame>& dropped() { return dropped_; }

  private:
    struct client {
        std::string in, out;
        std::optional<time_point> deadline;
        std::optional<time_point> frame_deadline;  // while `in` is not empty
        std::size_t due = 0;      // bytes of `out` due by `deadline`
        std::size_t id_left = 4;  // bytes of its id not yet written
        // When its backlog last went past max_pending, as seen by the
        // frames that arrived for it; none: not past it.
        std::optional<time_point> over_since;
    };

    // Point 9: a partial frame has frame_timeout from the read that left
    // it; a read that completes a frame makes what is left a new one.
    void frame_clock(client& c, bool completed) {
        if (frame_timeout_ == milliseconds::zero() || c.in.empty()) {
            c.frame_deadline.reset();
        } else if (completed || !c.frame_deadline) {
            c.frame_deadline = now_ + frame_timeout_;
        }
    }

    // Everything queued now is due by write_timeout from now.
    void start_deadline(client& c, time_point now) const {
        if (write_timeout_ == milliseconds::zero()) {
            return;
        }
        c.deadline = now + write_timeout_;
        c.due = c.out.size();
    }

    void deliver(client_id from, client_id dest, const std::string& message) {
        auto it = clients_.find(dest);
        if (it == clients_.end()) {
            if (common::drop_counter::line_due(++drops_)) {
                dropped_.push_back({dest, from, drops_});
            }
            return;
        }
        // --max-pending (docs/protocol.md): a soft limit, checked as a
        // frame arrives; 4 times it, a hard one. A client with nothing
        // queued takes a frame of any size.
        client& c = it->second;
        const std::size_t queued = c.out.size(),
                          after = queued + message.size();
        if (queued > 0 && after > 4 * max_pending_) {
            close(dest, reason::slow_consumer);
            return;
        }
        if (queued <= max_pending_) {
            c.over_since.reset();
        }
        if (after > max_pending_ && !c.over_since) {
            c.over_since = now_;
        }
        if (queued > 0 && after > max_pending_ &&
            now_ - *c.over_since >= write_timeout_) {
            close(dest, reason::over_max_pending);
            return;
        }
        c.out += message;
        routed_ += message.size();
        if (queued == 0) {
            start_deadline(c, now_);
        }
    }

    void close(client_id id, reason why) {
        clients_.erase(id);
        const std::uint64_t limit =
            why == reason::protocol_error     ? max_frame_
            : why == reason::slow_consumer    ? 4 * max_pending_
            : why == reason::over_max_pending ? max_pending_
            : why == reason::write_timeout    ? write_timeout_.count()
                                              : frame_timeout_.count();
        closures_.push_back({id, why, limit});
    }

    std::size_t max_frame_, max_pending_;
    milliseconds write_timeout_, frame_timeout_;
    time_point now_{};  // of the read being routed
    client_id next_id_ = 0;
    std::map<client_id, client> clients_;
    std::uint64_t drops_ = 0;
    std::uint64_t delivered_ = 0;  // frame bytes written, ids not counted
    std::uint64_t routed_ = 0;     // frame bytes queued for someone
    std::vector<router_core::closure> closures_;
    std::vector<router_core::dropped_frame> dropped_;
};

// Everything the core and the model must agree on, after each event.
inline void compare(const router_core& core,
                    const model& m,
                    std::size_t max_frame,
                    std::size_t max_pending) {
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
        // A client with nothing queued takes one frame of any size.
        if (expected->size() >
            std::max({4 * max_pending, max_frame + 1, std::size_t{4}})) {
            fail("more than the hard limit (4 x max_pending) queued", id);
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
        const auto frame_deadline = core.frame_deadline(id);
        if (frame_deadline != m.frame_deadline(id)) {
            fail("frame deadline differs", id);
        }
        if (frame_deadline && !(core.poll_timeout() <= frame_deadline)) {
            fail("poll_timeout() later than a frame deadline", id);
        }
    }
}

// poll_expired(now) lists exactly the clients past their deadline, once.
inline void check_expired(const router_core& core,
                          const model& m,
                          time_point now) {
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
inline void sort_by_id(std::vector<router_core::closure>& v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.id < b.id;
    });
}

}  // namespace router_core_fuzz
