// The expression language of dagrad-explain: parsing (precedence, names, errors with a caret),
// values from --at text, and evaluation on the real tape (values, steps, Jacobians).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/explain/expression.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;
namespace ex = dagrad::explain;

namespace {
// Structure of a parsed expression, fully parenthesized: (a + (b * c)).
std::string shape_of(const ex::Expr& e) {
  switch (e.kind) {
    case ex::Expr::Kind::number:
      return fmt::format("{}", e.number);
    case ex::Expr::Kind::name:
      return e.name;
    case ex::Expr::Kind::negate:
      return "(-" + shape_of(*e.args[0]) + ")";
    case ex::Expr::Kind::binary:
      return "(" + shape_of(*e.args[0]) + " " + e.op + " " + shape_of(*e.args[1]) + ")";
    case ex::Expr::Kind::call: {
      std::string s = e.name + "(";
      for (std::size_t i = 0; i < e.args.size(); ++i) s += (i ? ", " : "") + shape_of(*e.args[i]);
      return s + ")";
    }
  }
  return "?";
}
std::string parsed(const std::string& src) { return shape_of(*ex::parse(src).outputs.at(0).expr); }

std::map<std::string, Tensor> at(const std::string& text) { return ex::parse_values(text); }
double value_of(const std::string& program, const std::string& values, std::size_t k = 0) {
  return ex::evaluate(ex::parse(program), at(values)).outputs.at(k).item();
}
}  // namespace

TEST_CASE("explain: precedence and associativity as in mathematics") {
  CHECK(parsed("a + b * c") == "(a + (b * c))");
  CHECK(parsed("a - b - c") == "((a - b) - c)");
  CHECK(parsed("a / b * c") == "((a / b) * c)");
  CHECK(parsed("-x^2") == "(-(x ^ 2))");
  CHECK(parsed("x^y^z") == "(x ^ (y ^ z))");
  CHECK(parsed("2^-x") == "(2 ^ (-x))");
  CHECK(parsed("+x * -y") == "(x * (-y))");
  CHECK(parsed("x @ A @ x") == "((x @ A) @ x)");
  CHECK(parsed("(a + b) * c") == "((a + b) * c)");
  CHECK(parsed("max(a, b + 1e-3)") == "max(a, (b + 0.001))");
  CHECK(parsed("sum(x, 0) + .5") == "(sum(x, 0) + 0.5)");
}

TEST_CASE("explain: definitions, inputs in order of first use, comments and newlines") {
  const ex::Program p = ex::parse("f1 = y*x + z  # first\n\nf2 = f1 * x; exp(w)");
  REQUIRE(p.outputs.size() == 3);
  CHECK(p.outputs[0].name == "f1");
  CHECK(p.outputs[1].name == "f2");
  CHECK(p.outputs[2].name == "f3");  // a lone expression after others
  CHECK(p.inputs == std::vector<std::string>{"y", "x", "z", "w"});
  CHECK(p.text(*p.outputs[0].expr) == "y*x + z");
  CHECK(ex::parse("x*x").outputs[0].name == "f");
  // An output used later is its value, not an input.
  CHECK(value_of("a = x + 1; b = a * a", "x=2", 1) == 9);
}

