// libFuzzer target for common::frame_parser, the one piece of code that
// reads what any peer on the network chooses to send.
//
// The input is cut into a stream and the places where it is split into
// reads (FuzzedDataProvider takes bytes from the front and the sizes from
// the back). The stream is fed read by read, through either input path,
// draining every frame after each read as the servers do. The frames must
// be exactly those a whole-buffer reference parser finds, with the same
// final verdict (need more bytes, or too long), and the parser must never
// hold more than one partial frame, whatever the split.
//
// Input layout, for hand-made seeds: the last 2 bytes are max_frame (mod
// 1025); before them, read backwards, one byte per read chooses the input
// path, and 1 or 2 bytes its length; the stream is at the front.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/frame_parser.hpp"
#include "common/id.hpp"

namespace {

using common::frame_parser;
using status = frame_parser::status;

struct parsed {
    std::uint32_t dest;
    std::string message;
    bool operator==(const parsed&) const = default;
};

struct outcome {
    std::vector<parsed> frames;
    bool too_long = false;
};

// The protocol as docs/protocol.md states it, on the whole stream at once: a
// 4-byte id, then payload bytes up to a 0; a payload of more than
// max_frame bytes without its 0 is an error, and so is one whose 0 comes
// too late (no valid frame can hold it).
outcome reference_parse(std::string_view s, std::size_t max_frame) {
    outcome out;
    std::size_t pos = 0;
    while (s.size() - pos > 4) {
        const auto payload = s.substr(pos + 4);
        const auto zero = payload.find('\0');
        const auto len = zero == std::string_view::npos ? payload.size() : zero;
        if (len > max_frame) {
            out.too_long = true;
            return out;
        }
        if (zero == std::string_view::npos) {
            return out;  // an incomplete frame, within the limit
        }
        out.frames.push_back({common::decode_id(s.data() + pos),
                              std::string(payload.substr(0, zero + 1))});
        pos += 4 + zero + 1;
    }
    return out;
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "frame_parser_fuzz: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto max_frame = in.ConsumeIntegralInRange<std::size_t>(0, 1024);
    frame_parser parser(max_frame);
    outcome got;
    std::string stream;
    while (in.remaining_bytes() > 0 && !got.too_long) {
        const bool in_place = in.ConsumeBool();
        const auto want =
            in.ConsumeIntegralInRange<std::size_t>(0, 2 * max_frame + 16);
        const auto bytes = in.ConsumeBytesAsString(want);
        stream += bytes;
        if (in_place) {
            // A read fills less than it was offered, as reads do.
            auto space = parser.prepare(bytes.size() + 64);
            if (space.size() < bytes.size() + 64) {
                fail("prepare() gave less room than asked");
            }
            std::memcpy(space.data(), bytes.data(), bytes.size());
            parser.commit(bytes.size());
        } else {
            parser.feed(bytes);
        }
        // Views stay valid until the next prepare() or feed(): read them
        // only after the whole drain.
        std::vector<common::frame> frames;
        common::frame f;
        status s;
        while ((s = parser.next(f)) == status::frame) {
            frames.push_back(f);
        }
        for (const auto& fr : frames) {
            const auto& m = fr.message;
            if (m.empty() || m.back() != '\0' || m.find('\0') != m.size() - 1) {
                fail("a frame's message is not payload + one final 0");
            }
            if (m.size() > max_frame + 1) {
                fail("a frame longer than max_frame came out");
            }
            got.frames.push_back({fr.dest, std::string(m)});
        }
        got.too_long = s == status::too_long;
        // After a drain, at most one partial frame within the limit is
        // left: memory per connection is bounded by --max-frame.
        if (!got.too_long && parser.buffered() > 4 + max_frame) {
            fail("more than one partial frame is buffered");
        }
    }
    const auto expected = reference_parse(stream, max_frame);
    if (got.frames != expected.frames) {
        fail("frames differ from the whole-buffer reference");
    }
    if (got.too_long != expected.too_long) {
        fail("the too-long verdict differs from the reference");
    }
    return 0;
}
