#include "driver.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <cstring>
#include <iostream>

#include "payload.hpp"
#include "report.hpp"
#include "tests/procfs.hpp"

namespace loadgen {

using boost::system::error_code;

driver::driver(asio::io_context& ioc, config c)
    : ioc_(ioc),
      cfg_(std::move(c)),
      proto_(make_protocol(cfg_.protocol)),
      sched_(cfg_.rate, 2 * std::size_t(cfg_.pairs)),
      connector_(ioc, cfg_, *proto_, clients_),
      watch_(ioc, cfg_.server_pid),
      timer_(ioc),
      tick_(ioc),
      stall_timer_(ioc) {
    make_clients();
}

// The pairs first, then slow and flooder, then the idle ones: a server that
// runs out of descriptors refuses only idle ones.
void driver::make_clients() {
    const unsigned total =
        cfg_.idle + 2 * cfg_.pairs + (cfg_.slow_client ? 2 : 0);
    for (unsigned i = 0; i < total; ++i) {
        clients_.push_back(std::make_unique<client>(ioc_));
    }
    unsigned k = 0;
    for (unsigned i = 0; i < 2 * cfg_.pairs; ++i) {
        client& c = *clients_[k++];
        c.index = i;
        c.addr.channel = "c" + std::to_string(i);
        pairs_.push_back(&c);
    }
    for (unsigned i = 0; i < cfg_.pairs; ++i) {
        pairs_[2 * i]->partner = pairs_[2 * i + 1];
        pairs_[2 * i + 1]->partner = pairs_[2 * i];
    }
    if (cfg_.slow_client) {
        client& slow = *clients_[k++];
        slow.kind = role::slow;
        slow.addr.channel = "slow";
        client& flooder = *clients_[k++];
        flooder.kind = role::flooder;
        probe_.emplace(cfg_, *proto_, slow, flooder);
    }
    while (k < total) {
        clients_[k++]->kind = role::idle;
    }
}

void driver::start() {
    t0_ = steady::now();
    watch_.start();
    connector_.start([this](bool ok) {
        if (ok) {
            begin_run();
        } else {
            finish();
        }
    });
}

// --pair-stride: partners by the ids the server gave (config.hpp). The
// payload names its sender by index, which the partners keep.
void driver::pair_by_id() {
    const unsigned stride = cfg_.pair_stride;
    if (stride == 0 || pairs_.size() % (2 * stride) != 0) {
        return;
    }
    auto by_id = pairs_;
    std::sort(by_id.begin(), by_id.end(), [](client* a, client* b) {
        return a->addr.id < b->addr.id;
    });
    for (std::size_t block = 0; block < by_id.size(); block += 2 * stride) {
        for (std::size_t j = block; j < block + stride; ++j) {
            by_id[j]->partner = by_id[j + stride];
            by_id[j + stride]->partner = by_id[j];
        }
    }
}

void driver::begin_run() {
    pair_by_id();
    phase_ = phase::warmup;
    run_start_ = steady::now();
    measure_start_ = run_start_ + seconds(cfg_.warmup);
    measure_end_ = measure_start_ + seconds(cfg_.duration);
    for (client* c : pairs_) {
        c->last_rx = run_start_;
        read(*c);
    }
    if (probe_) {
        read(probe_->flooder());  // its replies, if any, are discarded
    }
    for (client* c : pairs_) {
        pump(*c);
    }
    if (cfg_.rate > 0) {
        open_loop_tick();
    }
    timer_.expires_at(measure_start_);
    timer_.async_wait([this](error_code ec) {
        if (!ec) {
            open_window();
        }
    });
    check_stalls();
}

void driver::open_window() {
    phase_ = phase::measure;
    watch_.window_start();
    if (cfg_.mark_window) {
        std::cerr << "window open" << std::endl;
    }
    if (probe_) {
        probe_->start_flood(measure_start_);
    }
    timer_.expires_at(measure_end_);
    timer_.async_wait([this](error_code ec) {
        if (!ec) {
            end_measure();
        }
    });
}

// ---------------------------------------------------------------- ending

void driver::end_measure() {
    phase_ = phase::drain;
    watch_.window_end();
    if (cfg_.mark_window) {
        std::cerr << "window closed" << std::endl;
    }
    drain_deadline_ = steady::now() + std::chrono::seconds(1);
    drain_wait();
}

// Waits (at most a second) for frames still in flight, so that a server
// that merely lags is not mistaken for one that lost them.
void driver::drain_wait() {
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
        if (!ec) {
            drain_wait();
        }
    });
}

// Open loop: a frame due in the window that never arrived (or was never
// even sent, the server having stopped reading) has waited until now.
// Left out, a server that delivers nothing would show a fine p99.
void driver::count_undelivered() {
    if (cfg_.rate <= 0) {
        return;
    }
    const std::uint64_t now_ns = ns_since_start(steady::now());
    const std::uint64_t from_ns = ns_since_start(measure_start_);
    const std::uint64_t to_ns = ns_since_start(measure_end_);
    for (client* c : pairs_) {
        const client& p = *c->partner;
        const std::uint64_t due_by_end = allowed(p, measure_end_);
        for (std::uint64_t k = c->received; k < due_by_end; ++k) {
            const std::uint64_t due =
                ns_since_start(run_start_) + sched_.due_ns(p.index, k);
            if (due >= from_ns && due <= to_ns && now_ns > due) {
                tally_.latency.record(now_ns - due);
                ++tally_.undelivered;
            }
        }
    }
}

// The load is over; only now does the slow client read.
void driver::drain_slow() {
    if (!probe_) {
        finish();
        return;
    }
    for (client* c : pairs_) {
        c->sock.close();
    }
    probe_->drain([this] { finish(); });
}

void driver::finish() {
    if (phase_ == phase::done) {
        return;
    }
    const bool ran = phase_ != phase::connecting;
    phase_ = phase::done;
    if (probe_) {
        probe_->stop();
    }
    watch_.stop(ran);
    ioc_.stop();
}

std::string driver::json(bool deadline_hit) {
    if (deadline_hit) {
        watch_.cut_off();
    }
    std::uint64_t sent = 0, min_client = UINT64_MAX;
    for (client* c : pairs_) {
        sent += c->sent;
        min_client = std::min(min_client, c->received_in_window);
    }
    const report r{cfg_,
                   proto_->name(),
                   connector_.result(),
                   tally_,
                   sent,
                   min_client,
                   probe_ ? &probe_->result() : nullptr,
                   watch_,
                   procfs::self_cpu_seconds(),
                   deadline_hit};
    return to_json(r);
}

int driver::exit_status() const {
    const bool ok = connector_.result().failed.empty() &&
                    tally_.err.total() == 0 && tally_.stalled_clients == 0 &&
                    tally_.delivered > 0;
    return ok ? 0 : 1;
}

}  // namespace loadgen
