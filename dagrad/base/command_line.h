// The command-line reader of dagrad's tools and examples: `--name value` options, switches,
// `--name=value` pairs and --help, with errors that name the argument. Each accessor consumes what
// it reads; finish() rejects whatever no accessor asked for.
//
//   CommandLine cli(argc, argv);
//   if (cli.help("usage: prog [--quick] [--epochs N]")) return 0;
//   const bool quick = cli.flag("--quick");
//   const int64_t epochs = cli.integer("--epochs", quick ? 2 : 10);
//   const std::vector<std::string> files = cli.positionals();  // after the options
//   cli.finish();
//
// Checked forms: flag(name, alias), integer(name, fallback, lo, hi), positive(name, fallback),
// positional(what, fallback) for at most one.
#pragma once
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
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

  // A switch with a second spelling (e.g. "--verbose" and "-v").
  bool flag(const std::string& name, const std::string& alias) {
    const bool a = flag(name), b = flag(alias);  // both, so that neither is left unconsumed
    return a || b;
  }

  // The value after `name` (the last one if repeated), or `fallback`.
  std::string text(const std::string& name, const std::string& fallback) {
    return value_of(name).value_or(fallback);
  }

  int64_t integer(const std::string& name, int64_t fallback) {
    return converted(name, fallback, "an integer", to_integer, [](int64_t) { return true; });
  }

  // An integer in [lo, hi]; the error gives the range.
  int64_t integer(const std::string& name, int64_t fallback, int64_t lo, int64_t hi) {
    return converted(name, fallback, fmt::format("an integer in [{}, {}]", lo, hi), to_integer,
                     [lo, hi](int64_t v) { return lo <= v && v <= hi; });
  }

  double number(const std::string& name, double fallback) {
    return converted(name, fallback, "a number", to_number, [](double) { return true; });
  }

  // A finite number > 0 (a step, a scale, a rate).
  double positive(const std::string& name, double fallback) {
    return converted(name, fallback, "a positive number", to_number,
                     [](double v) { return v > 0 && std::isfinite(v); });
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

  // At most one positional (consumed), or `fallback`; `what` names it in the error.
  std::string positional(const std::string& what, const std::string& fallback = "") {
    const std::vector<std::string> all = positionals();
    if (all.size() > 1)
      throw std::invalid_argument(
          fmt::format("one {} at most, got {}: '{}'", what, all.size(), fmt::join(all, "', '")));
    return all.empty() ? fallback : all[0];
  }

  // Throws for the first argument no accessor consumed.
  void finish() const {
    for (std::size_t i = 0; i < args_.size(); ++i)
      if (!used_[i])
        throw std::invalid_argument(fmt::format("unknown argument '{}' (see --help)", args_[i]));
  }

 private:
  // The value after `name` (the last one if repeated), consumed; nullopt when absent.
  std::optional<std::string> value_of(const std::string& name) {
    std::optional<std::string> value;
    for (std::size_t i = 0; i < args_.size(); ++i) {
      if (used_[i] || args_[i] != name) continue;
      if (i + 1 >= args_.size()) throw std::invalid_argument(fmt::format("{} needs a value", name));
      used_[i] = used_[i + 1] = true;
      value = args_[++i];
    }
    return value;
  }

  // The value after `name` converted (nullopt: not a V) and accepted by `ok`, or `fallback` when
  // absent; anything else is an error naming the option and what it expects.
  template <typename V, typename Convert, typename Ok>
  V converted(const std::string& name, V fallback, const std::string& what, Convert convert,
              Ok ok) {
    const std::optional<std::string> s = value_of(name);
    if (!s) return fallback;
    const std::optional<V> v = convert(*s);
    if (!v || !ok(*v))
      throw std::invalid_argument(fmt::format("{} expects {}, got '{}'", name, what, *s));
    return *v;
  }

  // The whole of s as a number; nullopt for an empty string, anything left over or out of range.
  static std::optional<int64_t> to_integer(const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno != 0) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  static std::optional<double> to_number(const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || errno != 0) return std::nullopt;
    return v;
  }

  std::vector<std::string> args_;
  std::vector<bool> used_;
};

}  // namespace dagrad::base
