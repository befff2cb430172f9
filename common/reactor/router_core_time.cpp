// router_core's time (router_core.hpp): the write and frame deadlines,
// kept in a lazy min-heap, and the events and questions about them. The
// rest of the core is in router_core.cpp.
#include <algorithm>

#include "common/reactor/router_core.hpp"

namespace common {

namespace {
// The heap's order: the earliest deadline on top.
constexpr auto later = [](const auto& a, const auto& b) { return a.at > b.at; };
}  // namespace

// Output appeared, or the socket took all that was waiting when the
// deadline last started: everything queued now is due by write_timeout
// from now. A heap entry is pushed only if the client has none at or
// before the new deadline; one it already has is older, so earlier, and
// handle_timeout() moves it when it comes due.
void router_core::start_deadline(client_id id, client& c, time_point now) {
    if (write_timeout_ <= write_timeout_.zero()) {
        return;
    }
    c.due = c.ref_bytes + c.out.size();
    c.deadline = now + write_timeout_;
    schedule(id, c, write_kind);
}

// A new partial frame has frame_timeout from now; none left, no deadline.
void router_core::restart_frame_deadline(client_id id,
                                         client& c,
                                         time_point now) {
    if (c.parser.buffered() == 0) {
        c.frame_deadline = none;
        return;
    }
    c.frame_deadline = now + frame_timeout_;
    schedule(id, c, frame_kind);
}

// Pushes an entry for the client's deadline of kind `k` unless it has one
// at or before it.
void router_core::schedule(client_id id, client& c, deadline_kind k) {
    const time_point at = deadline_of(c, k);
    if (at < c.heap_key[k]) {
        c.heap_key[k] = at;
        deadlines_.push_back({at, id, k});
        std::push_heap(deadlines_.begin(), deadlines_.end(), later);
    }
}

// Pops every entry that is due. An entry may be stale: its client left,
// drained its output, took all that was due, or completed its frame since
// it was pushed; only a client whose real deadline has passed is closed,
// and one whose deadline moved later gets a new entry at it. Those due are
// closed once every entry due is popped, past the write deadline first,
// so that which deadline a client is closed for does not depend on the
// order of the heap.
void router_core::handle_timeout(time_point now) {
    std::vector<client_id> due;
    while (!deadlines_.empty() && deadlines_.front().at <= now) {
        std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
        const auto [key, id, kind] = deadlines_.back();
        deadlines_.pop_back();
        auto it = clients_.find(id);
        if (it == clients_.end() || it->second.heap_key[kind] != key) {
            continue;  // left, or a duplicate of a newer entry
        }
        client& c = it->second;
        c.heap_key[kind] = none;
        const time_point at = deadline_of(c, kind);
        if (at == none) {
            continue;  // its output drained, or its frame completed
        }
        if (at > now) {
            schedule(id, c, kind);
            continue;
        }
        due.push_back(id);
    }
    for (client_id id : due) {
        auto it = clients_.find(id);
        if (it == clients_.end() || it->second.closing) {
            continue;  // due twice
        }
        client& c = it->second;
        if (c.deadline <= now) {
            close(id,
                  c,
                  close_reason::write_timeout,
                  std::uint64_t(write_timeout_.count()));
        } else {
            close(id,
                  c,
                  close_reason::frame_timeout,
                  std::uint64_t(frame_timeout_.count()));
        }
        erase(id);
    }
}

std::optional<router_core::time_point> router_core::poll_timeout() const {
    if (deadlines_.empty()) {
        return std::nullopt;
    }
    return deadlines_.front().at;
}

// The entries at or before `now` are a subtree at the top of the heap:
// visited without popping, O(their number).
void router_core::poll_expired(time_point now,
                               std::vector<client_id>& out) const {
    std::vector<std::size_t> todo;
    if (!deadlines_.empty()) {
        todo.push_back(0);
    }
    while (!todo.empty()) {
        const std::size_t i = todo.back();
        todo.pop_back();
        const auto& [key, id, kind] = deadlines_[i];
        if (key > now) {
            continue;
        }
        auto it = clients_.find(id);
        if (kind == write_kind && it != clients_.end() &&
            it->second.heap_key[kind] == key && it->second.deadline <= now) {
            out.push_back(id);
        }
        for (std::size_t child : {2 * i + 1, 2 * i + 2}) {
            if (child < deadlines_.size()) {
                todo.push_back(child);
            }
        }
    }
}

std::optional<router_core::time_point> router_core::write_deadline(
    client_id id) const {
    auto it = clients_.find(id);
    if (it == clients_.end() || it->second.deadline == none) {
        return std::nullopt;
    }
    return it->second.deadline;
}

std::optional<router_core::time_point> router_core::frame_deadline(
    client_id id) const {
    auto it = clients_.find(id);
    if (it == clients_.end() || it->second.frame_deadline == none) {
        return std::nullopt;
    }
    return it->second.frame_deadline;
}

}  // namespace common
