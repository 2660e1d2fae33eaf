// Fuzz target: the examples' command-line parser (dagrad/base/command_line.h). The input split at
// its NUL bytes is argv[1..]; the accessors are called as an example calls them, each on its own so
// that one refusing its argument does not hide the rest.
#include <vector>

#include "dagrad/base/command_line.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dagrad::fuzz::expect_clean;
  std::vector<std::string> args{"prog"};
  const std::string_view in = dagrad::fuzz::bytes_of(data, size);
  for (size_t begin = 0; !in.empty();) {
    const size_t end = std::min(in.find('\0', begin), in.size());
    args.emplace_back(in.substr(begin, end - begin));
    if (end == in.size()) break;
    begin = end + 1;
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);  // as main() gets it

  dagrad::base::CommandLine cli(static_cast<int>(args.size()), argv.data());
  expect_clean([&] { cli.help("usage: prog [--quick] [--epochs N] [--lr X] [--out DIR]"); });
  expect_clean([&] { cli.flag("--quick"); });
  expect_clean([&] { cli.flag("--verbose", "-v"); });
  expect_clean([&] { cli.integer("--epochs", 10); });
  expect_clean([&] { cli.integer("--size", 16, 1, 65536); });
  expect_clean([&] { cli.number("--lr", 1e-3); });
  expect_clean([&] { cli.positive("--eps", 1e-6); });
  expect_clean([&] { cli.text("--out", "out"); });
  expect_clean([&] { cli.key_values(); });
  expect_clean([&] { cli.positional("name filter"); });
  expect_clean([&] { cli.positionals(); });
  expect_clean([&] { cli.finish(); });
  return 0;
}
