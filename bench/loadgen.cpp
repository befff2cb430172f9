// loadgen: the project's load generator, one process, one thread, Asio.
//
// What it measures: frames delivered per second between N client pairs
// (each client sends to its partner only), one-way latency (a send
// timestamp rides in every payload; sender and receiver share this process's
// clock), and, given --server-pid, the server's CPU time and peak RSS over
// the measured window. Every received frame is verified: from the right
// partner, intact, in order; anything else is counted as an error.
//
// Load shapes:
//  - closed loop (default): each client keeps at most --window frames in
//    flight to its partner; the throughput a server sustains;
//  - open loop (--rate R): R frames/s in total, evenly spread over the
//    clients, whatever the server does; the latency at a given load. A frame
//    delayed because the server stopped reading is stamped with the time it
//    was due, not the time it finally went out, so a stall shows in the
//    latency instead of hiding (no "coordinated omission").
// Options for the article's claims: --slow-client adds a client that never
// reads while another floods it with --flood-bytes (head-of-line blocking,
// unbounded queues); --idle K holds K idle connections open (the cost of
// watching every socket).
//
// It always ends: the run has a hard deadline, and a server that stops
// delivering is reported as `"stalled": true`, never waited for. It prints
// one JSON object on stdout; exit status 0 if every frame checked out and
// nothing stalled, 1 otherwise (the JSON is printed either way).
//
// --protocol redis drives a Redis 7 server instead, through a small adapter:
// each client subscribes to its own channel (RESP3, so the same connection
// may also publish) and publishes to its partner's.
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <boost/asio.hpp>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/id.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
constexpr auto as_tuple = asio::as_tuple(use_awaitable);
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------- options

struct config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    enum { router, redis } protocol = router;
    unsigned pairs = 8;
    std::size_t size = 64;  // payload bytes, the terminating 0 not counted
    unsigned window = 32;   // closed loop: frames in flight per client
    unsigned batch = 0;     // closed loop: fewest frames per write; 0: half
                            // the window
    double rate = 0;        // open loop: frames/s in total; 0: closed loop
    double duration = 2.0;  // measured seconds
    double warmup = 0.3;    // seconds run before measuring
    unsigned idle = 0;
    bool slow_client = false;
    std::size_t flood_bytes = 24u << 20;
    std::size_t flood_frame = 16u << 10;
    int server_pid = 0;
    double stall_after = 1.0;    // a client waiting this long has stalled
    double connect_timeout = 0;  // 0: 10 s + 1 s per 1000 connections
    unsigned connect_parallel = 128;
};

[[noreturn]] void usage_error(const std::string& what) {
    std::cerr << "loadgen: " << what << "\n"
              << "usage: loadgen [--host H] [--port N] [--protocol "
                 "router|redis]\n"
                 "  [--pairs N] [--size BYTES] [--window N | --rate "
                 "FRAMES_PER_S]\n"
                 "  [--batch N]\n"
                 "  [--duration S] [--warmup S] [--idle K] [--slow-client]\n"
                 "  [--flood-bytes B] [--server-pid PID] [--stall-after S]\n";
    std::exit(2);
}

config parse(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto val = [&]() -> std::string_view {
            if (i + 1 >= argc)
                usage_error(std::string(a) + ": needs a value");
            return argv[++i];
        };
        auto num = [&]() -> double {
            std::string s(val());
            char* end = nullptr;
            double v = std::strtod(s.c_str(), &end);
            if (end == s.c_str() || *end != 0 || v < 0) {
                usage_error(std::string(a) + ": not a number: " + s);
            }
            return v;
        };
        if (a == "--host")
            c.host = val();
        else if (a == "--port")
            c.port = std::uint16_t(num());
        else if (a == "--protocol") {
            auto p = val();
            if (p == "router")
                c.protocol = config::router;
            else if (p == "redis")
                c.protocol = config::redis;
            else
                usage_error("--protocol: router or redis");
        } else if (a == "--pairs")
            c.pairs = unsigned(num());
        else if (a == "--size")
            c.size = std::size_t(num());
        else if (a == "--window")
            c.window = unsigned(num());
        else if (a == "--batch")
            c.batch = unsigned(num());
        else if (a == "--rate")
            c.rate = num();
        else if (a == "--duration")
            c.duration = num();
        else if (a == "--warmup")
            c.warmup = num();
        else if (a == "--idle")
            c.idle = unsigned(num());
        else if (a == "--slow-client")
            c.slow_client = true;
        else if (a == "--flood-bytes")
            c.flood_bytes = std::size_t(num());
        else if (a == "--server-pid")
            c.server_pid = int(num());
        else if (a == "--stall-after")
            c.stall_after = num();
        else if (a == "--connect-timeout")
            c.connect_timeout = num();
        else
            usage_error(std::string(a) + ": unknown option");
    }
    if (c.pairs == 0 || c.window == 0)
        usage_error("--pairs and --window > 0");
    if (c.pairs > (1u << 20))
        usage_error("--pairs: at most 1048576");
    if (c.batch == 0)
        c.batch = std::max(1u, c.window / 2);
    c.batch = std::min(c.batch, c.window);
    if (c.duration <= 0)
        usage_error("--duration must be positive");
    if (c.connect_timeout == 0) {
        c.connect_timeout = 10.0 + (c.idle + 2.0 * c.pairs) / 1000.0;
    }
    return c;
}

