#include "router_core.hpp"

namespace common {

namespace {
// An emptied output buffer bigger than this is given back: one burst to a
// client must not pin megabytes for the rest of its connection.
constexpr std::size_t keep_capacity = 64 * 1024;
}  // namespace

router_core::router_core(std::size_t max_frame, std::size_t max_pending)
    : max_frame_(max_frame), max_pending_(max_pending) {}

client_id router_core::connect() {
    const client_id id = next_id_++;
    auto& c = clients_.try_emplace(id, max_frame_).first->second;
    const auto wire = encode_id(id);
    c.out.assign(wire.begin(), wire.end());
    writers_.push_back(id);
    return id;
}

std::span<char> router_core::read_buffer(client_id id, std::size_t n) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return {};
    }
    return it->second.parser.prepare(n);
}

void router_core::received(client_id id, std::size_t count) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    it->second.parser.commit(count);
    route(id, it->second);
}

void router_core::received(client_id id, std::string_view bytes) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    it->second.parser.feed(bytes);
    route(id, it->second);
}

// Every complete frame now, not the article's one per read. A client closed
// meanwhile stays in the table until the loop ends: the sender itself may
// be one (a slow consumer of its own frames), and `f` points into its
// parser.
void router_core::route(client_id from, client& sender) {
    frame f;
    auto status = frame_parser::status::frame;
    while ((status = sender.parser.next(f)) == frame_parser::status::frame) {
        deliver(from, f);
    }
    if (status == frame_parser::status::too_long && !sender.closing) {
        log("client ",
            from,
            ": frame longer than --max-frame (",
            max_frame_,
            " bytes), closing it");
        close(from, sender, close_reason::protocol_error);
    }
    for (const auto& c : closures_) {
        clients_.erase(c.id);
    }
}

void router_core::deliver(client_id from, const frame& f) {
    auto it = clients_.find(f.dest);
    if (it == clients_.end() || it->second.closing) {
        drops_.dropped(f.dest, from);
        return;
    }
    client& dest = it->second;
    const std::size_t queued = dest.out.size() - dest.out_begin;
    if (queued + f.message.size() > max_pending_) {
        log("client ",
            f.dest,
            ": slow consumer, more than --max-pending (",
            max_pending_,
            " bytes) queued, closing it");
        close(f.dest, dest, close_reason::slow_consumer);
        return;
    }
    // Reclaim the written prefix before the buffer would grow, so its
    // capacity stays near max_pending whatever the traffic.
    if (dest.out_begin > 0 &&
        dest.out.size() + f.message.size() > dest.out.capacity()) {
        dest.out.erase(dest.out.begin(), dest.out.begin() + dest.out_begin);
        dest.out_begin = 0;
    }
    dest.out.insert(dest.out.end(), f.message.begin(), f.message.end());
    if (queued == 0) {
        writers_.push_back(f.dest);
    }
}

void router_core::close(client_id id, client& c, close_reason why) {
    c.closing = true;
    c.out = {};
    c.out_begin = 0;
    closures_.push_back({id, why});
}

std::string_view router_core::output(client_id id) const {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return {};
    }
    const client& c = it->second;
    return {c.out.data() + c.out_begin, c.out.size() - c.out_begin};
}

void router_core::wrote(client_id id, std::size_t n) {
    auto it = clients_.find(id);
    if (it == clients_.end()) {
        return;
    }
    client& c = it->second;
    c.out_begin += n;
    if (c.out_begin >= c.out.size()) {
        c.out_begin = 0;
        if (c.out.capacity() > keep_capacity) {
            c.out = {};
        } else {
            c.out.clear();
        }
    }
}

void router_core::left(client_id id) {
    clients_.erase(id);
}

void router_core::take_writers(std::vector<client_id>& out) {
    out.insert(out.end(), writers_.begin(), writers_.end());
    writers_.clear();
}

void router_core::take_closures(std::vector<closure>& out) {
    out.insert(out.end(), closures_.begin(), closures_.end());
    closures_.clear();
}

}  // namespace common
