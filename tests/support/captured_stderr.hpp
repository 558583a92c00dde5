// The server's log lines (stderr, server/system/log.hpp) captured for one scope, so a test
// can check what an operator is told: the file and line of an error, a restart notice.
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

class CapturedStderr {
  public:
    CapturedStderr() : file_(folder_.path() / "stderr") {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (saved_ < 0 || fd < 0) throw std::runtime_error("cannot capture stderr");
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
    }
    ~CapturedStderr() {
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
    }
    CapturedStderr(const CapturedStderr&) = delete;
    CapturedStderr& operator=(const CapturedStderr&) = delete;

    // Everything written so far.
    std::string text() const {
        std::ostringstream text;
        text << std::ifstream(file_).rdbuf();
        return text.str();
    }
    bool contains(const std::string& needle) const {
        return text().find(needle) != std::string::npos;
    }

  private:
    TempFolder folder_;
    std::filesystem::path file_;
    int saved_ = -1;
};

}  // namespace meridian::testing