// ---------------------------------------------------------------- payload
//
// A payload may hold no 0 byte, so numbers travel 7 bits per byte with the
// high bit set: [seq: 5][send time, ns: 6][sender: 3][filler]. The filler
// is a pattern that depends on seq, so a shifted or mixed-up frame fails
// the check.

constexpr std::size_t header_size = 14;

void put7(char* p, std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i, v >>= 7) {
        p[i] = static_cast<char>(0x80 | (v & 0x7f));
    }
}

std::uint64_t get7(const char* p, int n, bool& ok) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        const auto b = static_cast<std::uint8_t>(p[i]);
        ok = ok && (b & 0x80);
        v = v << 7 | (b & 0x7f);
    }
    return v;
}

// pattern()[j] = 1 + j % 251: never 0.
const std::string& pattern() {
    static const std::string p = [] {
        std::string s(1 << 20, '\0');
        for (std::size_t j = 0; j < s.size(); ++j)
            s[j] = char(1 + j % 251);
        return s;
    }();
    return p;
}

// ---------------------------------------------------------------- histogram
//
// Log-linear buckets: exact below 16 ns, then 16 buckets per power of two
// (6 % wide): plenty for p50/p99/p99.9 and cheap enough for every frame.

class histogram {
  public:
    void record(std::uint64_t v) {
        ++counts_[index(v)];
        ++total_;
        max_ = std::max(max_, v);
        sum_ += double(v);
    }
    std::uint64_t count() const { return total_; }
    std::uint64_t max() const { return max_; }
    double mean() const { return total_ ? sum_ / double(total_) : 0; }
    std::uint64_t quantile(double q) const {
        if (total_ == 0)
            return 0;
        const auto rank = std::uint64_t(std::ceil(q * double(total_)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= std::max<std::uint64_t>(rank, 1)) {
                return std::min(mid(i), max_);
            }
        }
        return max_;
    }

  private:
    static std::size_t index(std::uint64_t v) {
        if (v < 16)
            return std::size_t(v);
        const int e = 63 - __builtin_clzll(v);
        return std::size_t(e - 3) * 16 + ((v >> (e - 4)) & 15);
    }
    static std::uint64_t mid(std::size_t i) {
        if (i < 16)
            return i;
        const int e = int(i / 16) + 3;
        const std::uint64_t lower = (16 + i % 16) << (e - 4);
        return lower + (std::uint64_t(1) << (e - 4)) / 2;
    }
    std::array<std::uint64_t, 61 * 16> counts_{};
    std::uint64_t total_ = 0, max_ = 0;
    double sum_ = 0;
};

// ---------------------------------------------------------------- RESP3
//
// Just enough of Redis's protocol for the adapter: skips any value, and
// collects the strings of a top-level push or array (a pub/sub message is
// the push ["message", channel, payload]).

const char* resp_line(const char* p, const char* end) {
    const void* nl = std::memchr(p, '\n', end - p);
    return nl ? static_cast<const char*>(nl) + 1 : nullptr;
}

long long resp_int(const char* p, const char* line_end) {
    long long v = 0;
    std::from_chars(p, line_end - 2, v);
    return v;
}

// Returns the end of the value, or nullptr if incomplete.
const char* resp_parse(const char* p,
                       const char* end,
                       char& type,
                       std::vector<std::string_view>* parts,
                       int depth = 0) {
    if (p >= end)
        return nullptr;
    type = *p;
    const char* le = resp_line(p, end);
    if (le == nullptr)
        return nullptr;
    switch (type) {
        case '$':
        case '=':
        case '!': {
            const long long n = resp_int(p + 1, le);
            if (n < 0)
                return le;
            if (end - le < n + 2)
                return nullptr;
            if (parts && depth == 1)
                parts->emplace_back(le, std::size_t(n));
            return le + n + 2;
        }
        case '*':
        case '>':
        case '~':
        case '%':
        case '|': {
            long long n = resp_int(p + 1, le);
            if (type == '%' || type == '|')
                n *= 2;
            const char* q = le;
            for (long long i = 0; i < n; ++i) {
                char t;
                q = resp_parse(q, end, t, parts, depth + 1);
                if (q == nullptr)
                    return nullptr;
            }
            return q;
        }
        default:  // + - : _ # , ( : one line
            if (parts && depth == 1) {
                parts->emplace_back(p + 1, std::size_t(le - 2 - p - 1));
            }
            return le;
    }
}

// ---------------------------------------------------------------- clients

enum class role { pair, idle, slow, flooder };

struct client {
    explicit client(asio::io_context& ioc) : sock(ioc) {}
    tcp::socket sock;
    role kind = role::pair;
    std::uint32_t index = 0;  // among the paired clients
    std::uint32_t id = 0;     // the server's id for it
    client* partner = nullptr;
    bool ready = false;
    // Sending: frames written so far; at most one write in flight.
    std::uint64_t sent = 0;
    bool writing = false;
    std::string wbuf;
    // Receiving: frames from the partner, checked in order.
    std::uint64_t received = 0;
    std::uint64_t received_in_window = 0;
    steady::time_point last_rx;
    bool stalled = false;
    bool closed = false;
    std::vector<char> rbuf = std::vector<char>(64 * 1024);
    std::size_t rbeg = 0, rend = 0;
    std::string channel;  // redis: "c<index>"
};

