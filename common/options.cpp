#include "options.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <limits>
#include <thread>

#include "id.hpp"

namespace common {

unsigned options::thread_count() const {
    if (threads != 0) {
        return threads;
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

template <class T>
bool parse_number(std::string_view text, T& out, T min, T max) {
    unsigned long long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < min ||
        v > max) {
        return false;
    }
    out = static_cast<T>(v);
    return true;
}

bool is_ip_address(std::string_view text) {
    const std::string s(text);
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// A name that the resolver may look up (RFC 1123 labels). Digits and dots
// alone are not a name: "1.2.3" is a mistyped address, which the resolver
// would otherwise read as 1.2.0.3.
bool is_host_name(std::string_view text) {
    if (text.empty() || text.size() > 253 ||
        text.find_first_not_of("0123456789.") == text.npos) {
        return false;
    }
    std::size_t label = 0;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        const char c = i < text.size() ? text[i] : '.';
        if (c == '.') {
            if (label == 0 || label > 63 || text[i - 1] == '-') {
                return false;
            }
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) ||
                   (c == '-' && label > 0)) {
            ++label;
        } else {
            return false;
        }
    }
    return true;
}

// What --cluster takes: nats://HOST:PORT, HOST a name or an address (an
// IPv6 one in brackets). Checked here so that a typo is a command-line
// error (exit 2), not a server that cannot be reached (exit 1).
bool is_nats_url(std::string_view url) {
    if (!url.starts_with("nats://")) {
        return false;
    }
    url.remove_prefix(7);
    const auto colon = url.rfind(':');
    if (colon == url.npos) {
        return false;
    }
    std::string_view host = url.substr(0, colon);
    std::uint16_t port = 0;
    if (!parse_number<std::uint16_t>(url.substr(colon + 1), port, 1, 65535)) {
        return false;
    }
    if (host.starts_with('[') && host.ends_with(']')) {
        host = host.substr(1, host.size() - 2);
        return host.find(':') != host.npos && is_ip_address(host);
    }
    return is_ip_address(host) || is_host_name(host);
}

}  // namespace

parse_result parse_command_line(int argc,
                                const char* const* argv,
                                const variant_info& info) {
    options o;
    bool has_node = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string_view value;
        bool has_value = false;
        // Accept both "--port 80" and "--port=80".
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto take_value = [&]() -> bool {
            if (has_value) {
                return true;
            }
            if (i + 1 >= argc) {
                return false;
            }
            value = argv[++i];
            return true;
        };
        auto bad = [&](std::string_view why) {
            return parse_result{{}, std::string(arg) + ": " + std::string(why)};
        };
        const bool is_flag = arg == "--help" || arg == "-h" ||
                             (!info.demo_flag.empty() && arg == info.demo_flag);
        if (is_flag && has_value) {
            return bad("takes no value");
        }
        if (arg == "--help" || arg == "-h") {
            o.help = true;
        } else if (is_flag) {
            o.demo = true;
        } else if (arg == "--bind") {
            if (!take_value() ||
                !(is_ip_address(value) || is_host_name(value))) {
                return bad("expects an IPv4 or IPv6 address or a host name");
            }
            o.bind = value;
        } else if (arg == "--port") {
            if (!take_value() ||
                !parse_number<std::uint16_t>(value, o.port, 0, 65535)) {
                return bad("expects a port number from 0 to 65535");
            }
        } else if (arg == "--max-frame") {
            if (!take_value() ||
                !parse_number(value, o.max_frame, 1UL, max_frame_limit)) {
                return bad("expects bytes from 1 to 1073741824 (1 GiB)");
            }
        } else if (arg == "--max-pending") {
            if (!take_value() ||
                !parse_number(value, o.max_pending, 1UL, max_pending_limit)) {
                return bad("expects bytes from 1 to 68719476736 (64 GiB)");
            }
        } else if (arg == "--write-timeout") {
            unsigned ms = 0;
            if (!take_value() ||
                !parse_number<unsigned>(value, ms, 0, 86'400'000)) {
                return bad(
                    "expects milliseconds from 0 (no deadline) to 86400000");
            }
            o.write_timeout = std::chrono::milliseconds(ms);
        } else if (arg == "--max-clients") {
            if (!take_value() ||
                !parse_number(value, o.max_clients, 1UL, max_clients_limit)) {
                return bad("expects a number of clients from 1 to 1048576");
            }
        } else if (arg == "--frame-timeout") {
            unsigned ms = 0;
            if (!take_value() ||
                !parse_number<unsigned>(value, ms, 0, 86'400'000)) {
                return bad(
                    "expects milliseconds from 0 (no deadline) to 86400000");
            }
            o.frame_timeout = std::chrono::milliseconds(ms);
        } else if (arg == "--threads") {
            if (!take_value() ||
                !parse_number<unsigned>(value, o.threads, 1, 1024)) {
                return bad("expects a number of threads from 1 to 1024");
            }
        } else if (arg == "--cluster") {
            if (!info.clusters) {
                return bad("does not apply: only the two reactors cluster");
            }
            if (!take_value() || !is_nats_url(value)) {
                return bad("expects a NATS URL, nats://HOST:PORT");
            }
            o.cluster = value;
        } else if (arg == "--node") {
            if (!take_value() ||
                !parse_number<unsigned>(value, o.node, 0, max_nodes - 1)) {
                return bad("expects a node number from 0 to 255");
            }
            has_node = true;
        } else {
            return bad("unknown option");
        }
    }
    if (has_node && o.cluster.empty()) {
        return parse_result{{}, "--node: applies only with --cluster"};
    }
    return {o, {}};
}

