#include "protocol.hpp"

#include "nats_protocol.hpp"
#include "redis_protocol.hpp"
#include "router_protocol.hpp"

namespace loadgen {

std::unique_ptr<protocol> make_protocol(protocol_kind kind) {
    switch (kind) {
        case protocol_kind::redis:
            return std::make_unique<redis_protocol>();
        case protocol_kind::nats:
            return std::make_unique<nats_protocol>();
        case protocol_kind::router:
            break;
    }
    return std::make_unique<router_protocol>();
}

}  // namespace loadgen
