// Output written to stderr or stdout captured for one scope, so a test can check what an
// operator is told: the server's log lines (stderr, server/system/log.hpp) with the file and
// line of an error, or what a `meridian` command prints (stdout).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "support/temp_folder.hpp"

namespace meridian::testing {

// Redirects the descriptor `fd` (whose C stream is `stream`) to a file until scope exit.
class CapturedOutput {
  public:
    CapturedOutput(int fd, std::FILE* stream)
        : fd_(fd), stream_(stream), file_(folder_.path() / "output") {
        std::fflush(stream_);
        saved_ = ::dup(fd_);
        const int file = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (saved_ < 0 || file < 0) throw std::runtime_error("cannot capture output");
        ::dup2(file, fd_);
        ::close(file);
    }
    ~CapturedOutput() {
        std::fflush(stream_);
        ::dup2(saved_, fd_);
        ::close(saved_);
    }
    CapturedOutput(const CapturedOutput&) = delete;
    CapturedOutput& operator=(const CapturedOutput&) = delete;

    // Everything written so far (the stream's buffer flushed first).
    std::string text() const {
        std::fflush(stream_);
        std::ostringstream text;
        text << std::ifstream(file_).rdbuf();
        return text.str();
    }
    bool contains(const std::string& needle) const {
        return text().find(needle) != std::string::npos;
    }

  private:
    TempFolder folder_;
    int fd_;
    std::FILE* stream_;
    std::filesystem::path file_;
    int saved_ = -1;
};

class CapturedStderr : public CapturedOutput {
  public:
    CapturedStderr() : CapturedOutput(STDERR_FILENO, stderr) {}
};

class CapturedStdout : public CapturedOutput {
  public:
    CapturedStdout() : CapturedOutput(STDOUT_FILENO, stdout) {}
};

}  // namespace meridian::testing
