// The copied part of a client's output in the reactors' core: bytes
// appended at the back, written and taken from the front.
//
// Why blocks and not one contiguous buffer: a buffer that grows by
// reallocation copies the whole backlog at once, into memory the kernel
// has to fault in. With a slow client's backlog at tens of MiB, that one
// copy stalled the loop for tens of milliseconds, and every other client
// with it (docs/04-reactor-handrolled.md, "What it costs"). In blocks, each
// byte is copied once, on append, and no round pays for the whole backlog.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace common {

class byte_queue {
  public:
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // Bytes allocated, queued or not (what it costs in memory).
    std::size_t capacity() const {
        std::size_t n = 0;
        for (const block& b : blocks_) {
            n += b.bytes.capacity();
        }
        return n;
    }

    void append(std::string_view bytes) {
        if (!blocks_.empty()) {
            auto& last = blocks_.back().bytes;
            if (last.capacity() < min_block &&
                last.size() + bytes.size() > last.capacity()) {
                // A small block (a client's id) grows in place: moving at
                // most min_block bytes holds no round up, and small frames
                // stay one piece with what is queued before them.
                last.reserve(min_block);
            }
            const auto n =
                std::min(bytes.size(), last.capacity() - last.size());
            last.insert(last.end(), bytes.begin(), bytes.begin() + n);
            bytes.remove_prefix(n);
            size_ += n;
        }
        if (!bytes.empty()) {
            // The first block is exactly what it is given (a client that
            // only ever gets its id keeps 4 bytes, above); the next ones double
            // from min_block up to max_block, and a longer frame's rest
            // gets a block of its own size.
            block b;
            b.bytes.reserve(
                blocks_.empty()
                    ? bytes.size()
                    : std::max(bytes.size(),
                               std::clamp(2 * blocks_.back().bytes.capacity(),
                                          min_block,
                                          max_block)));
            b.bytes.assign(bytes.begin(), bytes.end());
            blocks_.push_back(std::move(b));
            size_ += bytes.size();
        }
    }

    // Bytes that go out before everything queued (lent frames copied in).
    void prepend(std::string_view bytes) {
        if (empty() || bytes.empty()) {
            append(bytes);  // into the block kept, if any
            return;
        }
        block b;
        b.bytes.assign(bytes.begin(), bytes.end());
        blocks_.insert(blocks_.begin() + first_, std::move(b));
        size_ += bytes.size();
    }

    // The queued bytes, front first, appended to `out` as at most `max`
    // pieces (what one gathered write takes).
    void gather(std::vector<std::string_view>& out, std::size_t max) const {
        for (std::size_t i = first_; i < blocks_.size() && max > 0; ++i) {
            const block& b = blocks_[i];
            if (b.begin < b.bytes.size()) {
                out.emplace_back(b.bytes.data() + b.begin,
                                 b.bytes.size() - b.begin);
                --max;
            }
        }
    }

    // The first `n` bytes were written. A block emptied is freed, but the
    // last one, if small, is kept for the next output.
    void consume(std::size_t n) {
        size_ -= n;
        while (n > 0) {
            block& b = blocks_[first_];
            const std::size_t k = std::min(n, b.bytes.size() - b.begin);
            b.begin += k;
            n -= k;
            if (b.begin == b.bytes.size()) {
                pop_front();
            }
        }
        if (first_ > 0 && 2 * first_ >= blocks_.size()) {
            blocks_.erase(blocks_.begin(), blocks_.begin() + first_);
            first_ = 0;
        }
    }

    // Everything dropped, every block freed.
    void reset() {
        blocks_ = {};
        first_ = 0;
        size_ = 0;
    }

  private:
    static constexpr std::size_t min_block = 4 * 1024;
    static constexpr std::size_t max_block = 64 * 1024;

    struct block {
        std::vector<char> bytes;
        std::size_t begin = 0;  // written already
    };

    void pop_front() {
        if (first_ + 1 == blocks_.size()) {
            block& b = blocks_[first_];
            if (b.bytes.capacity() <= max_block) {
                // The only one: kept, emptied, for the next output.
                b.bytes.clear();
                b.begin = 0;
                blocks_.erase(blocks_.begin(), blocks_.begin() + first_);
                first_ = 0;
                return;
            }
            reset();
            return;
        }
        blocks_[first_] = {};
        ++first_;
    }

    std::vector<block> blocks_;  // blocks_[first_] onwards are queued
    std::size_t first_ = 0;
    std::size_t size_ = 0;
};

}  // namespace common
