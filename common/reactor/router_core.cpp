#include "common/reactor/router_core.hpp"

#include <algorithm>

#include "common/options.hpp"

namespace common {

router_core::router_core(std::size_t max_frame,
                         std::size_t max_pending,
                         std::chrono::milliseconds write_timeout,
                         std::size_t lend_from,
                         std::chrono::milliseconds frame_timeout,
                         client_id id_jump,
                         shard_place shard)
    : max_frame_(max_frame),
      max_pending_(max_pending),
      write_timeout_(write_timeout),
      lend_from_(lend_from),
      frame_timeout_(frame_timeout),
      ids_(id_jump),
      shard_(shard),
      outlets_(shard.count > 1 ? shard.count : 0) {}

// A closed client has left the table, but its driver holds its socket
// under its id until it takes the closure (poll_close), maybe after a
// connect in the same round: its id is in use until then.
client_id router_core::handle_connect(time_point now) {
    const client_id id = ids_.next([this](client_id i) {
        return clients_.contains(i) ||
               std::any_of(closures_.begin(),
                           closures_.end(),
                           [i](const closure& c) { return c.id == i; });
    });
    handle_connect(id, now);
    return id;
}

void router_core::handle_connect(client_id id, time_point now) {
    auto& c = clients_.try_emplace(id, max_frame_).first->second;
    const auto wire = encode_id(id);
    c.out.append({wire.data(), wire.size()});
    to_flush_.push_back(id);
    start_deadline(id, c, now);
}

// The read may overwrite, move or free the parser's buffer: frames still
// lent from it are copied out first.
std::span<char> router_core::read_buffer(client_id id, std::size_t n) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return {};
    }
    release(id, it->second);
    return it->second.parser.prepare(n);
}

void router_core::handle_input(client_id id,
                               std::size_t count,
                               time_point now) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    it->second.parser.commit(count);
    route(id, it->second, now);
}

void router_core::handle_input(client_id id,
                               std::string_view bytes,
                               time_point now) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    release(id, it->second);
    it->second.parser.feed(bytes);
    route(id, it->second, now);
}

// Every complete frame now, not the article's one per read. A client closed
// meanwhile stays in the table until the loop ends: the sender itself may
// be one (a slow consumer of its own frames), and `f` points into its
// parser.
void router_core::route(client_id from, client& sender, time_point now) {
    frame f;
    auto status = frame_parser::status::frame;
    bool completed = false;
    while ((status = sender.parser.next(f)) == frame_parser::status::frame) {
        completed = true;
        deliver(from, &sender, f.dest, f.message, now);
    }
    if (status == frame_parser::status::too_long && !sender.closing) {
        close(from, sender, close_reason::protocol_error, max_frame_);
    }
    // A partial frame with no deadline yet is a new one too.
    if (!sender.closing && frame_timeout_ > frame_timeout_.zero() &&
        (sender.frame_deadline == none ||
         frame_deadline_restarts(completed, sender.parser.buffered() > 0))) {
        restart_frame_deadline(from, sender, now);
    }
    for (const auto& c : closures_) {
        erase(c.id);
    }
}

// snippet: router_core-deliver
// A frame to a client with nothing copied queued is lent (up to
// max_gather - 1 of them: the last piece of a gathered write is the
// queue), unless it is so short that a copy is cheaper; any other is
// copied behind what is queued. Lent frames are written before the
// queue, so the order holds either way. A frame for another shard's
// client is packed for it (router_core_shards.cpp).
void router_core::deliver(client_id from,
                          client* sender,
                          client_id dest_id,
                          std::string_view message,
                          time_point now) {
    if (!owns(dest_id)) {
        forward(from, dest_id, message);
        return;
    }
    auto it = clients_.find(dest_id);
    if (it == clients_.end() || it->second.closing) {
        if (const auto n = drops_.count_one(); drop_counter::line_due(n)) {
            dropped_.push_back({dest_id, from, n});
        }
        return;
    }
    client& dest = it->second;
    const std::size_t copied = dest.out.size();
    const std::size_t queued = dest.ref_bytes + copied;
    switch (dest.backlog.check(
        queued, message.size(), max_pending_, write_timeout_, [now] {
            return now;
        })) {
        case backlog_watch::verdict::take:
            break;
        case backlog_watch::verdict::past_hard_limit:
            close(dest_id,
                  dest,
                  close_reason::slow_consumer,
                  hard_max_pending(max_pending_));
            return;
        case backlog_watch::verdict::over_too_long:
            close(dest_id, dest, close_reason::over_max_pending, max_pending_);
            return;
    }
    if (sender != nullptr && copied == 0 && message.size() >= lend_from_ &&
        dest.refs.size() < max_gather - 1) {
        dest.refs.push_back({message, from});
        dest.ref_bytes += message.size();
        if (sender->lent_to.empty() || sender->lent_to.back() != dest_id) {
            sender->lent_to.push_back(dest_id);
        }
    } else {
        append(dest, message);
    }
    if (queued == 0) {
        to_flush_.push_back(dest_id);
        start_deadline(dest_id, dest, now);
    }
}
// snippet-end