std::string usage(const variant_info& info) {
    std::string u;
    u += "usage: " + std::string(info.name) +
         " [--bind ADDR] [--port N] [--max-frame BYTES]\n"
         "       [--max-pending BYTES] [--write-timeout MS] [--threads N]\n"
         "       [--max-clients N] [--frame-timeout MS]";
    if (info.clusters) {
        u += "\n       [--cluster nats://HOST:PORT [--node K]]";
    }
    if (!info.demo_flag.empty()) {
        u += " [" + std::string(info.demo_flag) + "]";
    }
    u += " [--help]\n\n";
    u += std::string(info.name) + ": " + std::string(info.model) + "\n\n";
    u += "  --bind ADDR          address or host name to listen on (default "
         "127.0.0.1)\n";
    u += "  --port N             port to listen on, 0 for any (default "
         "8080)\n";
    u += "  --max-frame BYTES    longest payload accepted, at most 1 GiB "
         "(default 1048576)\n";
    if (info.minimal) {
        u += "  --max-pending BYTES, --write-timeout MS, --max-clients N,\n"
             "  --frame-timeout MS   accepted and ignored: the minimal "
             "version has none\n"
             "                       of the limits (server.cpp's variant "
             "has them)\n";
    } else {
        u += info.queues
                 ? "  --max-pending BYTES  output queued for one client past "
                   "which, for longer\n"
                   "                       than --write-timeout, or past 4 "
                   "times it at once, it is\n"
                   "                       disconnected as a slow consumer "
                   "(default 8388608);\n"
                   "                       a client with nothing queued takes "
                   "one frame of any size\n"
                 : "  --max-pending BYTES  accepted, but does not apply: this "
                   "model holds\n"
                   "                       no queue per client, its writer "
                   "blocks (that is its lesson)\n";
        u +=
            "  --write-timeout MS   a client that does not take a write, or "
            "what was queued\n"
            "                       for it, within this long is disconnected "
            "as a slow\n"
            "                       consumer (default 10000; 0: no deadline)\n";
    }
    u += info.sharded
             ? "  --threads N          reactors, one per thread, each owning "
               "a shard of the\n"
               "                       clients (default 1); ids stay global, "
               "in accept order\n"
         : info.multi_threaded
             ? "  --threads N          threads running the event loop "
               "(default: one\n"
               "                       per hardware thread)\n"
             : "  --threads N          accepted, but does not apply: this "
               "model is\n"
               "                       single-threaded by design\n";
    if (!info.minimal) {
        u += "  --max-clients N      clients connected at once; past it, a "
             "newcomer is\n"
             "                       closed before its id is sent (default "
             "10000)\n";
        u +=
            "  --frame-timeout MS   a client that begins a frame and leaves it "
            "unfinished\n"
            "                       for this long is disconnected (default "
            "30000;\n"
            "                       0: no deadline)\n";
    }
    if (info.clusters) {
        u += "  --cluster URL        join the routers on the NATS server at "
             "URL\n"
             "                       (nats://HOST:PORT): a frame to a client "
             "of another\n"
             "                       node crosses the bus, at most once "
             "(default: alone)\n"
             "  --node K             this router's node, 0 to 255, unique on "
             "the bus: its\n"
             "                       ids are K * 2^24 on, in accept order "
             "(default 0)\n";
    }
    if (!info.demo_flag.empty()) {
        u += "  " + std::string(info.demo_flag) + "\n      " +
             std::string(info.demo_help) + "\n";
    }
    u += "  --help               this text\n";
    u += "No authentication: any client that connects can send to every id, "
         "and ids,\n"
         "given in order from 0, tell how many clients came before. For "
         "trusted networks\n"
         "only (docs/protocol.md, \"What the router is not\").\n";
    return u;
}

}  // namespace common
