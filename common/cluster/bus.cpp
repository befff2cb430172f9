#include "common/cluster/bus.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/counters.hpp"
#include "common/log.hpp"
#include "common/options.hpp"
#include "common/reactor/parcel.hpp"

namespace common::cluster {

namespace {

// How long the library waits between two attempts to reach the server
// again: short, since frames to other nodes are dropped until it does.
constexpr std::int64_t reconnect_wait_ms = 250;
// How long a publish may wait for the socket to the server, when the
// library's buffer is full and the kernel's too (a server that stops
// reading): the library's default is for ever, which would stall the
// reactor that publishes. Past it the publish fails and the frame is
// dropped, counted.
constexpr std::int64_t write_deadline_ms = 1000;
// How long the node-clash request waits for an answer: a server that
// knows no node runs says so at once (no responders), so only a node that
// is running but stuck makes it wait.
constexpr std::int64_t claim_timeout_ms = 2000;

// `router.K.<dest>` (or `router.K` and `router.K.*`), into `out`.
std::string_view subject(char (&out)[40], unsigned node, const char* tail) {
    char* p = out;
    p = std::copy_n("router.", 7, p);
    p = std::to_chars(p, out + sizeof out, node).ptr;
    while (*tail != '\0' && p < out + sizeof out - 1) {
        *p++ = *tail++;
    }
    *p = '\0';
    return {out, static_cast<std::size_t>(p - out)};
}

// `router.K.<dest>.<from>`.
void frame_subject(char (&out)[40], client_id dest, client_id from) {
    subject(out, node_of(dest), ".");
    char* p = out + std::char_traits<char>::length(out);
    char* const last = out + sizeof out - 1;
    p = std::to_chars(p, last, dest).ptr;
    *p++ = '.';
    p = std::to_chars(p, last, from).ptr;
    *p = '\0';
}

// The ids of a frame's subject, `router.K.<dest>.<from>`, if `dest` is
// one of node K's.
bool parse_ids(const char* subj,
               unsigned node,
               client_id& dest,
               client_id& from) {
    const std::string_view s(subj);
    const auto second = s.rfind('.');
    const auto first =
        second == s.npos || second == 0 ? s.npos : s.rfind('.', second - 1);
    if (first == s.npos) {
        return false;
    }
    auto number = [&s](std::size_t at, std::size_t end, client_id& out) {
        const auto [p, ec] =
            std::from_chars(s.data() + at, s.data() + end, out);
        return ec == std::errc{} && p == s.data() + end;
    };
    return number(first + 1, second, dest) &&
           number(second + 1, s.size(), from) && node_of(dest) == node;
}

std::string what_failed(natsStatus s) {
    const char* detail = nats_GetLastError(nullptr);
    return detail != nullptr && *detail != '\0' ? detail
                                                : natsStatus_GetText(s);
}

}  // namespace

// The library's handles, and what its callbacks (on its threads) touch:
// only this, never the router.
struct bus::state {
    unsigned node = 0;
    std::string url;
    frame_handler on_frame;
    natsOptions* opts = nullptr;
    natsConnection* conn = nullptr;
    natsSubscription* frames = nullptr;
    natsSubscription* claim = nullptr;
    std::atomic<bool> up{false};
    std::atomic<bool> closing{false};
    // What has returned for the last time on the library's threads: each
    // subscription's handler, and the connection's callbacks (the closed
    // callback is the last one the library queues).
    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool frames_done = false;
    bool claim_done = false;
    bool closed = false;

    ~state() {
        natsSubscription_Destroy(frames);
        natsSubscription_Destroy(claim);
        natsConnection_Destroy(conn);
        natsOptions_Destroy(opts);
    }

