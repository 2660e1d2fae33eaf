#include "dagrad/autograd/rules.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

namespace dagrad {

namespace {
// Filled during static initialization (one thread), read-only afterwards. Function-local, so
// it exists before the first file's rules register, in whatever order the files initialize.
std::map<std::string_view, std::string_view>& registry() {
  static std::map<std::string_view, std::string_view> rules;
  return rules;
}
}  // namespace

BackwardRules::BackwardRules(std::initializer_list<BackwardRule> rules) {
  for (const BackwardRule& r : rules)
    if (!registry().emplace(r.op, r.math).second)
      throw std::logic_error(fmt::format("backward rule of '{}' registered twice", r.op));
}

std::string_view backward_rule(std::string_view op) {
  const auto it = registry().find(op);
  return it != registry().end() ? it->second : std::string_view();
}

std::vector<BackwardRule> backward_rules() {
  std::vector<BackwardRule> all;
  for (const auto& [op, math] : registry()) all.push_back({op, math});
  return all;
}

}  // namespace dagrad
