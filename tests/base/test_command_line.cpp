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

TEST_CASE("CommandLine flag with an alias takes either spelling") {
  CommandLine a = make({"-v"});
  CHECK(a.flag("--verbose", "-v"));
  CHECK_NOTHROW(a.finish());
  CommandLine b = make({"--verbose", "-v"});  // both consumed
  CHECK(b.flag("--verbose", "-v"));
  CHECK_NOTHROW(b.finish());
  CommandLine c = make({});
  CHECK_FALSE(c.flag("--verbose", "-v"));
}

TEST_CASE("CommandLine integer with a range") {
  CommandLine cli = make({"--size", "64", "--threads", "256"});
  CHECK(cli.integer("--size", 1024, 1, 1 << 16) == 64);
  CHECK(cli.integer("--threads", 2, 1, 256) == 256);  // the bounds are allowed
  CHECK(cli.integer("--repeats", 30, 1, 100) == 30);  // absent: the fallback, unchecked
  CHECK_NOTHROW(cli.finish());
  for (const char* bad : {"0", "65537", "x", "12x", "", "99999999999999999999"}) {
    CAPTURE(bad);
    CommandLine b = make({"--size", bad});
    CHECK_THROWS_WITH_AS(
        b.integer("--size", 1024, 1, 1 << 16),
        ("--size expects an integer in [1, 65536], got '" + std::string(bad) + "'").c_str(),
        std::invalid_argument);
  }
  CommandLine m = make({"--size"});
  CHECK_THROWS_WITH_AS(m.integer("--size", 1, 1, 2), "--size needs a value", std::invalid_argument);
}

TEST_CASE("CommandLine positive numbers") {
  CommandLine cli = make({"--eps", "1e-6"});
  CHECK(cli.positive("--eps", 1e-5) == doctest::Approx(1e-6));
  CHECK(cli.positive("--h", 0.5) == 0.5);  // absent
  for (const char* bad : {"0", "-1e-5", "x", "nan", "inf", "1e999", ""}) {
    CAPTURE(bad);
    CommandLine b = make({"--eps", bad});
    CHECK_THROWS_WITH_AS(
        b.positive("--eps", 1e-5),
        ("--eps expects a positive number, got '" + std::string(bad) + "'").c_str(),
        std::invalid_argument);
  }
}

TEST_CASE("CommandLine empty values are errors, not the fallback") {
  CommandLine a = make({"--epochs", ""});
  CHECK_THROWS_WITH_AS(a.integer("--epochs", 3), "--epochs expects an integer, got ''",
                       std::invalid_argument);
  CommandLine b = make({"--lr", ""});
  CHECK_THROWS_WITH_AS(b.number("--lr", 1.0), "--lr expects a number, got ''",
                       std::invalid_argument);
  CommandLine c = make({"--out", ""});
  CHECK(c.text("--out", "x").empty());  // text is whatever was given
}

TEST_CASE("CommandLine positional: at most one, named in the error") {
  CommandLine none = make({"--eps", "1e-6"});
  CHECK(none.positive("--eps", 1.0) == doctest::Approx(1e-6));
  CHECK(none.positional("name filter", "all") == "all");
  CommandLine one = make({"relu", "--verbose"});
  CHECK(one.flag("--verbose"));
  CHECK(one.positional("name filter") == "relu");
  CHECK_NOTHROW(one.finish());
  CommandLine two = make({"relu", "tanh", "conv"});
  CHECK_THROWS_WITH_AS(two.positional("name filter"),
                       "one name filter at most, got 3: 'relu', 'tanh', 'conv'",
                       std::invalid_argument);
}
