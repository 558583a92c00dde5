// Files replaced whole or not at all.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "server/system/atomic_file.hpp"
#include "support/temp_folder.hpp"

using meridian::server::write_file_atomically;
using meridian::testing::TempFolder;

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

TEST_CASE("atomic_write_that_fails_keeps_the_old_file") {
    TempFolder folder;
    const auto target = folder.write("ro/example.com.zone", "old\n");
    ::chmod(target.parent_path().c_str(), 0555);  // no temporary file can be created
    std::string error;
    const bool written = write_file_atomically(target, "new\n", error);
    ::chmod(target.parent_path().c_str(), 0755);
    if (::geteuid() == 0) return;  // root writes anyway: nothing to check
    CHECK_FALSE(written);
    CHECK(error.find("temporary") != std::string::npos);
    std::ifstream in(target);
    std::stringstream text;
    text << in.rdbuf();
    CHECK(text.str() == "old\n");
}
