#include "resp3.hpp"

#include <charconv>
#include <cstring>

namespace loadgen {

namespace {

const char* resp_line(const char* p, const char* end) {
    const void* nl = std::memchr(p, '\n', end - p);
    return nl ? static_cast<const char*>(nl) + 1 : nullptr;
}

long long resp_int(const char* p, const char* line_end) {
    long long v = 0;
    std::from_chars(p, line_end - 2, v);
    return v;
}

void keep(resp_value* v, std::string_view s) {
    if (v != nullptr) {
        if (v->count < v->parts.size()) {
            v->parts[v->count] = s;
        }
        ++v->count;
    }
}

// `top` collects the strings of the value being parsed (nullptr: none).
const char* parse(const char* p, const char* end, resp_value* top) {
    if (p >= end) {
        return nullptr;
    }
    const char type = *p;
    const char* le = resp_line(p, end);
    if (le == nullptr) {
        return nullptr;
    }
    switch (type) {
        case '$':
        case '=':
        case '!': {
            const long long n = resp_int(p + 1, le);
            if (n < 0) {
                return le;
            }
            if (end - le < n + 2) {
                return nullptr;
            }
            keep(top, std::string_view(le, std::size_t(n)));
            return le + n + 2;
        }
        case '*':
        case '>':
        case '~':
        case '%':
        case '|': {
            long long n = resp_int(p + 1, le);
            if (type == '%' || type == '|') {
                n *= 2;
            }
            const char* q = le;
            for (long long i = 0; i < n && q != nullptr; ++i) {
                q = parse(q, end, nullptr);
            }
            return q;
        }
        default:  // + - : _ # , ( : one line
            keep(top, std::string_view(p + 1, std::size_t(le - 2 - p - 1)));
            return le;
    }
}

}  // namespace

const char* resp_parse(const char* p, const char* end, resp_value& v) {
    v = resp_value{};
    if (p >= end) {
        return nullptr;
    }
    v.type = *p;
    if (v.type == '*' || v.type == '>') {
        // The elements' strings are what a caller wants.
        const char* le = resp_line(p, end);
        if (le == nullptr) {
            return nullptr;
        }
        const long long n = resp_int(p + 1, le);
        const char* q = le;
        for (long long i = 0; i < n && q != nullptr; ++i) {
            q = parse(q, end, &v);
        }
        return q;
    }
    return parse(p, end, &v);  // a string's or an error's text in parts[0]
}

}  // namespace loadgen
