#include "dagrad/explain/expression.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>

#include "dagrad/autograd/autograd.h"

namespace dagrad::explain {

namespace {

// ---------------------------------------------------------------- functions

using Unary = std::function<Tensor(const Tensor&)>;
using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;

const std::map<std::string, Unary>& unary_functions() {
  static const std::map<std::string, Unary> table = {
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(x); }},
      {"log1p", [](const Tensor& x) { return log1p(x); }},
      {"log2", [](const Tensor& x) { return log2(x); }},
      {"expm1", [](const Tensor& x) { return expm1(x); }},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"sign", [](const Tensor& x) { return sign(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }},
      {"cos", [](const Tensor& x) { return cos(x); }},
      {"tan", [](const Tensor& x) { return tan(x); }},
      {"atan", [](const Tensor& x) { return atan(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"elu", [](const Tensor& x) { return elu(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"erf", [](const Tensor& x) { return erf(x); }},
      {"floor", [](const Tensor& x) { return floor(x); }},
      {"ceil", [](const Tensor& x) { return ceil(x); }},
      {"round", [](const Tensor& x) { return round(x); }},
      {"neg", [](const Tensor& x) { return -x; }},
  };
  return table;
}

const std::map<std::string, Binary>& binary_functions() {
  static const std::map<std::string, Binary> table = {
      {"max", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"min", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
      {"atan2", [](const Tensor& a, const Tensor& b) { return atan2(a, b); }},
      {"matmul", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }},
  };
  return table;
}

bool is_reduction(const std::string& f) { return f == "sum" || f == "mean"; }

// ---------------------------------------------------------------- errors

// "<what> at column N" with the source line and a caret under the column.
[[noreturn]] void fail_at(std::string_view source, std::size_t pos, const std::string& what) {
  // The line holding pos, and the column within it (1-based).
  const std::size_t line_start = source.rfind('\n', pos == 0 ? 0 : pos - 1);
  const std::size_t from = line_start == std::string_view::npos || pos == 0 ? 0 : line_start + 1;
  std::size_t to = source.find('\n', from);
  if (to == std::string_view::npos) to = source.size();
  const std::size_t column = pos - from;
  throw std::invalid_argument(fmt::format("{} at column {}\n  {}\n  {}^", what, column + 1,
                                          source.substr(from, to - from),
                                          std::string(column, ' ')));
}

// ---------------------------------------------------------------- lexer

struct Token {
  enum class Kind { number, name, symbol, end } kind = Kind::end;
  std::string text;
  double number = 0;
  std::size_t pos = 0;
};

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '#') {  // a comment runs to the end of the line
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '\n' || c == ';') {
      out.push_back({Token::Kind::symbol, ";", 0, i++});
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      const std::string rest(s.substr(i));
      char* stop = nullptr;
      const double v = std::strtod(rest.c_str(), &stop);
      const std::size_t n = static_cast<std::size_t>(stop - rest.c_str());
      if (!std::isfinite(v)) fail_at(s, i, fmt::format("number '{}' is too large", s.substr(i, n)));
      out.push_back({Token::Kind::number, std::string(s.substr(i, n)), v, i});
      i += n;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Kind::name, std::string(s.substr(i, j - i)), 0, i});
      i = j;
      continue;
    }
    if (std::string_view("+-*/^@(),=").find(c) != std::string_view::npos) {
      out.push_back({Token::Kind::symbol, std::string(1, c), 0, i++});
      continue;
    }
    fail_at(s, i, fmt::format("unexpected character '{}'", c));
  }
  out.push_back({Token::Kind::end, "", 0, s.size()});
  return out;
}

// ---------------------------------------------------------------- parser

class Parser {
 public:
  explicit Parser(std::string_view source) : src_(source), tokens_(tokenize(source)) {}

  Program program() {
    Program p;
    p.source = std::string(src_);
    while (true) {
      while (is(";")) ++at_;
      if (peek().kind == Token::Kind::end) break;
      p.outputs.push_back(definition(p));
      if (!is(";") && peek().kind != Token::Kind::end)
        fail(fmt::format("expected ';' or the end after the definition of {}, found {}",
                         p.outputs.back().name, describe(peek())));
    }
    if (p.outputs.empty()) fail("nothing to evaluate: write an expression such as  f = x*y");
    collect_inputs(p);
    return p;
  }

