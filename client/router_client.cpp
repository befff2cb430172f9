// router_client: talk to any of the five routers by hand, or from a script.
//
// Connects, prints `id N`, then sends each input line `<dest id> <text>` as
// a frame ([dest][text][0]) and prints each frame it receives, with the
// time, as it arrives. Plain POSIX and one poll() loop: a client has no
// shared state to protect, so it needs none of the servers' machinery.
//
// Ends with status 0 on Ctrl-C or SIGTERM, at the end of its input (with
// --expect N: once the input has ended and N frames have arrived), 1 on a
// connection error, a --timeout or the server closing the connection, 2 on a
// bad command line, 3 if an input line was malformed (it is reported and
// skipped, the rest still sent).

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "client/escape.hpp"
#include "common/id.hpp"

namespace {

constexpr std::string_view usage_text =
    "usage: router_client [--host ADDR] [--port N] [--send-file FILE]\n"
    "                     [--expect N] [--timeout SECONDS]\n"
    "                     [--max-frame BYTES] [--help]\n"
    "  --host ADDR       the router's address (default 127.0.0.1)\n"
    "  --port N          the router's port (default 8080)\n"
    "  --send-file FILE  read the lines to send from FILE, not stdin\n"
    "  --expect N        do not stop at the end of the input: wait until N\n"
    "                    frames have arrived, then exit 0\n"
    "  --timeout SECONDS exit 1 if still running after SECONDS\n"
    "  --max-frame BYTES the router's --max-frame (default 1048576): a\n"
    "                    longer line is reported and not sent\n"
    "Prints `id N` once connected, then one line per received frame:\n"
    "`[HH:MM:SS.mmm] text`. Each input line `<dest id> <text>` is sent as\n"
    "one frame. Ctrl-D (end of input) or Ctrl-C quits.\n";

struct config {
    std::string host = "127.0.0.1";
    std::string port = "8080";
    std::string send_file;
    std::optional<std::uint64_t> expect;
    std::optional<double> timeout;
    std::uint64_t max_frame = 1048576;
};

template <class... Args>
void error(const Args&... args) {
    std::string line = "router_client: ";
    (line.append(args), ...);
    line += '\n';
    (void)!::write(2, line.data(), line.size());
}

bool parse_number(std::string_view s, std::uint64_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

// The config, or nullopt after printing an error naming the option.
std::optional<config> parse_args(int argc, char** argv) {
    config c;
    for (int i = 1; i < argc; ++i) {
        const std::string_view opt = argv[i];
        if (opt == "--help") {
            std::fputs(usage_text.data(), stdout);
            std::exit(0);
        }
        if (i + 1 == argc) {
            error(std::string(opt), ": unknown option or missing value");
            return std::nullopt;
        }
        const std::string_view val = argv[++i];
        std::uint64_t n = 0;
        char* end = nullptr;
        const double secs = std::strtod(argv[i], &end);
        if (opt == "--host") {
            c.host = val;
        } else if (opt == "--port" && parse_number(val, n) && n <= 65535) {
            c.port = val;
        } else if (opt == "--send-file") {
            c.send_file = val;
        } else if (opt == "--expect" && parse_number(val, n)) {
            c.expect = n;
        } else if (opt == "--timeout" && secs > 0 && *end == '\0') {
            c.timeout = secs;
        } else if (opt == "--max-frame" && parse_number(val, n) && n > 0) {
            c.max_frame = n;
        } else {
            error(std::string(opt), " ", std::string(val), ": invalid");
            return std::nullopt;
        }
    }
    return c;
}

// A connected, blocking socket, or -1 after printing why not.
int connect_to(const config& c) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string where = c.host + ":" + c.port;
    if (int rc = ::getaddrinfo(c.host.c_str(), c.port.c_str(), &hints, &res)) {
        error("cannot resolve ", where, ": ", ::gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (auto* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            err = errno;
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(res);
    if (fd < 0) {
        error("cannot connect to ", where, ": ", std::strerror(err));
        return -1;
    }
    int one = 1;  // one frame per line, typed slowly: no Nagle delay
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a router that went away is an error message, not a
        // silent death by SIGPIPE.
        auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// `<dest id> <text>` -> the frame's bytes in `frame`, or why it cannot be
// sent (the router would close a client that sent such a frame).
std::string_view frame_of(std::string_view line,
                          std::uint64_t max_frame,
                          std::string& frame) {
    const auto space = line.find(' ');
    std::uint64_t dest = 0;
    if (!parse_number(line.substr(0, space), dest) || dest > UINT32_MAX) {
        return "expected `<dest id> <text>` with a decimal id below 2^32";
    }
    const auto text =
        space == line.npos ? std::string_view{} : line.substr(space + 1);
    if (text.find('\0') != text.npos) {
        return "the text holds a 0 byte, which would end the frame early";
    }
    if (text.size() > max_frame) {
        return "the text is longer than --max-frame";
    }
    const auto id = common::encode_id(dest);
    frame.assign(id.begin(), id.end());
    frame += text;
    frame += '\0';
    return {};
}

// `[HH:MM:SS.mmm] text`, escaped so a frame cannot garble the terminal.
void print_frame(std::string_view payload) {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        now.time_since_epoch())
                        .count() %
                    1000;
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char stamp[32];
    std::snprintf(stamp,
                  sizeof stamp,
                  "[%02d:%02d:%02d.%03d] ",
                  tm.tm_hour,
                  tm.tm_min,
                  tm.tm_sec,
                  int(ms));
    std::string line = stamp + client::escaped(payload) + '\n';
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

using clock = std::chrono::steady_clock;

// What one run has seen so far. Single-threaded: no locks anywhere.
struct session {
    session(int fd, std::uint64_t max_frame) : sock(fd), max_frame(max_frame) {}
    ~session() { ::close(sock); }

    int sock;
    std::uint64_t max_frame;
    std::string inbox;  // bytes from the router: the id, then frames
    std::string lines;  // input not yet ended by a newline
    bool have_id = false;
    bool bad_line = false;
    std::uint64_t received = 0;
    std::uint64_t line_no = 0;

    // False once the router has closed the connection.
    bool read_router() {
        char buf[64 * 1024];
        const auto n = ::read(sock, buf, sizeof buf);
        if (n <= 0) {
            return false;
        }
        inbox.append(buf, static_cast<std::size_t>(n));
        if (!have_id && inbox.size() >= 4) {
            const auto id = common::decode_id(inbox.data());
            inbox.erase(0, 4);
            have_id = true;
            std::printf("id %u\n", id);
            std::fflush(stdout);
        }
        for (std::size_t end;
             have_id && (end = inbox.find('\0')) != inbox.npos;) {
            print_frame(std::string_view(inbox).substr(0, end));
            inbox.erase(0, end + 1);
            ++received;
        }
        return true;
    }

    // Sends every complete line in `lines`; false if the router is gone.
    bool send_lines() {
        for (std::size_t nl; (nl = lines.find('\n')) != lines.npos;) {
            std::string_view line(lines.data(), nl);
            ++line_no;
            if (line.ends_with('\r')) {
                line.remove_suffix(1);
            }
            std::string frame;
            const auto why = frame_of(line, max_frame, frame);
            if (why.empty()) {
                if (!send_all(sock, frame)) {
                    error("cannot send: ", std::strerror(errno));
                    return false;
                }
            } else if (!line.empty()) {
                error("line ",
                      std::to_string(line_no),
                      ": ",
                      std::string(why),
                      ", got \"",
                      client::escaped(line.substr(0, 80)),
                      line.size() > 80 ? "...\"" : "\"",
                      "; not sent");
                bad_line = true;
            }
            lines.erase(0, nl + 1);
        }
        return true;
    }

    // The end of the input: half-close, so the router forwards every frame
    // we sent before it sees our EOF (docs/protocol.md, point 7), and print
    // what still arrives until it closes, for up to `linger`.
    void finish(clock::duration linger) {
        ::shutdown(sock, SHUT_WR);
        const auto until = clock::now() + linger;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - clock::now());
            pollfd p{sock, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0 ||
                !read_router()) {
                return;
            }
        }
    }
};

timespec left_until(clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(deadline - clock::now(), clock::duration{}));
    const auto secs = std::chrono::floor<std::chrono::seconds>(left);
    return {static_cast<time_t>(secs.count()),
            static_cast<long>((left - secs).count())};
}

// SIGINT and SIGTERM stay blocked except inside ppoll(), so they can only
// interrupt the wait: none is missed between a check and a wait. Returns
// the mask to wait with.
volatile sig_atomic_t stop_requested = 0;
sigset_t block_quit_signals() {
    sigset_t quit, waiting;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    ::sigprocmask(SIG_BLOCK, &quit, &waiting);
    struct sigaction sa {};
    sa.sa_handler = [](int) { stop_requested = 1; };
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return waiting;
}

// Standard input (or --send-file) is readable: its lines go out as
// frames. False if sending failed.
bool forward_input(session& s, int in, bool& input_open) {
    char buf[4096];
    const auto n = ::read(in, buf, sizeof buf);
    if (n > 0) {
        s.lines.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
        input_open = false;
        if (!s.lines.empty()) {
            s.lines += '\n';  // a last line without its newline
        }
    }
    return s.send_lines();
}

// Until the input is done and --expect frames arrived, a signal, the
// router leaving or the --timeout deadline. Returns the exit status.
int run(const config& cfg, session& s, int in, const sigset_t& waiting) {
    std::optional<clock::time_point> deadline;
    if (cfg.timeout) {
        deadline =
            clock::now() + std::chrono::duration_cast<clock::duration>(
                               std::chrono::duration<double>(*cfg.timeout));
    }
    const auto status = [&] { return s.bad_line ? 3 : 0; };
    bool input_open = true;
    for (;;) {
        if (s.have_id && !input_open &&
            (!cfg.expect || s.received >= *cfg.expect)) {
            if (!cfg.expect) {
                s.finish(std::chrono::seconds(2));
            }
            return status();
        }
        // Input is read only once the id is known: a script may pipe its
        // lines in before the connection is up.
        pollfd fds[2] = {{s.sock, POLLIN, 0}, {in, POLLIN, 0}};
        const nfds_t nfds = s.have_id && input_open ? 2 : 1;
        timespec ts{};
        if (deadline) {
            ts = left_until(*deadline);
        }
        const int ready =
            ::ppoll(fds, nfds, deadline ? &ts : nullptr, &waiting);
        if (stop_requested) {
            return status();
        }
        if (ready == 0) {
            error("timed out with ",
                  std::to_string(s.received),
                  cfg.expect ? " of " + std::to_string(*cfg.expect) : "",
                  " frame(s) received");
            return 1;
        }
        if (ready < 0) {
            continue;  // EINTR from some other signal
        }
        if (fds[0].revents != 0) {
            const bool had_id = s.have_id;
            if (!s.read_router()) {
                error("the router closed the connection");
                return 1;
            }
            if (!had_id && s.have_id && ::isatty(in)) {
                error(
                    "connected; type `<dest id> <text>` lines, "
                    "Ctrl-D or Ctrl-C to quit");
            }
        }
        if (nfds == 2 && fds[1].revents != 0 &&
            !forward_input(s, in, input_open)) {
            return 1;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = parse_args(argc, argv);
    if (!cfg) {
        std::fputs(usage_text.data(), stderr);
        return 2;
    }
    int in = 0;
    if (!cfg->send_file.empty() &&
        (in = ::open(cfg->send_file.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
        error("cannot open ", cfg->send_file, ": ", std::strerror(errno));
        return 1;
    }
    const sigset_t waiting = block_quit_signals();
    const int fd = connect_to(*cfg);
    if (fd < 0) {
        return 1;
    }
    session s(fd, cfg->max_frame);
    return run(*cfg, s, in, waiting);
}
