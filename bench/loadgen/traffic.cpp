// The driver's traffic: what the paired clients send each other, and the
// check of every frame they receive.
#include <boost/asio.hpp>
#include <cstring>

#include "driver.hpp"
#include "payload.hpp"

namespace loadgen {

using boost::system::error_code;

// ---------------------------------------------------------------- sending

// Frames this client may send now: closed loop, what its window allows;
// open loop, what is due by now.
std::uint64_t driver::allowed(const client& c, steady::time_point now) const {
    if (cfg_.rate > 0) {
        const double t =
            std::chrono::duration<double>(now - run_start_).count();
        return sched_.due_by(c.index, t);
    }
    return c.partner->received + cfg_.window;
}

// Writes what the protocol must answer, then the frames due, if any.
void driver::pump(client& c) {
    if (c.writing || c.closed) {
        return;
    }
    c.wbuf.clear();
    c.wbuf += c.reply;
    c.reply.clear();
    if (phase_ == phase::warmup || phase_ == phase::measure) {
        add_frames(c);
    }
    if (c.wbuf.empty()) {
        return;
    }
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

void driver::add_frames(client& c) {
    const auto now = steady::now();
    const std::uint64_t limit = allowed(c, now);
    if (limit <= c.sent) {
        return;
    }
    // Closed loop: refill the window in batches, not a frame at a time,
    // so the load generator's cost per frame stays low and does not
    // depend on how promptly the server answers.
    if (cfg_.rate <= 0 && limit - c.sent < cfg_.batch) {
        return;
    }
    const std::uint64_t max_batch =
        std::max<std::uint64_t>(1, (64 * 1024) / proto_->wire_size(cfg_.size));
    const std::uint64_t n = std::min(limit - c.sent, max_batch);
    const std::uint64_t now_ns = ns_since_start(now);
    for (std::uint64_t seq = c.sent; seq < c.sent + n; ++seq) {
        std::uint64_t stamp = now_ns;
        if (cfg_.rate > 0) {
            // Due long ago because the server would not take it: the wait
            // counts (no coordinated omission). A tick's lateness does not.
            const std::uint64_t due =
                ns_since_start(run_start_) + sched_.due_ns(c.index, seq);
            if (now_ns > due + 2 * sched_.tick_ns()) {
                stamp = due;
            }
        }
        proto_->begin_frame(c.wbuf, c.partner->addr, cfg_.size);
        append_payload(c.wbuf, seq, stamp, c.index, cfg_.size);
        proto_->end_frame(c.wbuf);
    }
    c.sent += n;
}

void driver::open_loop_tick() {
    if (phase_ != phase::warmup && phase_ != phase::measure) {
        return;
    }
    for (client* c : pairs_) {
        pump(*c);
    }
    tick_.expires_after(std::chrono::nanoseconds(sched_.tick_ns()));
    tick_.async_wait([this](error_code ec) {
        if (!ec) {
            open_loop_tick();
        }
    });
}

// ---------------------------------------------------------------- receiving

void driver::read(client& c) {
    if (c.rbuf.size() - c.rend < 16 * 1024) {
        // Compact, then grow if one frame is larger than the buffer.
        std::memmove(c.rbuf.data(), c.rbuf.data() + c.rbeg, c.rend - c.rbeg);
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
            if (c.kind == role::pair) {
                on_data(c);
            } else {
                on_flooder_data(c);
            }
            read(c);
        });
}

void driver::on_data(client& c) {
    const auto now = steady::now();
    const std::uint64_t now_ns = ns_since_start(now);
    const bool in_window = now >= measure_start_ && now <= measure_end_;
    const char* p = c.rbuf.data() + c.rbeg;
    const char* end = c.rbuf.data() + c.rend;
    const std::uint64_t before = c.received;
    event e;
    while (proto_->next(p, end, e, c.reply)) {
        if (e.kind == event::payload) {
            check(c, e.data, now_ns, in_window);
        } else if (e.kind == event::server_error) {
            ++tally_.err.server_errors;
        }
    }
    c.rbeg = p - c.rbuf.data();
    if (c.rbeg == c.rend) {
        c.rbeg = c.rend = 0;
    }
    if (!c.reply.empty()) {
        pump(c);
    }
    if (c.received != before) {
        c.last_rx = now;
        pump(*c.partner);
    }
}

// The flooder's input, replies to its publishes (Redis) or the server's
// PINGs (NATS), is dropped; only what the protocol must answer is kept.
void driver::on_flooder_data(client& c) {
    const char* p = c.rbuf.data() + c.rbeg;
    const char* end = c.rbuf.data() + c.rend;
    event e;
    while (proto_->next(p, end, e, c.reply)) {
    }
    c.rbeg = p - c.rbuf.data();
    if (c.rbeg == c.rend) {
        c.rbeg = c.rend = 0;
    }
    if (!c.reply.empty() && probe_) {
        probe_->answer();
    }
}

void driver::check(client& c,
                   std::string_view payload,
                   std::uint64_t now_ns,
                   bool in_window) {
    const checked_payload f = check_payload(payload, cfg_.size);
    const bool from_partner = f.ok && f.sender == c.partner->index;
    if (!f.ok) {
        ++tally_.err.corrupt;
    } else if (!from_partner) {
        ++tally_.err.wrong_partner;
    } else if (f.seq != c.received) {
        ++tally_.err.out_of_order;
    }
    // Counted even when wrong, so one bad frame is one error, not a
    // cascade of out-of-order ones.
    c.received = from_partner ? f.seq + 1 : c.received + 1;
    ++tally_.total_delivered;
    if (in_window) {
        ++c.received_in_window;
        ++tally_.delivered;
        if (f.ok && now_ns >= f.stamp_ns) {
            tally_.latency.record(now_ns - f.stamp_ns);
        }
    }
}

// A client whose partner has frames in flight to it and that has received
// nothing for --stall-after seconds has stalled.
void driver::check_stalls() {
    if (phase_ == phase::done) {
        return;
    }
    const auto now = steady::now();
    const bool measuring = phase_ == phase::measure || phase_ == phase::drain;
    for (client* c : pairs_) {
        if (c->closed || !measuring || c->partner->sent <= c->received ||
            now - c->last_rx <= seconds(cfg_.stall_after)) {
            continue;
        }
        if (!c->stalled) {
            ++tally_.stalled_clients;
        }
        c->stalled = true;
        if (tally_.first_stall_s < 0) {
            tally_.first_stall_s =
                std::chrono::duration<double>(now - measure_start_).count();
        }
    }
    stall_timer_.expires_after(std::chrono::milliseconds(50));
    stall_timer_.async_wait([this](error_code ec) {
        if (!ec) {
            check_stalls();
        }
    });
}

void driver::lost(client& c, const error_code& ec) {
    if (c.closed) {
        return;
    }
    c.closed = true;
    if (phase_ == phase::done || ec == asio::error::operation_aborted) {
        return;
    }
    if (c.kind == role::pair) {
        ++tally_.err.disconnected;
        if (tally_.err.first.empty()) {
            tally_.err.first =
                "client " + std::to_string(c.index) + ": " + ec.message();
        }
    }
}

}  // namespace loadgen