 private:
  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(at_ + ahead, tokens_.size() - 1)];
  }
  bool is(const char* symbol, std::size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::symbol && peek(ahead).text == symbol;
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(src_, peek().pos, what); }
  static std::string describe(const Token& t) {
    if (t.kind == Token::Kind::end) return "the end";
    if (t.text == ";") return "a new definition";
    return "'" + t.text + "'";
  }
  void expect(const char* symbol, const std::string& context) {
    if (!is(symbol))
      fail(fmt::format("expected '{}' {}, found {}", symbol, context, describe(peek())));
    ++at_;
  }

  Definition definition(const Program& p) {
    Definition d;
    if (peek().kind == Token::Kind::name && is("=", 1)) {
      d.name = peek().text;
      if (unary_functions().count(d.name) || binary_functions().count(d.name) ||
          is_reduction(d.name))
        fail(fmt::format("'{}' is a function and cannot name an output", d.name));
      for (const Definition& other : p.outputs)
        if (other.name == d.name) fail(fmt::format("output '{}' is defined twice", d.name));
      at_ += 2;
    } else {
      d.name = p.outputs.empty() ? "f" : fmt::format("f{}", p.outputs.size() + 1);
    }
    d.expr = expr();
    return d;
  }

  // Every node's depth is bounded, so that evaluating and destroying the tree (both recursive)
  // cannot exhaust the stack however hostile the text.
  static constexpr int max_depth = 1000;
  int depth_of(std::vector<std::unique_ptr<Expr>>& args) const {
    int d = 0;
    for (const auto& a : args) d = std::max(d, a->depth);
    if (d + 1 > max_depth)
      fail(fmt::format("the expression is nested too deeply (more than {} levels)", max_depth));
    return d + 1;
  }

  std::unique_ptr<Expr> binary(char op, std::unique_ptr<Expr> a, std::unique_ptr<Expr> b) {
    auto e = std::make_unique<Expr>();
    e->kind = Expr::Kind::binary;
    e->op = op;
    e->begin = a->begin;
    e->end = b->end;
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    e->depth = depth_of(e->args);
    return e;
  }

  std::unique_ptr<Expr> expr() {
    const Nesting guard(*this);
    auto e = term();
    while (is("+") || is("-")) {
      const char op = peek().text[0];
      ++at_;
      e = binary(op, std::move(e), term());
    }
    return e;
  }

  std::unique_ptr<Expr> term() {
    auto e = unary();
    while (is("*") || is("/") || is("@")) {
      const char op = peek().text[0];
      ++at_;
      e = binary(op, std::move(e), unary());
    }
    return e;
  }

  std::unique_ptr<Expr> unary() {
    const Nesting guard(*this);
    if (is("-") || is("+")) {
      const bool minus = is("-");
      const std::size_t begin = peek().pos;
      ++at_;
      auto inner = unary();
      if (!minus) {
        inner->begin = begin;
        return inner;
      }
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::negate;
      e->begin = begin;
      e->end = inner->end;
      e->args.push_back(std::move(inner));
      e->depth = depth_of(e->args);
      return e;
    }
    auto base = primary();
    if (!is("^")) return base;
    ++at_;
    return binary('^', std::move(base), unary());
  }

  std::unique_ptr<Expr> primary() {
    const Token t = peek();
    auto e = std::make_unique<Expr>();
    e->begin = t.pos;
    if (t.kind == Token::Kind::number) {
      ++at_;
      e->kind = Expr::Kind::number;
      e->number = t.number;
      e->end = t.pos + t.text.size();
      return e;
    }
    if (is("(")) {
      ++at_;
      auto inner = expr();
      const std::size_t close = peek().pos;
      expect(")", "to close the '(' at column " + std::to_string(t.pos + 1));
      inner->begin = t.pos;  // the parentheses belong to its text
      inner->end = close + 1;
      return inner;
    }
    if (t.kind != Token::Kind::name)
      fail(t.kind == Token::Kind::end
               ? "the expression ends too early"
               : fmt::format("expected a number, a name or '(', found {}", describe(t)));
    ++at_;
    e->name = t.text;
    e->end = t.pos + t.text.size();
    if (!is("(")) {
      e->kind = Expr::Kind::name;
      return e;
    }
    check_function(t);
    ++at_;
    e->kind = Expr::Kind::call;
    e->args.push_back(expr());
    while (is(",")) {
      ++at_;
      e->args.push_back(expr());
    }
    const std::size_t close = peek().pos;
    expect(")", fmt::format("after the arguments of {}", t.text));
    e->end = close + 1;
    e->depth = depth_of(e->args);
    check_arity(*e);
    return e;
  }

  void check_function(const Token& t) const {
    if (unary_functions().count(t.text) || binary_functions().count(t.text) || is_reduction(t.text))
      return;
    fail_at(src_, t.pos,
            fmt::format("unknown function '{}' (known: {})", t.text,
                        fmt::join(function_names(), ", ")));
  }

  void check_arity(const Expr& call) const {
    const std::size_t n = call.args.size();
    const std::string& f = call.name;
    const bool ok = unary_functions().count(f)    ? n == 1
                    : binary_functions().count(f) ? n == 2
                                                  : n == 1 || n == 2;  // sum, mean
    if (!ok) {
      const std::string want = unary_functions().count(f)    ? "1 argument"
                               : binary_functions().count(f) ? "2 arguments"
                                                             : "1 or 2 arguments (x[, axis])";
      fail_at(src_, call.begin, fmt::format("{} takes {}, got {}", f, want, n));
    }
  }

  // Names that are not outputs defined before their use are inputs, in order of first use.
  static void collect_inputs(Program& p) {
    std::vector<std::string> defined;
    std::function<void(const Expr&)> walk = [&](const Expr& e) {
      if (e.kind == Expr::Kind::name &&
          std::find(defined.begin(), defined.end(), e.name) == defined.end() &&
          std::find(p.inputs.begin(), p.inputs.end(), e.name) == p.inputs.end())
        p.inputs.push_back(e.name);
      for (const auto& a : e.args) walk(*a);
    };
    for (const Definition& d : p.outputs) {
      walk(*d.expr);
      defined.push_back(d.name);
    }
    for (const Definition& d : p.outputs)
      if (std::find(p.inputs.begin(), p.inputs.end(), d.name) != p.inputs.end())
        throw std::invalid_argument(fmt::format(
            "'{}' is used before its definition (define an output before using it)", d.name));
  }

  // Counts the parser's own recursion (parentheses, calls, unary signs) against max_depth.
  struct Nesting {
    Parser& p;
    explicit Nesting(Parser& parser) : p(parser) {
      if (++p.nesting_ > 2 * max_depth)
        p.fail(fmt::format("the expression is nested too deeply (more than {} levels)", max_depth));
    }
    ~Nesting() { --p.nesting_; }
  };

  std::string_view src_;
  std::vector<Token> tokens_;
  std::size_t at_ = 0;
  int nesting_ = 0;
};

