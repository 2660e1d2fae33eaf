#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "dagrad/base/file.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;
namespace fs = std::filesystem;

TEST_CASE("write_file_atomically replaces the file whole and leaves no .tmp behind") {
  TempDir dir;
  const std::string path = dir.file("a.bin");
  base::write_file_atomically(std::string("first\0x", 7), path, "test file");
  CHECK(base::read_file(path, "test file") == std::string("first\0x", 7));
  base::write_file_atomically("second", path, "test file");
  CHECK(base::read_file(path, "test file") == "second");
  CHECK_FALSE(fs::exists(path + ".tmp"));
  base::write_file_atomically("", path, "test file");
  CHECK(base::read_file(path, "test file").empty());
}

TEST_CASE("file errors name the file and the problem") {
  TempDir dir;
  const std::string missing = dir.file("no/such/dir/x.bin");
  CHECK(error_of<std::runtime_error>([&] { base::read_file(missing, "npy " + missing); }) ==
        "npy " + missing + ": cannot open file");
  const std::string msg = error_of<std::runtime_error>(
      [&] { base::write_file_atomically("x", missing, "checkpoint " + missing); });
  CHECK(msg.find("checkpoint " + missing + ": cannot open " + missing + ".tmp for writing") == 0);
  // A directory in the way of the rename: the .tmp is cleaned up, the directory untouched.
  const std::string blocked = dir.file("blocked");
  fs::create_directories(fs::path(blocked) / "inner");
  CHECK(error_of<std::runtime_error>([&] {
          base::write_file_atomically("x", blocked, "out");
        }).find("out: cannot rename " + blocked + ".tmp into place") == 0);
  CHECK_FALSE(fs::exists(blocked + ".tmp"));
  CHECK(fs::is_directory(fs::path(blocked) / "inner"));
}
