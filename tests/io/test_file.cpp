#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "dagrad/io/file.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;
namespace fs = std::filesystem;

TEST_CASE("write_file_atomically replaces the file whole and leaves no .tmp behind") {
  TempDir dir;
  const std::string path = dir.file("a.bin");
  io::write_file_atomically(path, std::string("first\0x", 7), "test file");
  CHECK(io::read_file(path, "test file") == std::string("first\0x", 7));
  io::write_file_atomically(path, "second", "test file");
  CHECK(io::read_file(path, "test file") == "second");
  CHECK_FALSE(fs::exists(path + ".tmp"));
  io::write_file_atomically(path, "", "test file");
  CHECK(io::read_file(path, "test file").empty());
}

TEST_CASE("file errors name the file and the problem") {
  TempDir dir;
  const std::string missing = dir.file("no/such/dir/x.bin");
  CHECK(error_of<std::runtime_error>([&] { io::read_file(missing, "npy " + missing); }) ==
        "npy " + missing + ": cannot open file");
  const std::string msg = error_of<std::runtime_error>(
      [&] { io::write_file_atomically(missing, "x", "checkpoint " + missing); });
  CHECK(msg.find("checkpoint " + missing + ": cannot open " + missing + ".tmp for writing") == 0);
  // A directory in the way of the rename: the .tmp is cleaned up, the directory untouched.
  const std::string blocked = dir.file("blocked");
  fs::create_directories(fs::path(blocked) / "inner");
  CHECK(error_of<std::runtime_error>([&] { io::write_file_atomically(blocked, "x", "out"); })
            .find("out: cannot rename " + blocked + ".tmp into place") == 0);
  CHECK_FALSE(fs::exists(blocked + ".tmp"));
  CHECK(fs::is_directory(fs::path(blocked) / "inner"));
}