// ---------------------------------------------------------------- values

// A value: a number, or nested brackets of numbers with rows of equal length.
class ValueReader {
 public:
  ValueReader(std::string_view text, std::size_t pos) : s_(text), i_(pos) {}
  std::size_t pos() const { return i_; }

  Tensor read() {
    std::vector<double> flat;
    const Shape shape = item(flat, 0);
    return tensor(flat, shape, float64);
  }

 private:
  void skip() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(s_, i_, what); }

  // Appends the values of one item (a number or a list) and returns its shape; the items of
  // a list must all have the same shape.
  Shape item(std::vector<double>& flat, int depth) {
    skip();
    if (i_ < s_.size() && s_[i_] == '[') {
      if (depth >= Shape::max_dims) fail("lists nested too deeply");
      ++i_;
      skip();
      if (i_ < s_.size() && s_[i_] == ']') fail("an empty list has no values");
      std::optional<Shape> inner;
      int64_t count = 0;
      while (true) {
        const std::size_t at = i_;
        const Shape s = item(flat, depth + 1);
        if (inner && s != *inner)
          fail_at(s_, at,
                  fmt::format("items of one list must have one shape: {} after {}", to_string(s),
                              to_string(*inner)));
        inner = s;
        ++count;
        skip();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') break;
        fail("expected ',' or ']' in a list");
      }
      ++i_;
      Shape shape{count};
      for (int64_t d : *inner) shape.push_back(d);
      return shape;
    }
    const std::string rest(s_.substr(i_));
    char* stop = nullptr;
    const double v = std::strtod(rest.c_str(), &stop);
    if (stop == rest.c_str()) fail("expected a number or '['");
    if (!std::isfinite(v)) fail("the value is not finite");
    flat.push_back(v);
    i_ += static_cast<std::size_t>(stop - rest.c_str());
    return Shape{};
  }

  std::string_view s_;
  std::size_t i_;
};

// ---------------------------------------------------------------- evaluation

class Evaluator {
 public:
  Evaluator(const Program& p, const std::map<std::string, Tensor>& inputs)
      : p_(p), values_(inputs) {}