struct errors {
    std::uint64_t wrong_partner = 0, corrupt = 0, out_of_order = 0,
                  disconnected = 0, server_errors = 0;
    std::uint64_t total() const {
        return wrong_partner + corrupt + out_of_order + disconnected +
               server_errors;
    }
};

// ---------------------------------------------------------------- server
// What /proc says about the server process.

struct proc_sample {
    double cpu_s = -1;
    long rss_kb = -1, hwm_kb = -1;
};

// CPU time (s) the whole machine spent busy, from /proc/stat: with the
// server's and our own, it tells how much other processes took during the
// measured window, i.e. how far the figures can be trusted.
double machine_busy_s() {
    std::ifstream st("/proc/stat");
    std::string cpu;
    unsigned long long v[8] = {};
    st >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
    // user nice system idle iowait irq softirq steal. Not idle, iowait, nor
    // irq and softirq: loopback TCP is processed in softirq time that no
    // process is charged for, and that is the benchmark's own work.
    const auto busy = v[0] + v[1] + v[2] + v[7];
    return double(busy) / double(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

proc_sample read_proc(int pid) {
    proc_sample s;
    if (pid <= 0)
        return s;
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(st)), {});
    // Fields after the command name, which may hold spaces: after ")".
    if (auto rp = all.rfind(')'); rp != std::string::npos) {
        std::istringstream is(all.substr(rp + 2));
        std::string f;
        unsigned long long ut = 0, stt = 0;
        for (int i = 3; i <= 15 && is >> f; ++i) {
            if (i == 14)
                ut = std::stoull(f);
            if (i == 15)
                stt = std::stoull(f);
        }
        s.cpu_s = double(ut + stt) / double(sysconf(_SC_CLK_TCK));
    }
    std::ifstream ss("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(ss, line);) {
        if (line.starts_with("VmRSS:"))
            s.rss_kb = std::stol(line.substr(6));
        if (line.starts_with("VmHWM:"))
            s.hwm_kb = std::stol(line.substr(6));
    }
    return s;
}

// ---------------------------------------------------------------- the run

class loadgen {
  public:
    loadgen(asio::io_context& ioc, config c)
        : ioc_(ioc),
          cfg_(std::move(c)),
          timer_(ioc),
          tick_(ioc),
          sampler_(ioc) {
        if (cfg_.size < header_size) {
            usage_error("--size: at least " + std::to_string(header_size));
        }
        if (cfg_.size > pattern().size() - 256)
            usage_error("--size: too big");
        const unsigned total =
            cfg_.idle + 2 * cfg_.pairs + (cfg_.slow_client ? 2 : 0);
        for (unsigned i = 0; i < total; ++i) {
            clients_.push_back(std::make_unique<client>(ioc));
        }
        // The pairs first, then slow and flooder, then the idle ones: a
        // server that runs out of descriptors refuses only idle ones.
        unsigned k = 0;
        for (unsigned i = 0; i < 2 * cfg_.pairs; ++i) {
            client& c = *clients_[k++];
            c.index = i;
            c.channel = "c" + std::to_string(i);
            pairs_.push_back(&c);
        }
        for (unsigned i = 0; i < cfg_.pairs; ++i) {
            pairs_[2 * i]->partner = pairs_[2 * i + 1];
            pairs_[2 * i + 1]->partner = pairs_[2 * i];
        }
        if (cfg_.slow_client) {
            slow_ = clients_[k++].get();
            slow_->kind = role::slow;
            slow_->channel = "slow";
            flooder_ = clients_[k++].get();
            flooder_->kind = role::flooder;
        }
        while (k < total) {
            clients_[k++]->kind = role::idle;
        }
        per_client_rate_ = cfg_.rate / double(pairs_.size());
        if (cfg_.rate > 0) {
            tick_ns_ = std::max<std::uint64_t>(tick_ns_,
                                               std::uint64_t(1e9 / cfg_.rate));
        }
    }

    void start() {
        t0_ = steady::now();
        if (cfg_.server_pid > 0)
            sample();
        for (unsigned i = 0; i < cfg_.connect_parallel; ++i) {
            co_spawn(ioc_, connector(), asio::detached);
        }
        timer_.expires_after(seconds(cfg_.connect_timeout));
        timer_.async_wait([this](error_code ec) {
            if (!ec && phase_ == phase::connecting) {
                connect_failed_ = "connect phase took longer than " +
                                  std::to_string(cfg_.connect_timeout) + " s";
                finish();
            }
        });
    }

    // The deadline the caller enforces with io_context::run_for.
    double hard_deadline() const {
        return cfg_.connect_timeout + cfg_.warmup + cfg_.duration + 5.0;
    }
    bool finished() const { return phase_ == phase::done; }
    void print_json(bool deadline_hit);
    int exit_status() const;

  private:
    enum class phase { connecting, warmup, measure, drain, done };