void router_core::append(client& dest, std::string_view bytes) {
    dest.out.append(bytes);
    copies_.copied(bytes.size());
}

// snippet: router_core-spill
// `sender`'s read buffer is about to be overwritten or freed: every frame
// still lent from it is copied into its destination's queue first, with
// the frames lent before and after it to that destination, in order.
// `lent_to` may name clients that were written to since, or left: they
// are skipped.
void router_core::release(client_id sender_id, client& sender) {
    for (client_id d : sender.lent_to) {
        auto it = clients_.find(d);
        if (it == clients_.end()) {
            continue;
        }
        const auto& refs = it->second.refs;
        if (std::any_of(refs.begin(), refs.end(), [&](const lent& r) {
                return r.from == sender_id;
            })) {
            spill(it->second, 0);
        }
    }
    sender.lent_to.clear();
}

// The lent frames of `dest` but their first `written` bytes, which a socket
// took, copied in front of its queue.
void router_core::spill(client& dest, std::size_t written) {
    if (dest.refs.empty()) {
        return;
    }
    std::vector<char> rest;
    rest.reserve(dest.ref_bytes - written);
    for (const lent& r : dest.refs) {
        const std::size_t skip = std::min(written, r.bytes.size());
        written -= skip;
        rest.insert(rest.end(), r.bytes.begin() + skip, r.bytes.end());
    }
    copies_.copied(rest.size());
    dest.out.prepend({rest.data(), rest.size()});
    dest.refs.clear();
    dest.ref_bytes = 0;
}
// snippet-end

// A client leaves the table: what it lent is copied out first.
void router_core::erase(client_id id) {
    if (auto it = clients_.find(id); it != clients_.end()) {
        release(id, it->second);
        clients_.erase(it);
    }
}

void router_core::close(client_id id,
                        client& c,
                        close_reason why,
                        std::uint64_t limit) {
    c.closing = true;
    c.refs.clear();
    c.ref_bytes = 0;
    c.out.reset();
    c.due = 0;
    c.deadline = none;
    c.frame_deadline = none;
    closures_.push_back({id, why, limit});
}

std::span<const std::string_view> router_core::output_buffers(client_id id) {
    gather_.clear();
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return {};
    }
    const client& c = it->second;
    for (const lent& r : c.refs) {
        gather_.push_back(r.bytes);
    }
    c.out.gather(gather_, max_gather - gather_.size());
    return gather_;
}

std::string router_core::output(client_id id) const {
    std::string joined;
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return joined;
    }
    const client& c = it->second;
    for (const lent& r : c.refs) {
        joined += r.bytes;
    }
    std::vector<std::string_view> pieces;
    c.out.gather(pieces, c.out.size());
    for (auto piece : pieces) {
        joined += piece;
    }
    return joined;
}

// snippet: router_core-written
// What the socket took is delivered (the id excepted); lent frames it did
// not take are copied into the queue now, as their senders' buffers may be
// reused as soon as this round is over. The deadline moves only once the
// socket has taken all that was due by it: a client that takes a little
// now and then does not keep a backlog forever.
void router_core::handle_written(client_id id, std::size_t n, time_point now) {
    auto it = clients_.find(id);
    if (it == clients_.end() || (n == 0 && it->second.refs.empty())) {
        return;
    }
    client& c = it->second;
    const std::size_t id_part = std::min(n, c.id_left);
    c.id_left -= id_part;
    copies_.delivered(n - id_part);
    const std::size_t from_refs = std::min(n, c.ref_bytes);
    spill(c, from_refs);
    if (n == 0) {
        return;  // no progress: the deadline stays
    }
    c.out.consume(n - from_refs);
    c.due -= std::min(n, c.due);
    if (!c.out.empty()) {
        if (c.due == 0) {
            start_deadline(id, c, now);  // the rest: a new write_timeout
        }
        return;
    }
    c.due = 0;
    c.deadline = none;
}
// snippet-end

void router_core::handle_disconnect(client_id id) {
    erase(id);  // its heap entry, if any, is dropped when due
}

void router_core::poll_transmit(std::vector<client_id>& to_flush) {
    to_flush.insert(to_flush.end(), to_flush_.begin(), to_flush_.end());
    to_flush_.clear();
}

void router_core::poll_close(std::vector<closure>& out) {
    out.insert(out.end(), closures_.begin(), closures_.end());
    closures_.clear();
}

void router_core::poll_dropped(std::vector<dropped_frame>& out) {
    out.insert(out.end(), dropped_.begin(), dropped_.end());
    dropped_.clear();
}

}  // namespace common
