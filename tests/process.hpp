// Runs a built server executable as a child process, with its stdout and
// stderr on pipes, for the tests of the command-line contract. The child is
// killed and reaped when the object goes, so a failing test leaves nothing.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "client.hpp"

namespace testing {

std::string binary_path(std::string_view variant);

class process {
  public:
    // With `pipe_stdin`, the child's stdin is a pipe fed by write_stdin();
    // otherwise it inherits the test's.
    explicit process(const std::vector<std::string>& argv,
                     const std::vector<std::string>& env = {},
                     bool pipe_stdin = false);
    ~process();

    // Writes all of `bytes` to the child's stdin (pipe_stdin only).
    void write_stdin(std::string_view bytes);
    // Closes the child's stdin: it reads EOF. Idempotent.
    void close_stdin();
    // Closes the read end of the child's stderr, as a log reader that went
    // away would: the child's next write there gets EPIPE (or SIGPIPE).
    void close_stderr();

    // One line of stdout (without the newline), or timeout_error.
    std::string read_stdout_line(clock::duration within = patience);
    // One line of stderr (without the newline), or timeout_error: for a
    // child that says on stderr when it is ready (nats-server).
    std::string read_stderr_line(clock::duration within = patience);
    // All stdout until the child closes it, or timeout_error.
    std::string read_stdout_all(clock::duration within = patience);
    // All stderr until the child closes it, or timeout_error.
    std::string read_stderr_all(clock::duration within = patience);
    // The exit status, or nullopt if the child is still running after
    // `within`. -N for a death by signal N.
    std::optional<int> wait(clock::duration within = patience);
    void signal(int sig);
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    int out_ = -1, err_ = -1, in_ = -1;
    std::string out_buf_, err_buf_;
    std::optional<int> status_;
};

// The port from a `listening on ADDR:PORT` line, or 0.
std::uint16_t port_of(const std::string& listening_line);

}  // namespace testing
