// Files replaced whole or not at all.
#include <doctest/doctest.h>

#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "server/system/atomic_file.hpp"
#include "support/temp_folder.hpp"

using meridian::server::write_file_atomically;
using meridian::testing::TempFolder;

namespace {

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

size_t files_in(const std::filesystem::path& folder) {
    size_t files = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) ++files;
    return files;
}

struct Outcome {
    bool is_written = false;
    std::string error;  // write_file_atomically's, or why the child could not get ready
};

// write_file_atomically in a child process after `prepare` (which returns "" or why it
// failed), so a test can take away permissions or file size without changing the test
// binary's own: that is how the failures below happen for root too (CI runs as root).
Outcome write_in_child(const std::filesystem::path& path, const std::string& content,
                       const std::function<std::string()>& prepare) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        std::string report = prepare();
        if (report.empty()) {
            std::string error;
            report = write_file_atomically(path, content, error) ? "1" : "0" + error;
        } else {
            report = "!" + report;
        }
        const char* at = report.data();
        size_t left = report.size();
        while (left > 0) {
            const ssize_t n = ::write(pipe_fds[1], at, left);
            if (n <= 0) break;
            at += n;
            left -= static_cast<size_t>(n);
        }
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::string report;
    char buffer[512];
    for (;;) {
        const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        report.append(buffer, static_cast<size_t>(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "child status " << status);
    REQUIRE_MESSAGE(!report.empty(), "the child reported nothing");
    REQUIRE_MESSAGE(report[0] != '!', "the child could not get ready: " << report.substr(1));
    return Outcome{report[0] == '1', report.substr(1)};
}

// As root, becomes nobody (65534), for whom permissions apply; otherwise nothing to do.
std::string drop_root() {
    if (::geteuid() != 0) return "";
    const uid_t nobody = 65534;
    if (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 || ::setuid(nobody) != 0)
        return std::string("cannot become nobody: ") + std::strerror(errno);
    if (::geteuid() == 0) return "still root";
    return "";
}

}  // namespace

TEST_CASE("atomic_write_replaces_the_file_whole_and_leaves_no_temporary") {
    TempFolder folder;
    const auto target = folder.path() / "cache" / "example.com.zone";  // folder created
    std::string error;
    REQUIRE_MESSAGE(write_file_atomically(target, "first\n", error), error);
    REQUIRE_MESSAGE(write_file_atomically(target, "second\n", error), error);
    std::ifstream in(target);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str() == "second\n");
    size_t files = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator(target.parent_path()))
        ++files;
    CHECK(files == 1);
    struct stat info {};
    REQUIRE(::stat(target.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0644);
}

TEST_CASE("atomic_write_into_a_folder_it_cannot_write_keeps_the_old_file") {
    TempFolder folder;
    const auto target = folder.write("ro/example.com.zone", "old\n");
    // Reachable by nobody, writable by no one but root, whom the child stops being.
    REQUIRE(::chmod(folder.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(target.parent_path().c_str(), 0555) == 0);
    const Outcome outcome = write_in_child(target, "new\n", drop_root);
    ::chmod(target.parent_path().c_str(), 0755);
    CHECK_FALSE(outcome.is_written);
    CHECK_MESSAGE(
        outcome.error.find("cannot create a temporary file beside " + target.string()) == 0,
        outcome.error);
    CHECK(read_text(target) == "old\n");
    CHECK(files_in(target.parent_path()) == 1);
}

TEST_CASE("atomic_write_that_cannot_write_the_content_keeps_the_old_file_and_no_temporary") {
    // A file size limit binds root as well: the temporary file cannot take the new content
    // (write fails with EFBIG), so it must go and the old file stay.
    TempFolder folder;
    const auto target = folder.write("zones/example.com.zone", "old\n");
    const Outcome outcome = write_in_child(target, std::string(4096, 'x'), [] {
        ::signal(SIGXFSZ, SIG_IGN);  // else the signal kills the child instead of EFBIG
        const rlimit limit{16, 16};
        return ::setrlimit(RLIMIT_FSIZE, &limit) == 0
                   ? std::string()
                   : std::string("setrlimit: ") + std::strerror(errno);
    });
    CHECK_FALSE(outcome.is_written);
    CHECK_MESSAGE(outcome.error.find("cannot write " + target.string() + ".") == 0, outcome.error);
    CHECK(read_text(target) == "old\n");
    CHECK(files_in(target.parent_path()) == 1);
}
