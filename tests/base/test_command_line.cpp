// The examples' command-line reader.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dagrad/base/command_line.h"

using dagrad::base::CommandLine;

namespace {
CommandLine make(std::vector<std::string> args) {
  static std::vector<std::string> keep;  // argv strings outlive the call
  keep = std::move(args);
  keep.insert(keep.begin(), "prog");
  static std::vector<char*> argv;
  argv.clear();
  for (std::string& a : keep) argv.push_back(a.data());
  return CommandLine(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("CommandLine reads switches, values, numbers and key=value pairs") {
  CommandLine cli = make({"--quick", "--epochs", "7", "--lr", "2.5e-3", "--learning_rate=1e-4",
                          "--out", "a", "--out", "b"});
  CHECK(cli.flag("--quick"));
  CHECK_FALSE(cli.flag("--all"));
  CHECK(cli.integer("--epochs", 3) == 7);
  CHECK(cli.integer("--num-train", 50) == 50);  // absent: the fallback
  CHECK(cli.number("--lr", 1.0) == doctest::Approx(2.5e-3));
  CHECK(cli.text("--out", "x") == "b");  // repeated: the last one wins
  const auto kv = cli.key_values();
  REQUIRE(kv.size() == 1);
  CHECK(kv.at("learning_rate") == "1e-4");
  CHECK_NOTHROW(cli.finish());
}

TEST_CASE("CommandLine errors name the argument") {
  CommandLine a = make({"--epochs", "x"});
  CHECK_THROWS_WITH_AS(a.integer("--epochs", 1), "--epochs expects an integer, got 'x'",
                       std::invalid_argument);
  CommandLine b = make({"--keep"});
  CHECK_THROWS_WITH_AS(b.number("--keep", 0.5), "--keep needs a value", std::invalid_argument);
  CommandLine c = make({"--quick", "--bogus"});
  c.flag("--quick");
  CHECK_THROWS_WITH_AS(c.finish(), "unknown argument '--bogus' (see --help)",
                       std::invalid_argument);
  CommandLine d = make({"--lr", "1e-3x"});
  CHECK_THROWS_AS(d.number("--lr", 1.0), std::invalid_argument);
}

TEST_CASE("CommandLine positionals are what the options left, in order") {
  CommandLine cli = make({"in.png", "--out", "dir", "--quick", "more.png"});
  CHECK(cli.text("--out", "x") == "dir");  // "dir" is the option's value, not a positional
  CHECK(cli.flag("--quick"));
  CHECK(cli.positionals() == std::vector<std::string>{"in.png", "more.png"});
  CHECK(cli.positionals().empty());  // consumed
  CHECK_NOTHROW(cli.finish());
  CommandLine unknown = make({"a", "--bogus"});
  CHECK(unknown.positionals() == std::vector<std::string>{"a"});
  CHECK_THROWS_WITH_AS(unknown.finish(), "unknown argument '--bogus' (see --help)",
                       std::invalid_argument);
}