TEST_CASE("explain: parse errors point at the column with a caret") {
  CHECK(error_of([] { ex::parse("f = (x + 1"); }) ==
        "expected ')' to close the '(' at column 5, found the end at column 11\n"
        "  f = (x + 1\n"
        "            ^");
  CHECK(error_of([] { ex::parse("f = x $ 2"); }) ==
        "unexpected character '$' at column 7\n  f = x $ 2\n        ^");
  CHECK(error_of([] { ex::parse("f = x +"); })
            .starts_with("the expression ends too early at "
                         "column 8"));
  const std::string unknown = error_of([] { ex::parse("f = 2 * foo(x)"); });
  CHECK(unknown.starts_with("unknown function 'foo' (known: abs, atan, atan2, "));
  CHECK(unknown.find("sigmoid") != std::string::npos);
  CHECK(unknown.find("at column 9\n  f = 2 * foo(x)\n          ^") != std::string::npos);
  CHECK(error_of([] { ex::parse("f = exp(x, y)"); }).starts_with("exp takes 1 argument, got 2"));
  CHECK(error_of([] { ex::parse("f = max(x)"); }).starts_with("max takes 2 arguments, got 1"));
  CHECK(error_of([] {
          ex::parse("exp = x");
        }).starts_with("'exp' is a function and cannot name an output"));
  CHECK(error_of([] { ex::parse("f = x; f = y"); }).starts_with("output 'f' is defined twice"));
  CHECK(
      error_of([] { ex::parse("a = b; b = 1"); }).starts_with("'b' is used before its definition"));
  CHECK(error_of([] { ex::parse(" ; # nothing"); }).starts_with("nothing to evaluate"));
  CHECK(error_of([] {
          ex::parse("f = x y");
        }).starts_with("expected ';' or the end after the definition of f, found 'y'"));
  // Nesting is bounded (the tree is evaluated and destroyed recursively): a clean error.
  CHECK(error_of([] {
          ex::parse("f = " + std::string(100000, '(') + "x");
        }).starts_with("the expression is nested too deeply (more than 1000 levels)"));
  CHECK(error_of([] {
          ex::parse("f = " + std::string(5000, '-') + "x");
        }).starts_with("the expression is nested too deeply"));
  std::string chain = "x";
  for (int i = 0; i < 3000; ++i) chain += "+x";
  CHECK(error_of([&] { ex::parse(chain); }).starts_with("the expression is nested too deeply"));
  CHECK(value_of(chain.substr(0, 2 * 900 + 1), "x=1") == 901);  // 900 levels are fine
  // The caret is placed on the right line of a multi-line program.
  CHECK(error_of([] { ex::parse("a = 1\nb = a +* 2"); }).ends_with("  b = a +* 2\n         ^"));
}

TEST_CASE("explain: values for --at") {
  const auto v = at("w1=1, w2=-2.5e-1,x=[1, 2,3], A=[[1,2],[3,4]]");
  CHECK(v.at("w1").dim() == 0);
  CHECK(v.at("w2").item() == -0.25);
  CHECK(v.at("x").shape() == Shape{3});
  CHECK(v.at("A").shape() == Shape{2, 2});
  CHECK(v.at("A").at({1, 0}) == 3);
  CHECK(v.at("A").dtype() == float64);
  CHECK(error_of([] {
          at("x=[[1,2],[3]]");
        }).starts_with("items of one list must have one shape: (1,) after (2,) at column 10"));
  CHECK(error_of([] { at("x=1,x=2"); }).starts_with("'x' is given twice"));
  CHECK(error_of([] { at("x 1"); }).starts_with("expected '=' after x at column 3"));
  CHECK(error_of([] { at("x=[]"); }).starts_with("an empty list has no values"));
  CHECK(error_of([] { at("x=inf"); }).starts_with("the value is not finite"));
  CHECK(error_of([] { at("x=abc"); }).starts_with("expected a number or '['"));
  CHECK(error_of([] { at("x=1 y=2"); }).starts_with("expected ',' between values"));
  CHECK(error_of([] { at(""); }).starts_with("no values given"));
}

