#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

extern char** environ;

namespace testing {

std::string binary_path(std::string_view variant) {
    return std::string(ROUTER_BIN_DIR) + "/" + std::string(variant);
}

process::process(const std::vector<std::string>& argv,
                 const std::vector<std::string>& env,
                 bool pipe_stdin) {
    int out[2], err[2], in[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
        (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0)) {
        throw std::system_error(errno, std::generic_category(), "pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (pipe_stdin) {
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    }
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    // `env` adds to the inherited environment and overrides a variable
    // of the same name: getenv() would find the inherited one first.
    auto overridden = [&env](std::string_view entry) {
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) {
            return false;
        }
        const auto name = entry.substr(0, eq + 1);
        for (const auto& e : env) {
            if (e.starts_with(name)) {
                return true;
            }
        }
        return false;
    };
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (!overridden(*e)) {
            env_strings.emplace_back(*e);
        }
    }
    env_strings.insert(env_strings.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_strings) {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    int rc =
        posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (pipe_stdin) {
        ::close(in[0]);
        in_ = in[1];
    }
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(), argv[0]);
    }
}

process::~process() {
    if (!status_) {
        ::kill(pid_, SIGKILL);
        int st;
        ::waitpid(pid_, &st, 0);
    }
    ::close(out_);
    ::close(err_);
    close_stdin();
}

void process::write_stdin(std::string_view bytes) {
    // A child that died has closed the pipe's other end: the write must
    // fail with EPIPE, not kill the test binary with SIGPIPE. So SIGPIPE
    // is blocked in this thread meanwhile, and one it raised is consumed.
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    int error = 0;
    while (!bytes.empty() && error == 0) {
        const auto n = ::write(in_, bytes.data(), bytes.size());
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno != EINTR) {
            error = errno;
        }
    }
    if (error == EPIPE) {
        const timespec zero{};
        ::sigtimedwait(&pipe_only, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (error != 0) {
        throw std::system_error(
            error, std::generic_category(), "write to the child's stdin");
    }
}

void process::close_stdin() {
    if (in_ >= 0) {
        ::close(in_);
        in_ = -1;
    }
}

void process::close_stderr() {
    if (err_ >= 0) {
        ::close(err_);
        err_ = -1;
    }
}

namespace {
// Reads what is available on fd into buf; false on EOF or deadline.
bool read_more(int fd, std::string& buf, clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) {
        throw timeout_error("timed out reading the child's output");
    }
    char tmp[4096];
    auto n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) {
        return false;
    }
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
}

// One line from fd, through buf (what was read past it).
std::string read_line(int fd, std::string& buf, clock::duration within) {
    const auto deadline = clock::now() + within;
    for (;;) {
        if (auto nl = buf.find('\n'); nl != std::string::npos) {
            auto line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            return line;
        }
        if (!read_more(fd, buf, deadline)) {
            auto rest = std::move(buf);
            buf.clear();
            return rest;
        }
    }
}
}  // namespace

std::string process::read_stdout_line(clock::duration within) {
    return read_line(out_, out_buf_, within);
}

std::string process::read_stderr_line(clock::duration within) {
    return read_line(err_, err_buf_, within);
}

std::string process::read_stdout_all(clock::duration within) {
    const auto deadline = clock::now() + within;
    std::string all = std::move(out_buf_);
    out_buf_.clear();
    while (read_more(out_, all, deadline)) {
    }
    return all;
}

std::string process::read_stderr_all(clock::duration within) {
    const auto deadline = clock::now() + within;
    std::string all = std::move(err_buf_);
    err_buf_.clear();
    while (read_more(err_, all, deadline)) {
    }
    return all;
}

std::optional<int> process::wait(clock::duration within) {
    if (!status_) {
        // A pidfd becomes readable when the child exits: a deadline-bound
        // wait with no polling loop.
        const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pfd < 0) {
            throw std::system_error(
                errno, std::generic_category(), "pidfd_open");
        }
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(within);
        pollfd p{pfd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(ms.count()));
        ::close(pfd);
        if (ready <= 0) {
            return std::nullopt;
        }
        int st = 0;
        ::waitpid(pid_, &st, 0);
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
    }
    return status_;
}

void process::signal(int sig) {
    ::kill(pid_, sig);
}

std::uint16_t port_of(const std::string& line) {
    auto colon = line.rfind(':');
    if (colon == std::string::npos) {
        return 0;
    }
    return static_cast<std::uint16_t>(std::stoul(line.substr(colon + 1)));
}

}  // namespace testing