    static steady::duration seconds(double s) {
        return std::chrono::duration_cast<steady::duration>(
            std::chrono::duration<double>(s));
    }
    std::uint64_t ns_since_start(steady::time_point t) const {
        return std::uint64_t((t - t0_).count());
    }

    // ---- connecting
    awaitable<void> connector() {
        while (next_connect_ < clients_.size() && connect_failed_.empty()) {
            client& c = *clients_[next_connect_++];
            if (auto err = co_await setup(c); !err.empty()) {
                if (c.kind == role::idle) {
                    // Counted, not fatal: the run measures what was held.
                    ++idle_failed_;
                    if (idle_error_.empty()) {
                        idle_error_ = err;
                    }
                    c.sock.close();
                    if (++connected_ == clients_.size()) {
                        begin_run();
                    }
                    continue;
                }
                if (connect_failed_.empty())
                    connect_failed_ = err;
                finish();
                co_return;
            }
            if (++connected_ == clients_.size())
                begin_run();
        }
    }

    awaitable<std::string> setup(client& c) {
        tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
        auto [ec] = co_await c.sock.async_connect(ep, as_tuple);
        if (ec)
            co_return "connect: " + ec.message();
        c.sock.set_option(tcp::no_delay(true), ec);
        if (cfg_.protocol == config::router) {
            std::array<char, 4> idb;
            auto [ec2, n] =
                co_await asio::async_read(c.sock, asio::buffer(idb), as_tuple);
            if (ec2)
                co_return "reading the id: " + ec2.message();
            c.id = common::decode_id(idb.data());
            co_return "";
        }
        // Redis: subscribed clients speak RESP3, so that one connection may
        // both receive its channel and publish to its partner's.
        std::string hello = "PING\r\n";
        if (c.kind == role::pair || c.kind == role::slow) {
            hello = "HELLO 3\r\nSUBSCRIBE " + c.channel + "\r\n";
        }
        auto [ec3, n3] =
            co_await asio::async_write(c.sock, asio::buffer(hello), as_tuple);
        if (ec3)
            co_return "redis handshake: " + ec3.message();
        std::string in;
        std::vector<std::string_view> parts;
        for (;;) {
            char buf[4096];
            auto [ec4, n4] =
                co_await c.sock.async_read_some(asio::buffer(buf), as_tuple);
            if (ec4)
                co_return "redis handshake: " + ec4.message();
            in.append(buf, n4);
            const char* p = in.data();
            const char* end = p + in.size();
            for (;;) {
                char t;
                parts.clear();
                const char* q = resp_parse(p, end, t, &parts);
                if (q == nullptr)
                    break;
                p = q;
                if (t == '-')
                    co_return "redis: " + std::string(p, q);
                if (hello.starts_with("PING") ||
                    (t == '>' && !parts.empty() && parts[0] == "subscribe")) {
                    if (p != end)
                        co_return "redis: unexpected data";
                    co_return "";
                }
            }
            in.erase(0, p - in.data());
        }
    }

    // ---- running
    void begin_run() {
        phase_ = phase::warmup;
        connect_s_ = std::chrono::duration<double>(steady::now() - t0_).count();
        run_start_ = steady::now();
        measure_start_ = run_start_ + seconds(cfg_.warmup);
        measure_end_ = measure_start_ + seconds(cfg_.duration);
        for (client* c : pairs_) {
            c->last_rx = run_start_;
            read(*c);
        }
        if (flooder_)
            read(*flooder_);  // replies (redis) are discarded
        for (client* c : pairs_)
            pump(*c);
        if (cfg_.rate > 0)
            open_loop_tick();
        timer_.expires_at(measure_start_);
        timer_.async_wait([this](error_code ec) {
            if (ec)
                return;
            phase_ = phase::measure;
            cpu_at_start_ = read_proc(cfg_.server_pid).cpu_s;
            busy_at_start_ = machine_busy_s();
            self_at_start_ = self_cpu_s();
            if (flooder_)
                flood();
            timer_.expires_at(measure_end_);
            timer_.async_wait([this](error_code ec) {
                if (!ec)
                    end_measure();
            });
        });
        check_stalls();
    }

    // Frames this client may send now: closed loop, what its window allows;
    // open loop, what is due by now.
    std::uint64_t allowed(const client& c, steady::time_point now) const {
        if (cfg_.rate > 0) {
            const double t =
                std::chrono::duration<double>(now - run_start_).count();
            // Frame k is due at k / rate: frame 0 at once.
            return std::uint64_t(t * per_client_rate_ + schedule_offset(c)) + 1;
        }
        return c.partner->received + cfg_.window;
    }

    // Open loop: the clients' schedules are spread over one interval, so
    // they do not all send in the same instant (a burst the load generator
    // itself would queue).
    double schedule_offset(const client& c) const {
        return double(c.index) / double(pairs_.size());
    }

