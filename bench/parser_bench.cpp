// parser_bench: the frame parser's throughput, with its limit beside it.
//
// What it measures: bytes/s through common::frame_parser for a stream of
// small (16-byte) and large (4096-byte) frames, fed the way a server feeds
// it (prepare, copy in as a read would, commit, then next() until
// need_more). In the same run, the limit: memchr finding the same 0 bytes in
// the same buffer, and memcpy + memchr (the copy a read makes, plus the
// scan). The parser cannot beat the latter; how close it gets is the figure.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "common/frame_parser.hpp"
#include "common/id.hpp"
#include "common/io_sizes.hpp"

namespace {

using common::read_size;  // what a server reads at once

// About 1 MiB of back-to-back frames of `payload` bytes (none of them 0).
// The ids hold no 0 byte either, so that a plain memchr finds exactly one 0
// per frame, as the parser does.
std::string stream_of(std::size_t payload) {
    std::string s;
    std::string p(payload, 'a');
    for (std::size_t i = 0; i < payload; ++i)
        p[i] = char('a' + i % 26);
    for (std::uint32_t i = 0; s.size() < (1u << 20); ++i) {
        auto idb = common::encode_id(0x01010101 + i % 200);
        s.append(idb.data(), idb.size());
        s += p;
        s.push_back('\0');
    }
    return s;
}

void parser(benchmark::State& state) {
    const std::string in = stream_of(std::size_t(state.range(0)));
    common::frame_parser parser(1 << 20);
    std::size_t frames = 0;
    for (auto _ : state) {
        for (std::size_t off = 0; off < in.size(); off += read_size) {
            const std::size_t n = std::min(read_size, in.size() - off);
            auto space = parser.prepare(n);
            std::memcpy(space.data(), in.data() + off, n);
            parser.commit(n);
            common::frame f;
            while (parser.next(f) == common::frame_parser::status::frame) {
                benchmark::DoNotOptimize(f);
                ++frames;
            }
        }
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
    state.counters["frames/s"] =
        benchmark::Counter(double(frames), benchmark::Counter::kIsRate);
}

// The limit: find every 0 in place, nothing else.
void memchr_limit(benchmark::State& state) {
    const std::string in = stream_of(std::size_t(state.range(0)));
    for (auto _ : state) {
        const char* p = in.data();
        const char* end = p + in.size();
        while (const void* z = std::memchr(p, 0, end - p)) {
            benchmark::DoNotOptimize(z);
            p = static_cast<const char*>(z) + 1;
        }
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
}

// The limit with the copy a read makes: memcpy each read into a buffer,
// then memchr through it.
void memcpy_memchr_limit(benchmark::State& state) {
    const std::string in = stream_of(std::size_t(state.range(0)));
    std::string buf(read_size, '\0');
    for (auto _ : state) {
        for (std::size_t off = 0; off < in.size(); off += read_size) {
            const std::size_t n = std::min(read_size, in.size() - off);
            std::memcpy(buf.data(), in.data() + off, n);
            const char* p = buf.data();
            const char* end = p + n;
            while (const void* z = std::memchr(p, 0, end - p)) {
                benchmark::DoNotOptimize(z);
                p = static_cast<const char*>(z) + 1;
            }
        }
    }
    state.SetBytesProcessed(std::int64_t(state.iterations() * in.size()));
}

}  // namespace

BENCHMARK(parser)->Arg(16)->Arg(4096);
BENCHMARK(memchr_limit)->Arg(16)->Arg(4096);
BENCHMARK(memcpy_memchr_limit)->Arg(16)->Arg(4096);

BENCHMARK_MAIN();
