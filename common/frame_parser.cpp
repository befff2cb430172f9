#include "frame_parser.hpp"

#include <algorithm>
#include <cstring>

#include "id.hpp"

namespace common {

namespace {
constexpr std::size_t id_size = 4;
}

frame_parser::frame_parser(std::size_t max_frame) : max_frame_(max_frame) {}

std::span<char> frame_parser::prepare(std::size_t n) {
    // Reclaim the consumed prefix before growing, so the buffer holds at
    // most one partial frame plus one read, not the whole history.
    if (begin_ > 0 && capacity_ - end_ < n) {
        std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (capacity_ - end_ < n) {
        // Geometric growth: a long frame trickling in is copied O(1) times
        // per byte, not once per read.
        const auto capacity = std::max(end_ + n, 2 * capacity_);
        auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
        if (end_ > 0) {
            std::memcpy(bigger.get(), buf_.get(), end_);
        }
        buf_ = std::move(bigger);
        capacity_ = capacity;
    }
    return {buf_.get() + end_, n};
}

void frame_parser::release() {
    if (begin_ == end_) {
        buf_.reset();
        capacity_ = 0;
        begin_ = end_ = scanned_ = 0;
    }
}

void frame_parser::commit(std::size_t n) {
    end_ += n;
}

void frame_parser::feed(std::string_view bytes) {
    auto space = prepare(bytes.size());
    if (!bytes.empty()) {
        std::memcpy(space.data(), bytes.data(), bytes.size());
    }
    commit(bytes.size());
}

frame_parser::status frame_parser::next(frame& out) {
    if (poisoned_) {
        return status::too_long;
    }
    const std::size_t have = end_ - begin_;
    if (have <= id_size) {
        return status::need_more;
    }
    // The id may hold 0 bytes: the scan for the terminator starts after it.
    const char* payload = buf_.get() + begin_ + id_size;
    const std::size_t payload_have = have - id_size;
    // Never look further than the longest legal payload plus its 0.
    const std::size_t limit = std::min(payload_have, max_frame_ + 1);
    const void* zero = nullptr;
    if (scanned_ < limit) {
        zero = std::memchr(payload + scanned_, 0, limit - scanned_);
    }
    if (zero == nullptr) {
        scanned_ = limit;
        if (payload_have > max_frame_) {
            poisoned_ = true;
            return status::too_long;
        }
        return status::need_more;
    }
    const auto len = static_cast<const char*>(zero) - payload + 1;
    out.dest = decode_id(buf_.get() + begin_);
    out.message = std::string_view(payload, len);
    begin_ += id_size + len;
    scanned_ = 0;
    if (begin_ == end_) {
        begin_ = end_ = 0;  // the common case: nothing partial is left
    }
    return status::frame;
}

}  // namespace common