  Evaluation run() {
    for (const std::string& name : p_.inputs)
      if (!values_.count(name))
        throw std::invalid_argument(
            fmt::format("no value for input '{}': give it with --at {}=...", name, name));
    Evaluation ev;
    for (const Definition& d : p_.outputs) {
      Tensor y = eval(*d.expr);
      if (!y.grad_fn() && y.requires_grad()) y = y.clone();  // an input itself: a node to name
      y.set_name(d.name);
      if (!steps_.empty() && steps_.back().value.impl_ptr() == y.impl_ptr())
        steps_.back().label = d.name + " = " + steps_.back().label;
      values_[d.name] = y;
      ev.outputs.push_back(y);
    }
    ev.steps = std::move(steps_);
    return ev;
  }

 private:
  Tensor eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::number:
        return scalar_tensor(e.number, float64);
      case Expr::Kind::name:
        return values_.at(e.name);
      default:
        break;
    }
    std::vector<Tensor> args;
    for (const auto& a : e.args) args.push_back(eval(*a));
    Tensor out;
    try {
      out = apply(e, args);
    } catch (const std::exception& err) {
      throw std::invalid_argument(
          fmt::format("in '{}' (column {}): {}", p_.text(e), e.begin + 1, err.what()));
    }
    const std::string label = p_.text(e);
    out.set_name(label);
    steps_.push_back({label, out});
    return out;
  }

  Tensor apply(const Expr& e, const std::vector<Tensor>& a) const {
    if (e.kind == Expr::Kind::negate) return -a[0];
    if (e.kind == Expr::Kind::binary) {
      switch (e.op) {
        case '+':
          return a[0] + a[1];
        case '-':
          return a[0] - a[1];
        case '*':
          return a[0] * a[1];
        case '/':
          return a[0] / a[1];
        case '@':
          return matmul(a[0], a[1]);
        default:  // '^': a constant exponent keeps pow's scalar rule (x^2 at x = 0 is fine)
          return e.args[1]->kind == Expr::Kind::number ? pow(a[0], e.args[1]->number)
                                                       : pow(a[0], a[1]);
      }
    }
    if (auto u = unary_functions().find(e.name); u != unary_functions().end())
      return u->second(a[0]);
    if (auto b = binary_functions().find(e.name); b != binary_functions().end())
      return b->second(a[0], a[1]);
    // sum / mean, of everything or over one axis (a whole number)
    if (a.size() == 1) return e.name == "sum" ? sum(a[0]) : mean(a[0]);
    const double axis = a[1].numel() == 1 ? a[1].item() : NAN;
    if (!(axis == std::floor(axis)) || std::abs(axis) > 64)
      throw std::invalid_argument(fmt::format("{}: the axis must be a whole number", e.name));
    const auto ax = static_cast<int64_t>(axis);
    return e.name == "sum" ? sum(a[0], ax) : mean(a[0], ax);
  }

  const Program& p_;
  std::map<std::string, Tensor> values_;
  std::vector<Step> steps_;
};

}  // namespace

Program parse(std::string_view source) { return Parser(source).program(); }

std::vector<std::string> function_names() {
  std::vector<std::string> names;
  for (const auto& [n, f] : unary_functions()) names.push_back(n);
  for (const auto& [n, f] : binary_functions()) names.push_back(n);
  names.push_back("mean");
  names.push_back("sum");
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, Tensor> parse_values(std::string_view text) {
  std::map<std::string, Tensor> out;
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && text[i] == ' ') ++i;
  };
  while (true) {
    skip();
    if (i >= text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
      ++i;
    if (i == start || std::isdigit(static_cast<unsigned char>(text[start])))
      fail_at(text, start, "expected an input name");
    const std::string name(text.substr(start, i - start));
    skip();
    if (i >= text.size() || text[i] != '=') fail_at(text, i, "expected '=' after " + name);
    ++i;
    ValueReader reader(text, i);
    Tensor v = reader.read();
    if (out.count(name)) fail_at(text, start, fmt::format("'{}' is given twice", name));
    out[name] = v.set_name(name);
    i = reader.pos();
    skip();
    if (i < text.size() && text[i] != ',') fail_at(text, i, "expected ',' between values");
    if (i < text.size()) ++i;
  }
  if (out.empty()) throw std::invalid_argument("no values given (write them like w1=1,w2=2)");
  return out;
}

Evaluation evaluate(const Program& program, const std::map<std::string, Tensor>& inputs) {
  return Evaluator(program, inputs).run();
}

}  // namespace dagrad::explain
