#include "config.hpp"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string_view>

#include "payload.hpp"

namespace loadgen {

void usage_error(const std::string& what) {
    std::cerr << "loadgen: " << what << "\n"
              << "usage: loadgen [--host H] [--port N] [--partner-port N]\n"
                 "  [--protocol router|redis|nats]\n"
                 "  [--pairs N] [--size BYTES] [--window N | --rate "
                 "FRAMES_PER_S]\n"
                 "  [--batch N]\n"
                 "  [--duration S] [--warmup S] [--idle K] [--slow-client]\n"
                 "  [--flood-bytes B] [--server-pid PID] [--stall-after S]\n"
                 "  [--mark-window] [--pair-stride S]\n";
    std::exit(2);
}

namespace {

// One option's argument, taken from the command line as it is walked.
struct args {
    int argc;
    char** argv;
    int i = 1;

    std::string_view value(std::string_view opt) {
        if (i + 1 >= argc) {
            usage_error(std::string(opt) + ": needs a value");
        }
        return argv[++i];
    }
    double number(std::string_view opt) {
        std::string s(value(opt));
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != 0 || v < 0) {
            usage_error(std::string(opt) + ": not a number: " + s);
        }
        return v;
    }
};

protocol_kind parse_protocol(std::string_view p) {
    if (p == "router") {
        return protocol_kind::router;
    }
    if (p == "redis") {
        return protocol_kind::redis;
    }
    if (p == "nats") {
        return protocol_kind::nats;
    }
    usage_error("--protocol: router, redis or nats");
}

// Applies one option; false if there is no such option.
bool apply(config& c, std::string_view a, args& in) {
    auto num = [&] { return in.number(a); };
    if (a == "--host") {
        c.host = in.value(a);
    } else if (a == "--port") {
        c.port = std::uint16_t(num());
    } else if (a == "--partner-port") {
        c.partner_port = std::uint16_t(num());
    } else if (a == "--protocol") {
        c.protocol = parse_protocol(in.value(a));
    } else if (a == "--pairs") {
        c.pairs = unsigned(num());
    } else if (a == "--size") {
        c.size = std::size_t(num());
    } else if (a == "--window") {
        c.window = unsigned(num());
    } else if (a == "--batch") {
        c.batch = unsigned(num());
    } else if (a == "--rate") {
        c.rate = num();
    } else if (a == "--duration") {
        c.duration = num();
    } else if (a == "--warmup") {
        c.warmup = num();
    } else if (a == "--idle") {
        c.idle = unsigned(num());
    } else if (a == "--slow-client") {
        c.slow_client = true;
    } else if (a == "--flood-bytes") {
        c.flood_bytes = std::size_t(num());
    } else if (a == "--server-pid") {
        c.server_pid = int(num());
    } else if (a == "--stall-after") {
        c.stall_after = num();
    } else if (a == "--connect-timeout") {
        c.connect_timeout = num();
    } else if (a == "--mark-window") {
        c.mark_window = true;
    } else if (a == "--pair-stride") {
        c.pair_stride = unsigned(num());
    } else {
        return false;
    }
    return true;
}

void check(config& c) {
    if (c.pairs == 0 || c.window == 0) {
        usage_error("--pairs and --window > 0");
    }
    if (c.pairs > (1u << 20)) {
        usage_error("--pairs: at most 1048576");
    }
    if (c.batch == 0) {
        c.batch = std::max(1u, c.window / 2);
    }
    c.batch = std::min(c.batch, c.window);
    if (c.duration <= 0) {
        usage_error("--duration must be positive");
    }
    if (c.size < header_size) {
        usage_error("--size: at least " + std::to_string(header_size));
    }
    if (c.size > max_payload_size) {
        usage_error("--size: too big");
    }
    if (c.connect_timeout == 0) {
        c.connect_timeout = 10.0 + (c.idle + 2.0 * c.pairs) / 1000.0;
    }
}

}  // namespace

config parse(int argc, char** argv) {
    config c;
    for (args in{argc, argv}; in.i < argc; ++in.i) {
        const std::string_view a = argv[in.i];
        if (!apply(c, a, in)) {
            usage_error(std::string(a) + ": unknown option");
        }
    }
    check(c);
    return c;
}

}  // namespace loadgen
