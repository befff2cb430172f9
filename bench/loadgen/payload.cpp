#include "payload.hpp"

#include <cstring>

namespace loadgen {

namespace {

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
        for (std::size_t j = 0; j < s.size(); ++j) {
            s[j] = char(1 + j % 251);
        }
        return s;
    }();
    return p;
}

}  // namespace

void append_payload(std::string& out,
                    std::uint64_t seq,
                    std::uint64_t stamp_ns,
                    std::uint64_t sender,
                    std::size_t size) {
    char head[header_size];
    put7(head, seq, 5);
    put7(head + 5, stamp_ns, 6);
    put7(head + 11, sender, 3);
    out.append(head, header_size);
    out.append(pattern().data() + seq % 251, size - header_size);
}

checked_payload check_payload(std::string_view payload, std::size_t size) {
    checked_payload r;
    r.ok = payload.size() == size;
    if (!r.ok) {
        return r;
    }
    r.seq = get7(payload.data(), 5, r.ok);
    r.stamp_ns = get7(payload.data() + 5, 6, r.ok);
    r.sender = get7(payload.data() + 11, 3, r.ok);
    r.ok = r.ok && std::memcmp(payload.data() + header_size,
                               pattern().data() + r.seq % 251,
                               size - header_size) == 0;
    return r;
}

}  // namespace loadgen