    void pump(client& c) {
        if (c.writing || c.closed ||
            (phase_ != phase::warmup && phase_ != phase::measure)) {
            return;
        }
        const auto now = steady::now();
        const std::uint64_t limit = allowed(c, now);
        if (limit <= c.sent)
            return;
        // Closed loop: refill the window in batches, not a frame at a time,
        // so the load generator's cost per frame stays low and does not
        // depend on how promptly the server answers.
        if (cfg_.rate <= 0 && limit - c.sent < cfg_.batch)
            return;
        const std::size_t frame_bytes = wire_size();
        const std::uint64_t max_batch =
            std::max<std::uint64_t>(1, (64 * 1024) / frame_bytes);
        const std::uint64_t n = std::min(limit - c.sent, max_batch);
        c.wbuf.clear();
        const std::uint64_t now_ns = ns_since_start(now);
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t stamp = now_ns;
            if (cfg_.rate > 0) {
                // Due long ago because the server would not take it: the
                // wait counts (see the header). A tick's lateness does not.
                const auto due =
                    ns_since_start(run_start_) +
                    std::uint64_t((double(c.sent + i) - schedule_offset(c)) *
                                  1e9 / per_client_rate_);
                if (now_ns > due + 2 * tick_ns_)
                    stamp = due;
            }
            append_frame(c, c.sent + i, stamp);
        }
        c.sent += n;
        c.writing = true;
        asio::async_write(
            c.sock, asio::buffer(c.wbuf), [this, &c](error_code ec, size_t) {
                c.writing = false;
                if (ec) {
                    lost(c, ec);
                    return;
                }
                pump(c);
            });
    }

    std::size_t wire_size() const {
        if (cfg_.protocol == config::router)
            return 4 + cfg_.size + 1;
        return 40 + cfg_.size;
    }

    void append_frame(client& c, std::uint64_t seq, std::uint64_t stamp) {
        char head[header_size];
        put7(head, seq, 5);
        put7(head + 5, stamp, 6);
        put7(head + 11, c.index, 3);
        const std::string_view filler(pattern().data() + seq % 251,
                                      cfg_.size - header_size);
        if (cfg_.protocol == config::router) {
            const auto idb = common::encode_id(c.partner->id);
            c.wbuf.append(idb.data(), idb.size());
            c.wbuf.append(head, header_size);
            c.wbuf.append(filler);
            c.wbuf.push_back('\0');
        } else {
            const std::string& ch = c.partner->channel;
            c.wbuf += "*3\r\n$7\r\nPUBLISH\r\n$" + std::to_string(ch.size()) +
                      "\r\n" + ch + "\r\n$" + std::to_string(cfg_.size) +
                      "\r\n";
            c.wbuf.append(head, header_size);
            c.wbuf.append(filler);
            c.wbuf += "\r\n";
        }
    }

    void read(client& c) {
        if (c.rbuf.size() - c.rend < 16 * 1024) {
            // Compact, then grow if one frame is larger than the buffer.
            std::memmove(
                c.rbuf.data(), c.rbuf.data() + c.rbeg, c.rend - c.rbeg);
            c.rend -= c.rbeg;
            c.rbeg = 0;
            if (c.rbuf.size() - c.rend < 16 * 1024) {
                c.rbuf.resize(c.rbuf.size() * 2);
            }
        }
        c.sock.async_read_some(
            asio::buffer(c.rbuf.data() + c.rend, c.rbuf.size() - c.rend),
            [this, &c](error_code ec, std::size_t n) {
                if (ec) {
                    lost(c, ec);
                    return;
                }
                c.rend += n;
                if (c.kind == role::pair)
                    on_data(c);
                else
                    c.rbeg = c.rend;  // the flooder's replies: discarded
                read(c);
            });
    }

    void on_data(client& c) {
        const auto now = steady::now();
        const std::uint64_t now_ns = ns_since_start(now);
        const bool in_window = now >= measure_start_ && now <= measure_end_;
        const char* p = c.rbuf.data() + c.rbeg;
        const char* end = c.rbuf.data() + c.rend;
        const std::uint64_t before = c.received;
        if (cfg_.protocol == config::router) {
            while (const void* z = std::memchr(p, 0, end - p)) {
                const char* ze = static_cast<const char*>(z);
                check(c, std::string_view(p, ze - p), now_ns, in_window);
                p = ze + 1;
            }
        } else {
            for (;;) {
                char t;
                parts_.clear();
                const char* q = resp_parse(p, end, t, &parts_);
                if (q == nullptr)
                    break;
                p = q;
                if (t == '>' && parts_.size() == 3 && parts_[0] == "message") {
                    check(c, parts_[2], now_ns, in_window);
                } else if (t == '-' || t == '!') {
                    ++errors_.server_errors;
                }
            }
        }
        c.rbeg = p - c.rbuf.data();
        if (c.rbeg == c.rend)
            c.rbeg = c.rend = 0;
        if (c.received != before) {
            c.last_rx = now;
            pump(*c.partner);
        }
    }

    void check(client& c,
               std::string_view payload,
               std::uint64_t now_ns,
               bool in_window) {
        bool ok = payload.size() == cfg_.size;
        std::uint64_t seq = 0, stamp = 0, from = 0;
        if (ok) {
            seq = get7(payload.data(), 5, ok);
            stamp = get7(payload.data() + 5, 6, ok);
            from = get7(payload.data() + 11, 3, ok);
            ok = ok && std::memcmp(payload.data() + header_size,
                                   pattern().data() + seq % 251,
                                   cfg_.size - header_size) == 0;
        }
        if (!ok) {
            ++errors_.corrupt;
        } else if (from != c.partner->index) {
            ++errors_.wrong_partner;
        } else if (seq != c.received) {
            ++errors_.out_of_order;
        }
        // Counted even when wrong, so one bad frame is one error, not a
        // cascade of out-of-order ones.
        c.received = ok && from == c.partner->index ? seq + 1 : c.received + 1;
        ++total_delivered_;
        if (in_window) {
            ++c.received_in_window;
            ++delivered_;
            if (ok && now_ns >= stamp)
                latency_.record(now_ns - stamp);
        }
    }

    void open_loop_tick() {
        if (phase_ != phase::warmup && phase_ != phase::measure)
            return;
        for (client* c : pairs_)
            pump(*c);
        tick_.expires_after(std::chrono::nanoseconds(tick_ns_));
        tick_.async_wait([this](error_code ec) {
            if (!ec)
                open_loop_tick();
        });
    }

    // A client whose partner has frames in flight to it and that has
    // received nothing for --stall-after seconds has stalled.
    void check_stalls() {
        if (phase_ == phase::done)
            return;
        const auto now = steady::now();
        const bool measuring =
            phase_ == phase::measure || phase_ == phase::drain;
        for (client* c : pairs_) {
            if (!c->closed && measuring && c->partner->sent > c->received &&
                now - c->last_rx > seconds(cfg_.stall_after)) {
                if (!c->stalled)
                    ++stalled_clients_;
                c->stalled = true;
                if (first_stall_s_ < 0) {
                    first_stall_s_ =
                        std::chrono::duration<double>(now - measure_start_)
                            .count();
                }
            }
        }
        stall_timer_.expires_after(std::chrono::milliseconds(50));
        stall_timer_.async_wait([this](error_code ec) {
            if (!ec)
                check_stalls();
        });
    }

    void sample() {
        if (phase_ == phase::done)
            return;
        const auto s = read_proc(cfg_.server_pid);
        peak_rss_kb_ = std::max(peak_rss_kb_, s.rss_kb);
        if (rss_start_kb_ < 0)
            rss_start_kb_ = s.rss_kb;
        sampler_.expires_after(std::chrono::milliseconds(100));
        sampler_.async_wait([this](error_code ec) {
            if (!ec)
                sample();
        });
    }

    void flood() {
        // Frames to the slow client, as fast as the server takes them.
        std::string frame;
        const std::string payload(cfg_.flood_frame, 'x');
        if (cfg_.protocol == config::router) {
            const auto idb = common::encode_id(slow_->id);
            frame.assign(idb.begin(), idb.end());
            frame += payload;
            frame.push_back('\0');
        } else {
            frame = "*3\r\n$7\r\nPUBLISH\r\n$4\r\nslow\r\n$" +
                    std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
        }
        flooder_->wbuf.clear();
        while (flooder_->wbuf.size() < 256 * 1024)
            flooder_->wbuf += frame;
        flood_frame_wire_ = frame.size();
        flood_more();
    }

    void flood_more() {
        if (flood_sent_ >= cfg_.flood_bytes || phase_ == phase::done) {
            return;
        }
        flooder_->writing = true;
        asio::async_write(
            flooder_->sock,
            asio::buffer(flooder_->wbuf),
            [this](error_code ec, std::size_t n) {
                flooder_->writing = false;
                flood_sent_ += n / flood_frame_wire_ * cfg_.flood_frame;
                if (ec) {
                    if (ec != asio::error::operation_aborted) {
                        flood_error_ = ec.message();
                    }
                    return;
                }
                if (flood_sent_ >= cfg_.flood_bytes) {
                    flood_done_s_ = std::chrono::duration<double>(
                                        steady::now() - measure_start_)
                                        .count();
                }
                flood_more();
            });
    }

    void lost(client& c, const error_code& ec) {
        if (c.closed)
            return;
        c.closed = true;
        if (phase_ == phase::done || ec == asio::error::operation_aborted) {
            return;
        }
        if (c.kind == role::pair) {
            ++errors_.disconnected;
            if (first_socket_error_.empty()) {
                first_socket_error_ =
                    "client " + std::to_string(c.index) + ": " + ec.message();
            }
        }
    }

    void end_measure() {
        phase_ = phase::drain;
        cpu_at_end_ = read_proc(cfg_.server_pid).cpu_s;
        busy_at_end_ = machine_busy_s();
        self_at_end_ = self_cpu_s();
        drain_deadline_ = steady::now() + std::chrono::seconds(1);
        drain_wait();
    }

    // Waits (at most a second) for frames still in flight, so that a server
    // that merely lags is not mistaken for one that lost them.
    void drain_wait() {
        bool pending = false;
        for (client* c : pairs_) {
            pending = pending || (!c->closed && c->partner->sent > c->received);
        }
        if (!pending || steady::now() > drain_deadline_) {
            count_undelivered();
            drain_slow();
            return;
        }
        timer_.expires_after(std::chrono::milliseconds(10));
        timer_.async_wait([this](error_code ec) {
            if (!ec)
                drain_wait();
        });
    }

    // Open loop: a frame due in the window that never arrived (or was never
    // even sent, the server having stopped reading) has waited until now.
    // Left out, a server that delivers nothing would show a fine p99.
    void count_undelivered() {
        if (cfg_.rate <= 0)
            return;
        const auto now = steady::now();
        const std::uint64_t now_ns = ns_since_start(now);
        const std::uint64_t from_ns = ns_since_start(measure_start_);
        const std::uint64_t to_ns = ns_since_start(measure_end_);
        for (client* c : pairs_) {
            const client& p = *c->partner;
            const std::uint64_t due_by_end = allowed(p, measure_end_);
            for (std::uint64_t k = c->received; k < due_by_end; ++k) {
                const double rel =
                    (double(k) - schedule_offset(p)) * 1e9 / per_client_rate_;
                const std::uint64_t due =
                    ns_since_start(run_start_) + std::uint64_t(rel);
                if (due >= from_ns && due <= to_ns && now_ns > due) {
                    latency_.record(now_ns - due);
                    ++undelivered_;
                }
            }
        }
    }

    // Only now does the slow client read: if the server disconnected it,
    // its queued bytes end in EOF. A server that never closes it keeps it
    // open past the short deadline.
    void drain_slow() {
        if (!slow_) {
            finish();
            return;
        }
        for (client* c : pairs_)
            c->sock.close();  // the load is over
        flooder_->sock.close();
        slow_->rbeg = slow_->rend = 0;
        timer_.expires_after(std::chrono::milliseconds(1500));
        timer_.async_wait([this](error_code ec) {
            if (!ec)
                finish();
        });
        drain_slow_read();
    }

    void drain_slow_read() {
        slow_->sock.async_read_some(
            asio::buffer(slow_->rbuf), [this](error_code ec, std::size_t n) {
                slow_drained_ += n;
                if (ec == asio::error::eof ||
                    ec == asio::error::connection_reset) {
                    slow_disconnected_ = true;
                    finish();
                } else if (!ec) {
                    drain_slow_read();
                }
            });
    }

    void finish() {
        if (phase_ == phase::done)
            return;
        const bool ran = phase_ != phase::connecting;
        phase_ = phase::done;
        if (ran && cpu_at_end_ < 0)
            cpu_at_end_ = read_proc(cfg_.server_pid).cpu_s;
        hwm_kb_ = read_proc(cfg_.server_pid).hwm_kb;
        ioc_.stop();
    }

    asio::io_context& ioc_;
    config cfg_;
    asio::steady_timer timer_, tick_, sampler_;
    asio::steady_timer stall_timer_{ioc_};
    // Open loop: how often due frames are sent. No finer than the gap
    // between two frames of the whole schedule, and no finer than 50 us:
    // every tick costs the load generator CPU the server could use.
    std::uint64_t tick_ns_ = 50'000;
    std::vector<std::unique_ptr<client>> clients_;
    std::vector<client*> pairs_;
    client* slow_ = nullptr;
    client* flooder_ = nullptr;
    double per_client_rate_ = 0;
    phase phase_ = phase::connecting;
    std::size_t next_connect_ = 0, connected_ = 0, idle_failed_ = 0;
    std::string idle_error_;
    std::string connect_failed_, first_socket_error_, flood_error_;
    steady::time_point t0_, run_start_, measure_start_, measure_end_,
        drain_deadline_;
    double connect_s_ = -1;
    std::vector<std::string_view> parts_;
    errors errors_;
    histogram latency_;
    std::uint64_t delivered_ = 0, total_delivered_ = 0, undelivered_ = 0;
    unsigned stalled_clients_ = 0;
    double first_stall_s_ = -1;
    std::size_t flood_sent_ = 0, flood_frame_wire_ = 1, slow_drained_ = 0;
    double flood_done_s_ = -1;
    bool slow_disconnected_ = false;
    double cpu_at_start_ = -1, cpu_at_end_ = -1;
    double busy_at_start_ = -1, busy_at_end_ = -1;
    double self_at_start_ = 0, self_at_end_ = 0;
    long peak_rss_kb_ = -1, rss_start_kb_ = -1, hwm_kb_ = -1;
};

