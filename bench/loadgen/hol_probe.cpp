#include "hol_probe.hpp"

#include <boost/asio.hpp>

namespace loadgen {

using boost::system::error_code;

hol_probe::hol_probe(const config& cfg,
                     const protocol& proto,
                     client& slow,
                     client& flooder)
    : cfg_(cfg),
      proto_(proto),
      slow_(slow),
      flooder_(flooder),
      timer_(slow.sock.get_executor()) {}

void hol_probe::start_flood(steady::time_point since) {
    since_ = since;
    std::string frame;
    proto_.begin_frame(frame, slow_.addr, cfg_.flood_frame);
    frame.append(cfg_.flood_frame, 'x');
    proto_.end_frame(frame);
    frame_wire_ = frame.size();
    flooder_.wbuf.clear();
    while (flooder_.wbuf.size() < 256 * 1024) {
        flooder_.wbuf += frame;
    }
    flooding_ = true;
    write_next();
}

// The flooder's one write in flight: what the protocol must answer first,
// else more of the flood.
void hol_probe::write_next() {
    if (flooder_.writing || stopped_) {
        return;
    }
    const bool answer = !flooder_.reply.empty();
    if (!answer &&
        (!flooding_ || result_.flood_bytes_sent >= cfg_.flood_bytes)) {
        return;
    }
    if (answer) {
        answer_.swap(flooder_.reply);
        flooder_.reply.clear();
    }
    const std::string& out = answer ? answer_ : flooder_.wbuf;
    flooder_.writing = true;
    asio::async_write(
        flooder_.sock,
        asio::buffer(out),
        [this, answer](error_code ec, std::size_t n) {
            flooder_.writing = false;
            if (!answer) {
                result_.flood_bytes_sent += n / frame_wire_ * cfg_.flood_frame;
            }
            if (ec) {
                if (ec != asio::error::operation_aborted) {
                    result_.flood_error = ec.message();
                }
                return;
            }
            if (!answer && result_.flood_bytes_sent >= cfg_.flood_bytes) {
                result_.flood_done_s =
                    std::chrono::duration<double>(steady::now() - since_)
                        .count();
            }
            write_next();
        });
}

void hol_probe::drain(std::function<void()> done) {
    done_ = std::move(done);
    flooder_.sock.close();
    slow_.rbeg = slow_.rend = 0;
    timer_.expires_after(std::chrono::milliseconds(1500));
    timer_.async_wait([this](error_code ec) {
        if (!ec) {
            done_();
        }
    });
    drain_read();
}

void hol_probe::drain_read() {
    slow_.sock.async_read_some(
        asio::buffer(slow_.rbuf), [this](error_code ec, std::size_t n) {
            result_.bytes_drained += n;
            if (ec == asio::error::eof || ec == asio::error::connection_reset) {
                result_.disconnected = true;
                timer_.cancel();
                done_();
            } else if (!ec) {
                drain_read();
            }
        });
}

}  // namespace loadgen