TEST_CASE("explain: evaluation on the tape, the homework function three ways") {
  const ex::Program p =
      ex::parse("f1 = exp(exp(w1) + exp(w2)) + sin(exp(w1) + exp(w2)); f2 = w1*w2 + sigmoid(w1)");
  std::map<std::string, Tensor> v = at("w1=1,w2=2");
  for (auto& [name, t] : v) t.requires_grad_();
  const ex::Evaluation e = ex::evaluate(p, v);
  const double w1 = 1, w2 = 2, s = std::exp(w1) + std::exp(w2), sg = 1 / (1 + std::exp(-w1));
  CHECK(e.outputs[0].item() == doctest::Approx(std::exp(s) + std::sin(s)).epsilon(1e-15));
  CHECK(e.outputs[1].item() == doctest::Approx(w1 * w2 + sg).epsilon(1e-15));
  CHECK(e.outputs[0].name() == "f1");
  CHECK(e.steps.front().label == "exp(w1)");
  CHECK(e.steps.back().label == "f2 = w1*w2 + sigmoid(w1)");
  CHECK(e.steps.size() == 12);  // the tape holds exp(w1)+exp(w2) twice: no hidden sharing
  // Gradients by hand: df1/dw_i = (e^s + cos s) e^{w_i}; df2/dw1 = w2 + s(1-s), df2/dw2 = w1.
  const std::vector<Tensor> g1 = grad({e.outputs[0]}, {v["w1"], v["w2"]}, {}, {}, false);
  CHECK(g1[0].item() == doctest::Approx((std::exp(s) + std::cos(s)) * std::exp(w1)).epsilon(1e-14));
  CHECK(g1[1].item() == doctest::Approx((std::exp(s) + std::cos(s)) * std::exp(w2)).epsilon(1e-14));
  const std::vector<Tensor> g2 = grad({e.outputs[1]}, {v["w1"], v["w2"]}, {}, {}, false);
  CHECK(g2[0].item() == doctest::Approx(w2 + sg * (1 - sg)).epsilon(1e-15));
  CHECK(g2[1].item() == 1);
  // Forward mode on the same program gives the same column.
  std::map<std::string, Tensor> d = at("w1=1,w2=2");
  d["w1"] = make_dual(d["w1"], scalar_tensor(1.0, float64));
  const ex::Evaluation fe = ex::evaluate(p, d);
  CHECK(tangent_of(fe.outputs[0]).item() == doctest::Approx(g1[0].item()).epsilon(1e-15));
  CHECK(tangent_of(fe.outputs[1]).item() == doctest::Approx(g2[0].item()).epsilon(1e-15));
}

TEST_CASE("explain: vectors, matrices, reductions, and errors naming the sub-expression") {
  CHECK(value_of("x @ A @ x", "x=[1,2],A=[[1,2],[3,4]]") == 27);
  CHECK(value_of("sum(x * x)", "x=[1,2,3]") == 14);
  CHECK(value_of("mean(x)", "x=[1,2,3]") == 2);
  CHECK(ex::evaluate(ex::parse("sum(A, 0)"), at("A=[[1,2],[3,4]]")).outputs[0].shape() == Shape{2});
  CHECK(value_of("x^2 + 2^x + pow(x, 3) + atan2(x, 1) - max(x, 0) + min(x, 0)", "x=0.5") ==
        doctest::Approx(0.25 + std::sqrt(2.0) + 0.125 + std::atan2(0.5, 1.0) - 0.5));
  CHECK(error_of([] { value_of("x @ y", "x=[1,2],y=[1,2,3]"); }) ==
        "in 'x @ y' (column 1): matmul: shapes (2,) and (3,) are not aligned (2 != 3)");
  CHECK(error_of([] {
          value_of("sum(x, 0.5)", "x=[1,2]");
        }).find("sum: the axis must be a whole number") != std::string::npos);
  CHECK(error_of([] { value_of("x * y", "x=1"); }) ==
        "no value for input 'y': give it with --at y=...");
  // A log of a negative number is NaN, as in PyTorch.
  CHECK(std::isnan(value_of("log(x - 5)", "x=1")));
  // An output that is just an input becomes its own node.
  const ex::Evaluation id = ex::evaluate(ex::parse("g = x"), [] {
    auto v = at("x=3");
    v["x"].requires_grad_();
    return v;
  }());
  CHECK(id.outputs[0].name() == "g");
  CHECK(id.outputs[0].grad_fn() != nullptr);
}
