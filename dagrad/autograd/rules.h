// The one-line math of each op's backward rule, by the name its node carries (Node::name):
// what the graph page shows beside a node. Each file that records ops lists their rules beside
// them, registered before main:
//   const BackwardRules unary_rules{{"exp", "d exp(x)/dx = exp(x)"}, ...};
#pragma once
#include <initializer_list>
#include <string_view>
#include <vector>

namespace dagrad {

struct BackwardRule {
  std::string_view op;    // the node's name
  std::string_view math;  // e.g. "d(ab)/da = b, d(ab)/db = a"
};

// Registers rules; the strings must outlive the program (literals). An op registered twice is
// a programming error: std::logic_error, which at static initialization ends the program.
struct BackwardRules {
  BackwardRules(std::initializer_list<BackwardRule> rules);
};

// The math of op's rule, or empty when no file registered one.
std::string_view backward_rule(std::string_view op);

// Every registered rule, sorted by op name.
std::vector<BackwardRule> backward_rules();

}  // namespace dagrad