    // Closes the connection, which ends both subscriptions, and waits
    // until no callback of the library's can still name this state.
    // False if that took implausibly long: the state must then be leaked,
    // not freed.
    bool close_and_wait() {
        if (conn == nullptr) {
            return true;
        }
        closing = true;
        up = false;
        natsConnection_Close(conn);
        std::unique_lock lock(done_mutex);
        return done_cv.wait_for(lock, std::chrono::seconds(5), [&] {
            return closed && (frames == nullptr || frames_done) &&
                   (claim == nullptr || claim_done);
        });
    }

    void check(natsStatus s, const std::string& doing) {
        if (s != NATS_OK) {
            throw bus_error("--cluster " + url + ": " + doing + ": " +
                            what_failed(s));
        }
    }
};

namespace {

// snippet: bus-on_message
// The library ends every payload it receives with a 0 of its own
// (natsMsg_GetData), which makes it a message as a router holds one: the
// payload and its 0, passed on without a copy.
void on_message(natsConnection*, natsSubscription* sub, natsMsg* msg, void* c) {
    auto& st = *static_cast<bus::state*>(c);
    client_id dest = 0, from = 0;
    const int size = natsMsg_GetDataLength(msg);
    if (parse_ids(natsMsg_GetSubject(msg), st.node, dest, from)) {
        int pending = 0;
        natsSubscription_GetPending(sub, &pending, nullptr);
        st.on_frame(from,
                    dest,
                    std::string_view(natsMsg_GetData(msg),
                                     static_cast<std::size_t>(size) + 1),
                    pending > 0);
    } else {
        log("cluster: a message on ",
            natsMsg_GetSubject(msg),
            " is no frame for this node, dropped");
    }
    natsMsg_Destroy(msg);
}
// snippet-end

void on_claim(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
    if (const char* reply = natsMsg_GetReply(msg); reply != nullptr) {
        natsConnection_PublishString(nc, reply, "taken");
    }
    natsMsg_Destroy(msg);
}

void on_complete(bool bus::state::*which, void* c) {
    auto& st = *static_cast<bus::state*>(c);
    std::lock_guard lock(st.done_mutex);
    st.*which = true;
    // Under the lock: the waiter may free the state as soon as it sees
    // the flag.
    st.done_cv.notify_all();
}

void on_disconnected(natsConnection*, void* c) {
    auto& st = *static_cast<bus::state*>(c);
    if (st.up.exchange(false) && !st.closing) {
        log("cluster: bus at ",
            st.url,
            " lost; frames to other nodes are dropped until it is back");
    }
}

void on_reconnected(natsConnection*, void* c) {
    auto& st = *static_cast<bus::state*>(c);
    st.up = true;
    log("cluster: bus at ", st.url, " back; frames to other nodes flow again");
}

void on_closed(natsConnection*, void* c) {
    on_complete(&bus::state::closed, c);
}

void on_error(natsConnection*, natsSubscription*, natsStatus s, void* c) {
    auto& st = *static_cast<bus::state*>(c);
    log("cluster: bus at ", st.url, ": ", natsStatus_GetText(s));
}

}  // namespace

bus::bus(const options& opts, frame_handler on_frame)
    : state_(std::make_unique<state>()) {
    state& st = *state_;
    st.node = opts.node;
    st.url = opts.cluster;
    st.on_frame = std::move(on_frame);
    st.check(natsOptions_Create(&st.opts), "options");
    char name[40];
    st.check(natsOptions_SetURL(st.opts, st.url.c_str()), "URL");
    st.check(natsOptions_SetName(st.opts, subject(name, st.node, "").data()),
             "options");
    st.check(natsOptions_SetMaxReconnect(st.opts, -1), "options");
    st.check(natsOptions_SetReconnectWait(st.opts, reconnect_wait_ms),
             "options");
    st.check(natsOptions_SetWriteDeadline(st.opts, write_deadline_ms),
             "options");
    st.check(natsOptions_SetDisconnectedCB(st.opts, on_disconnected, &st),
             "options");
    st.check(natsOptions_SetReconnectedCB(st.opts, on_reconnected, &st),
             "options");
    st.check(natsOptions_SetClosedCB(st.opts, on_closed, &st), "options");
    st.check(natsOptions_SetErrorHandler(st.opts, on_error, &st), "options");
    st.check(natsConnection_Connect(&st.conn, st.opts), "cannot connect");
    st.up = true;
    try {
        start(opts);
    } catch (...) {
        if (!st.close_and_wait()) {
            state_.release();  // still named by the library: leaked
        }
        throw;
    }
}

void bus::start(const options& opts) {
    state& st = *state_;

    const auto max_payload = natsConnection_GetMaxPayload(st.conn);
    if (max_payload < 0 ||
        opts.max_frame > static_cast<std::uint64_t>(max_payload)) {
        throw bus_error("--max-frame " + std::to_string(opts.max_frame) +
                        " is larger than the bus at " + st.url +
                        " carries (max_payload " + std::to_string(max_payload) +
                        " bytes)");
    }

    // Is another router this node? A server with no subscriber to the
    // subject says so at once (no responders).
    char claim[40];
    subject(claim, st.node, "");
    natsMsg* reply = nullptr;
    const natsStatus s = natsConnection_RequestString(
        &reply, st.conn, claim, "", claim_timeout_ms);
    natsMsg_Destroy(reply);
    if (s == NATS_OK) {
        throw bus_error("--node " + std::to_string(st.node) +
                        ": another router is running as node " +
                        std::to_string(st.node) + " on the bus at " + st.url);
    }

    char frames[40];
    subject(frames, st.node, ".*.*");
    st.check(
        natsConnection_Subscribe(&st.frames, st.conn, frames, on_message, &st),
        "subscribe");
    st.check(natsSubscription_SetOnCompleteCB(
                 st.frames,
                 [](void* c) { on_complete(&state::frames_done, c); },
                 &st),
             "subscribe");
    st.check(natsConnection_Subscribe(&st.claim, st.conn, claim, on_claim, &st),
             "subscribe");
    st.check(
        natsSubscription_SetOnCompleteCB(
            st.claim, [](void* c) { on_complete(&state::claim_done, c); }, &st),
        "subscribe");
    st.check(natsConnection_Flush(st.conn), "subscribe");
}

bus::~bus() {
    close();
}

void bus::close() {
    // The handlers may be running on the library's threads: the state
    // lives until they have returned for the last time.
    if (state_ && !state_->close_and_wait()) {
        log("cluster: the NATS client did not close within 5 s");
        state_.release();  // still named by the library: leaked
    }
}

// snippet: bus-publish
// The loop's side. While the library reconnects, a frame is dropped here,
// counted, rather than queued behind an outage of unknown length. The
// library copies the frame into its buffer, which its own thread flushes;
// it writes here only when that buffer is full, and then waits for the
// socket at most write_deadline_ms.
void bus::publish(client_id from, client_id dest, std::string_view message) {
    state& st = *state_;
    if (!st.up.load(std::memory_order_relaxed)) {
        drop(from, dest, "the bus is down");
        return;
    }
    char subj[40];
    frame_subject(subj, dest, from);
    const natsStatus s = natsConnection_Publish(
        st.conn, subj, message.data(), static_cast<int>(message.size() - 1));
    if (s != NATS_OK) {
        drop(from, dest, natsStatus_GetText(s));
    }
}
// snippet-end

void bus::publish_parcel(std::span<const char> parcel) {
    unpack_frames(parcel,
                  [this](client_id from, client_id dest, std::string_view m) {
                      publish(from, dest, m);
                  });
}

void bus::drop(client_id from, client_id dest, const char* why) {
    const auto n = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (drop_counter::line_due(n)) {
        log("cluster: dropped a frame from client ",
            from,
            " to client ",
            dest,
            " of node ",
            node_of(dest),
            ": ",
            why,
            " (",
            n,
            " dropped so far)");
    }
}

}  // namespace common::cluster