std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\')
            o += '\\';
        if (static_cast<unsigned char>(ch) < 0x20)
            continue;
        o += ch;
    }
    return o + "\"";
}

std::string num(double v, int prec = 3) {
    if (!std::isfinite(v))
        return "null";
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

void loadgen::print_json(bool deadline_hit) {
    if (deadline_hit && cpu_at_start_ >= 0 && cpu_at_end_ < 0) {
        cpu_at_end_ = read_proc(cfg_.server_pid).cpu_s;
    }
    if (deadline_hit)
        hwm_kb_ = read_proc(cfg_.server_pid).hwm_kb;
    const double secs = cfg_.duration;
    std::uint64_t sent = 0, min_client = UINT64_MAX;
    for (client* c : pairs_) {
        sent += c->sent;
        min_client = std::min(min_client, c->received_in_window);
    }
    const bool connected = connect_failed_.empty() && connect_s_ >= 0;
    if (!connected)
        min_client = 0;
    const double cpu = (cpu_at_start_ >= 0 && cpu_at_end_ >= 0)
                           ? cpu_at_end_ - cpu_at_start_
                           : NAN;
    const bool stalled = stalled_clients_ > 0 || deadline_hit;
    std::ostringstream o;
    auto us = [&](std::uint64_t ns) { return num(double(ns) / 1e3, 1); };
    o << "{\"protocol\": "
      << (cfg_.protocol == config::router ? "\"router\"" : "\"redis\"")
      << ", \"pairs\": " << cfg_.pairs << ", \"payload\": " << cfg_.size
      << ", \"window\": " << cfg_.window << ", \"rate\": " << num(cfg_.rate, 0)
      << ", \"duration_s\": " << num(secs) << ", \"idle\": " << cfg_.idle
      << ",\n \"connected\": " << (connected ? "true" : "false")
      << ", \"connect_error\": " << json_string(connect_failed_)
      << ", \"connect_s\": " << num(connect_s_)
      << ", \"idle_held\": " << cfg_.idle - idle_failed_
      << ", \"idle_error\": " << json_string(idle_error_)
      << ",\n \"delivered\": " << delivered_
      << ", \"msgs_per_s\": " << num(double(delivered_) / secs, 1)
      << ", \"mb_per_s\": "
      << num(double(delivered_) * double(cfg_.size) / secs / 1e6, 3)
      << ", \"min_client_msgs_per_s\": " << num(double(min_client) / secs, 1)
      << ", \"total_sent\": " << sent
      << ", \"total_delivered\": " << total_delivered_
      << ", \"undelivered_in_window\": " << undelivered_
      << ",\n \"errors\": {\"total\": " << errors_.total()
      << ", \"corrupt\": " << errors_.corrupt
      << ", \"wrong_partner\": " << errors_.wrong_partner
      << ", \"out_of_order\": " << errors_.out_of_order
      << ", \"disconnected\": " << errors_.disconnected
      << ", \"server_errors\": " << errors_.server_errors
      << ", \"first\": " << json_string(first_socket_error_) << "}"
      << ",\n \"latency_us\": {\"count\": " << latency_.count()
      << ", \"p50\": " << us(latency_.quantile(0.5))
      << ", \"p99\": " << us(latency_.quantile(0.99))
      << ", \"p999\": " << us(latency_.quantile(0.999))
      << ", \"max\": " << us(latency_.max())
      << ", \"mean\": " << num(latency_.mean() / 1e3, 1) << "}"
      << ",\n \"stalled\": " << (stalled ? "true" : "false")
      << ", \"stalled_clients\": " << stalled_clients_
      << ", \"first_stall_s\": "
      << (first_stall_s_ >= 0 ? num(first_stall_s_) : "null")
      << ", \"deadline_hit\": " << (deadline_hit ? "true" : "false");
    if (cfg_.slow_client) {
        o << ",\n \"slow_client\": {\"flood_bytes\": " << cfg_.flood_bytes
          << ", \"flood_bytes_sent\": " << flood_sent_ << ", \"flood_done_s\": "
          << (flood_done_s_ >= 0 ? num(flood_done_s_) : "null")
          << ", \"flood_error\": " << json_string(flood_error_)
          << ", \"disconnected\": " << (slow_disconnected_ ? "true" : "false")
          << ", \"bytes_drained\": " << slow_drained_ << "}";
    }
    if (cfg_.server_pid > 0) {
        o << ",\n \"server\": {\"pid\": " << cfg_.server_pid
          << ", \"cpu_s\": " << num(cpu) << ", \"cpu_us_per_msg\": "
          << (delivered_ ? num(cpu * 1e6 / double(delivered_), 3) : "null")
          << ", \"rss_start_kb\": " << rss_start_kb_
          << ", \"peak_rss_kb\": " << std::max(peak_rss_kb_, hwm_kb_)
          << ", \"sampled_peak_rss_kb\": " << peak_rss_kb_
          << ", \"vmhwm_kb\": " << hwm_kb_ << "}";
    }
    o << ",\n \"loadgen_cpu_s\": " << num(self_cpu_s());
    // Cores' worth of CPU that other processes used during the window
    // (including a hypervisor's steal): 0 on a quiet machine.
    if (busy_at_start_ >= 0 && busy_at_end_ >= 0 && cpu_at_start_ >= 0) {
        const double others = (busy_at_end_ - busy_at_start_) - cpu -
                              (self_at_end_ - self_at_start_);
        o << ", \"others_cores\": " << num(std::max(0.0, others) / secs, 2);
    }
    o << "}\n";
    std::cout << o.str() << std::flush;
}

int loadgen::exit_status() const {
    const bool ok = connect_failed_.empty() && errors_.total() == 0 &&
                    stalled_clients_ == 0 && delivered_ > 0;
    return ok ? 0 : 1;
}

void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const config cfg = parse(argc, argv);
    raise_fd_limit();
    asio::io_context ioc(1);
    loadgen lg(ioc, cfg);
    lg.start();
    // The hard deadline: run_for returns even if the server never answers.
    // The whole run is single-threaded, so once it returns nothing else
    // touches the counters.
    const auto deadline = std::chrono::duration<double>(lg.hard_deadline());
    ioc.run_for(std::chrono::duration_cast<steady::duration>(deadline));
    const bool deadline_hit = !lg.finished();
    lg.print_json(deadline_hit);
    // Thousands of sockets need no orderly teardown: the kernel closes them.
    std::_Exit(deadline_hit ? 1 : lg.exit_status());
}
