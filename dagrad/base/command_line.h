// The command-line reader of dagrad's tools and examples: `--name value` options, switches, `--name=value` pairs
// and --help, with errors that name the argument. Each accessor consumes what it reads;
// finish() rejects whatever no accessor asked for.
//
//   CommandLine cli(argc, argv);
//   if (cli.help("usage: prog [--quick] [--epochs N]")) return 0;
//   const bool quick = cli.flag("--quick");
//   const int64_t epochs = cli.integer("--epochs", quick ? 2 : 10);
//   const std::vector<std::string> files = cli.positionals();  // after the options
//   cli.finish();
#pragma once
#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>


namespace dagrad::base {

class CommandLine {
 public:
  CommandLine(int argc, char** argv) : args_(argv + 1, argv + argc), used_(args_.size(), false) {}

  // Prints `usage` and returns true when --help or -h was given.
  bool help(const std::string& usage) const {
    for (const std::string& a : args_)
      if (a == "--help" || a == "-h") {
        fmt::print("{}\n", usage);
        return true;
      }
    return false;
  }

  // A switch: true if present.
  bool flag(const std::string& name) {
    bool found = false;
    for (std::size_t i = 0; i < args_.size(); ++i)
      if (!used_[i] && args_[i] == name) used_[i] = true, found = true;
    return found;
  }

  // The value after `name` (the last one if repeated), or `fallback`.
  std::string text(const std::string& name, const std::string& fallback) {
    std::string value = fallback;
    for (std::size_t i = 0; i < args_.size(); ++i) {
      if (used_[i] || args_[i] != name) continue;
      if (i + 1 >= args_.size()) throw std::invalid_argument(fmt::format("{} needs a value", name));
      used_[i] = used_[i + 1] = true;
      value = args_[++i];
    }
    return value;
  }

  int64_t integer(const std::string& name, int64_t fallback) {
    return parsed<int64_t>(name, fallback, "an integer",
                           [](const char* c, char** end) { return std::strtoll(c, end, 10); });
  }

  double number(const std::string& name, double fallback) {
    return parsed<double>(name, fallback, "a number",
                          [](const char* c, char** end) { return std::strtod(c, end); });
  }

  // Every `--key=value` argument, as {key, value}.
  std::map<std::string, std::string> key_values() {
    std::map<std::string, std::string> kv;
    for (std::size_t i = 0; i < args_.size(); ++i) {
      const std::string& a = args_[i];
      const auto eq = a.find('=');
      if (used_[i] || a.rfind("--", 0) != 0 || eq == std::string::npos) continue;
      used_[i] = true;
      kv[a.substr(2, eq - 2)] = a.substr(eq + 1);
    }
    return kv;
  }

  // The arguments no accessor consumed that do not start with "-", in order (consumed now).
  // Call it after the options: their values are consumed by then and are not taken for
  // positionals.
  std::vector<std::string> positionals() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < args_.size(); ++i)
      if (!used_[i] && args_[i].rfind('-', 0) != 0) used_[i] = true, out.push_back(args_[i]);
    return out;
  }

  // Throws for the first argument no accessor consumed.
  void finish() const {
    for (std::size_t i = 0; i < args_.size(); ++i)
      if (!used_[i])
        throw std::invalid_argument(fmt::format("unknown argument '{}' (see --help)", args_[i]));
  }

 private:
  // The value after `name` converted by parse (strtoll/strtod-like), or `fallback`; anything
  // left over or out of range is an error naming the option.
  template <typename V, typename Parse>
  V parsed(const std::string& name, V fallback, const char* what, Parse parse) {
    const std::string s = text(name, "");
    if (s.empty()) return fallback;
    char* end = nullptr;
    errno = 0;
    const auto v = parse(s.c_str(), &end);
    if (*end != '\0' || errno != 0)
      throw std::invalid_argument(fmt::format("{} expects {}, got '{}'", name, what, s));
    return static_cast<V>(v);
  }

  std::vector<std::string> args_;
  std::vector<bool> used_;
};

}  // namespace dagrad::base
