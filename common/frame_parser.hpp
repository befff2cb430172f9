// The sans-I/O frame parser: bytes in, complete frames out, no sockets.
//
// Every variant reads into this parser and forwards what it yields, so the
// five servers can only differ in how they share state, never in how they
// read the protocol (docs/protocol.md, points 2, 3 and 6).
//
// Two fixes over the article's `parse_message`:
//  - `next()` is called until it says `need_more`, so every complete frame
//    in a read is forwarded at once (the original parsed one frame per read
//    and left the rest waiting for more bytes);
//  - the scan for the terminating 0 resumes where the last scan stopped, so
//    a frame that trickles in byte by byte costs O(n), not O(n^2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace common {

// One complete frame. `message` is what the destination receives: the
// payload and its terminating 0. It points into the parser's buffer and is
// valid until the next call to `prepare()`, `feed()` or `release()`.
struct frame {
    std::uint32_t dest;
    std::string_view message;
};

class frame_parser {
  public:
    enum class status {
        frame,      // `next()` filled in a frame; call it again
        need_more,  // nothing complete is buffered: read more bytes
        too_long,   // protocol error: the payload passed max_frame bytes
    };

    explicit frame_parser(std::size_t max_frame);

    // Zero-copy input: a writable span of at least `n` bytes at the end of
    // the buffer, to be filled by a read; then `commit` what was read.
    std::span<char> prepare(std::size_t n);
    void commit(std::size_t n);

    // Copying input, for callers that already hold the bytes.
    void feed(std::string_view bytes);

    // The next complete frame, if any. After `too_long` the parser is
    // poisoned: the connection is to be closed.
    status next(frame& out);

    // Bytes of a partial frame held: never more than 4 + max_frame + 1 plus
    // the last read, whatever the peer sends.
    std::size_t buffered() const { return end_ - begin_; }

    // Gives the buffer's memory back if it holds no partial frame, so that
    // an idle connection costs no read buffer; the next `prepare()` takes
    // one again. A partial frame is kept: its bytes are still to come.
    void release();

  private:
    // Not a vector: growing one zero-fills, and the buffer is taken again
    // for every read after a `release()`.
    std::unique_ptr<char[]> buf_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;    // first byte of the frame being parsed
    std::size_t scanned_ = 0;  // bytes after begin_ known to hold no 0
    std::size_t end_ = 0;      // one past the last byte read
    std::size_t max_frame_;
    bool poisoned_ = false;
};

}  // namespace common
