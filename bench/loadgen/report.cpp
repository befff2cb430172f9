#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace loadgen {

namespace {

std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            o += '\\';
        }
        if (static_cast<unsigned char>(ch) < 0x20) {
            continue;
        }
        o += ch;
    }
    return o + "\"";
}

std::string num(double v, int prec = 3) {
    if (!std::isfinite(v)) {
        return "null";
    }
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

const char* boolean(bool b) {
    return b ? "true" : "false";
}

bool connected(const report& r) {
    return r.connect.failed.empty() && r.connect.seconds >= 0;
}

void run_and_connect(std::ostringstream& o, const report& r) {
    const config& c = r.cfg;
    o << "{\"protocol\": \"" << r.protocol << "\""
      << ", \"pairs\": " << c.pairs << ", \"payload\": " << c.size
      << ", \"window\": " << c.window << ", \"rate\": " << num(c.rate, 0)
      << ", \"duration_s\": " << num(c.duration) << ", \"idle\": " << c.idle
      << ",\n \"connected\": " << boolean(connected(r))
      << ", \"connect_error\": " << json_string(r.connect.failed)
      << ", \"connect_s\": " << num(r.connect.seconds)
      << ", \"idle_held\": " << c.idle - r.connect.idle_failed
      << ", \"idle_error\": " << json_string(r.connect.idle_error);
}

void traffic(std::ostringstream& o, const report& r) {
    const double secs = r.cfg.duration;
    const tally& t = r.counts;
    const std::uint64_t min_client = connected(r) ? r.min_client : 0;
    o << ",\n \"delivered\": " << t.delivered
      << ", \"msgs_per_s\": " << num(double(t.delivered) / secs, 1)
      << ", \"mb_per_s\": "
      << num(double(t.delivered) * double(r.cfg.size) / secs / 1e6, 3)
      << ", \"min_client_msgs_per_s\": " << num(double(min_client) / secs, 1)
      << ", \"total_sent\": " << r.sent
      << ", \"total_delivered\": " << t.total_delivered
      << ", \"undelivered_in_window\": " << t.undelivered;
}

void errors_and_latency(std::ostringstream& o, const report& r) {
    const errors& e = r.counts.err;
    const histogram& h = r.counts.latency;
    auto us = [](std::uint64_t ns) { return num(double(ns) / 1e3, 1); };
    o << ",\n \"errors\": {\"total\": " << e.total()
      << ", \"corrupt\": " << e.corrupt
      << ", \"wrong_partner\": " << e.wrong_partner
      << ", \"out_of_order\": " << e.out_of_order
      << ", \"disconnected\": " << e.disconnected
      << ", \"server_errors\": " << e.server_errors
      << ", \"first\": " << json_string(e.first) << "}"
      << ",\n \"latency_us\": {\"count\": " << h.count()
      << ", \"p50\": " << us(h.quantile(0.5))
      << ", \"p99\": " << us(h.quantile(0.99))
      << ", \"p999\": " << us(h.quantile(0.999)) << ", \"max\": " << us(h.max())
      << ", \"mean\": " << num(h.mean() / 1e3, 1) << "}";
}

void stalls(std::ostringstream& o, const report& r) {
    const tally& t = r.counts;
    const bool stalled = t.stalled_clients > 0 || r.deadline_hit;
    o << ",\n \"stalled\": " << boolean(stalled)
      << ", \"stalled_clients\": " << t.stalled_clients
      << ", \"first_stall_s\": "
      << (t.first_stall_s >= 0 ? num(t.first_stall_s) : "null")
      << ", \"deadline_hit\": " << boolean(r.deadline_hit);
}

void slow_client(std::ostringstream& o, const report& r) {
    const hol_result& h = *r.hol;
    o << ",\n \"slow_client\": {\"flood_bytes\": " << r.cfg.flood_bytes
      << ", \"flood_bytes_sent\": " << h.flood_bytes_sent
      << ", \"flood_done_s\": "
      << (h.flood_done_s >= 0 ? num(h.flood_done_s) : "null")
      << ", \"flood_error\": " << json_string(h.flood_error)
      << ", \"disconnected\": " << boolean(h.disconnected)
      << ", \"bytes_drained\": " << h.bytes_drained << "}";
}

void server(std::ostringstream& o, const report& r) {
    const server_watch& s = r.server;
    const double cpu = s.cpu_s();
    const std::uint64_t delivered = r.counts.delivered;
    o << ",\n \"server\": {\"pid\": " << s.pid() << ", \"cpu_s\": " << num(cpu)
      << ", \"cpu_us_per_msg\": "
      << (delivered ? num(cpu * 1e6 / double(delivered), 3) : "null")
      << ", \"rss_start_kb\": " << s.rss_start_kb() << ", \"peak_rss_kb\": "
      << std::max(s.sampled_peak_rss_kb(), s.vmhwm_kb())
      << ", \"sampled_peak_rss_kb\": " << s.sampled_peak_rss_kb()
      << ", \"vmhwm_kb\": " << s.vmhwm_kb() << "}";
}

}  // namespace

std::string to_json(const report& r) {
    std::ostringstream o;
    run_and_connect(o, r);
    traffic(o, r);
    errors_and_latency(o, r);
    stalls(o, r);
    if (r.hol != nullptr) {
        slow_client(o, r);
    }
    if (r.server.pid() > 0) {
        server(o, r);
    }
    o << ",\n \"loadgen_cpu_s\": " << num(r.loadgen_cpu_s);
    if (const double others = r.server.others_cores(r.cfg.duration);
        others >= 0) {
        o << ", \"others_cores\": " << num(others, 2);
    }
    o << "}\n";
    return o.str();
}

}  // namespace loadgen
