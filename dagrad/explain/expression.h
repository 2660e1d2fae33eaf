// A small expression language for exploring derivatives (dagrad-explain): named outputs over
// named inputs, evaluated on dagrad's own tape, so the tape, the backward order, tangents and
// adjoints the explorer shows are the library's, not a second evaluator's.
//
//   f1 = exp(exp(w1) + exp(w2)) + sin(exp(w1) + exp(w2)); f2 = w1*w2 + sigmoid(w1)
//
// Grammar (definitions separated by ';' or newlines; '#' starts a comment):
//   definition := name '=' expr            (a lone expr is named "f")
//   expr       := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '@') unary)*
//   unary      := ('-' | '+') unary | power
//   power      := primary ('^' unary)?     (right-associative: -x^2 = -(x^2), 2^-x works)
//   primary    := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
// A name is an earlier output or an input; every other name is an input, in order of first use.
// Functions: every unary op of dagrad (exp, log, sin, sigmoid, ...), max/min (elementwise),
// pow, atan2, matmul, sum and mean (of everything, or over an axis: sum(x, 0)).
//
// Values come from text like `w1=1,w2=2` or `x=[1,2,3],A=[[1,2],[3,4]]` (float64).
// Errors are std::invalid_argument; a parse error shows the source with a caret under the
// column, an unknown function lists the known ones.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::explain {

struct Expr {
  enum class Kind { number, name, negate, binary, call };
  Kind kind = Kind::number;
  double number = 0;
  std::string name;  // name, or the function of a call
  char op = 0;       // binary: + - * / @ ^
  std::vector<std::unique_ptr<Expr>> args;
  std::size_t begin = 0, end = 0;  // the source text it came from: [begin, end)
  int depth = 1;                   // of the tree below it (bounded by the parser)
};

struct Definition {
  std::string name;
  std::unique_ptr<Expr> expr;
};

struct Program {
  std::string source;
  std::vector<Definition> outputs;
  std::vector<std::string> inputs;  // names that are not outputs, in order of first use
  std::string text(const Expr& e) const { return source.substr(e.begin, e.end - e.begin); }
};

Program parse(std::string_view source);

// Input values: `name=value` pairs separated by commas (outside brackets); a value is a
// number, [a, b, ...] or [[...], [...]] (rows of equal length). float64 tensors.
std::map<std::string, Tensor> parse_values(std::string_view text);

// The names parse() accepts as functions, sorted.
std::vector<std::string> function_names();

// One evaluated sub-expression: its source text and its tensor (every op result, in the order
// evaluation created them; inputs and numbers are not steps).
struct Step {
  std::string label;
  Tensor value;
};

struct Evaluation {
  std::vector<Tensor> outputs;  // one per definition
  std::vector<Step> steps;
};

// Evaluates the program on `inputs` (every input of the program must be there; a missing one
// is an error naming it). Op results are named by their source text, so tapes and graphs
// show them; an error inside an op names the sub-expression and its column.
Evaluation evaluate(const Program& program, const std::map<std::string, Tensor>& inputs);

}  // namespace dagrad::explain
