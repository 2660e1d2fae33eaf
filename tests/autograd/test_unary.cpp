#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/op_test_util.h"

using namespace dagrad;

namespace {

using V = std::vector<double>;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

using dagrad::test_util::check_values;
using dagrad::test_util::create_graph;

Tensor t64(const V& v, const Shape& s = {-1}) { return tensor(v, s, float64); }
Tensor leaf(const V& v, const Shape& s = {-1}) { return t64(v, s).requires_grad_(); }

Tensor dual(Tensor x, const Tensor& v) {
  x.impl().tangent = v.impl_ptr();
  return x;
}

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

double sig(double x) { return 1 / (1 + std::exp(-x)); }

const double pi = std::acos(-1.0);
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }  // normal CDF
double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * pi); }
// gelu's tanh approximation: tanh(u(x)), u = sqrt(2/pi) (x + 0.044715 x^3)
double gelu_u(double x) { return std::sqrt(2 / pi) * (x + 0.044715 * x * x * x); }
double gelu_du(double x) { return std::sqrt(2 / pi) * (1 + 3 * 0.044715 * x * x); }
double gelu_d2u(double x) { return std::sqrt(2 / pi) * 6 * 0.044715 * x; }

// One unary op with its value, first and second derivatives (by hand), and a domain on
// which it is smooth.
struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> f, df, d2f;
  V points;
};

std::vector<UnaryCase> cases() {
  return {
      {"exp",
       [](const Tensor& x) { return exp(x); },
       [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); },
       {-2, -0.3, 0, 0.7, 2.5}},
      {"log",
       [](const Tensor& x) { return log(x); },
       [](double x) { return std::log(x); },
       [](double x) { return 1 / x; },
       [](double x) { return -1 / (x * x); },
       {0.1, 0.5, 1, 2, 7}},
      {"log1p",
       [](const Tensor& x) { return log1p(x); },
       [](double x) { return std::log1p(x); },
       [](double x) { return 1 / (1 + x); },
       [](double x) { return -1 / ((1 + x) * (1 + x)); },
       {-0.5, -1e-3, 0, 0.5, 3}},
      {"sqrt",
       [](const Tensor& x) { return sqrt(x); },
       [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); },
       [](double x) { return -0.25 / (x * std::sqrt(x)); },
       {0.04, 0.5, 1, 2, 9}},
      {"abs",
       [](const Tensor& x) { return abs(x); },
       [](double x) { return std::abs(x); },
       [](double x) { return x > 0 ? 1.0 : -1.0; },
       [](double) { return 0.0; },
       {-3, -0.2, 0.1, 0.5, 2}},
      {"sin",
       [](const Tensor& x) { return sin(x); },
       [](double x) { return std::sin(x); },
       [](double x) { return std::cos(x); },
       [](double x) { return -std::sin(x); },
       {-2, -0.5, 0, 1, 3}},
      {"cos",
       [](const Tensor& x) { return cos(x); },
       [](double x) { return std::cos(x); },
       [](double x) { return -std::sin(x); },
       [](double x) { return -std::cos(x); },
       {-2, -0.5, 0, 1, 3}},
      {"tanh",
       [](const Tensor& x) { return tanh(x); },
       [](double x) { return std::tanh(x); },
       [](double x) { return 1 - std::tanh(x) * std::tanh(x); },
       [](double x) {
         const double t = std::tanh(x);
         return -2 * t * (1 - t * t);
       },
       {-3, -0.5, 0, 0.8, 2}},
      {"sigmoid",
       [](const Tensor& x) { return sigmoid(x); },
       [](double x) { return sig(x); },
       [](double x) { return sig(x) * (1 - sig(x)); },
       [](double x) { return sig(x) * (1 - sig(x)) * (1 - 2 * sig(x)); },
       {-4, -0.5, 0, 0.8, 3}},
      {"relu",
       [](const Tensor& x) { return relu(x); },
       [](double x) { return x > 0 ? x : 0.0; },
       [](double x) { return x > 0 ? 1.0 : 0.0; },
       [](double) { return 0.0; },
       {-2, -0.1, 0.3, 1, 4}},
      {"leaky_relu",
       [](const Tensor& x) { return leaky_relu(x, 0.1); },
       [](double x) { return x > 0 ? x : 0.1 * x; },
       [](double x) { return x > 0 ? 1.0 : 0.1; },
       [](double) { return 0.0; },
       {-2, -0.1, 0.3, 1, 4}},
      {"leaky_relu default",
       [](const Tensor& x) { return leaky_relu(x); },
       [](double x) { return x > 0 ? x : 0.01 * x; },
       [](double x) { return x > 0 ? 1.0 : 0.01; },
       [](double) { return 0.0; },
       {-2, -0.1, 0.3}},
      {"softplus",
       [](const Tensor& x) { return softplus(x); },
       [](double x) { return std::log1p(std::exp(x)); },
       [](double x) { return sig(x); },
       [](double x) { return sig(x) * (1 - sig(x)); },
       {-5, -0.5, 0, 1.5, 6}},
      {"erf",
       [](const Tensor& x) { return erf(x); },
       [](double x) { return std::erf(x); },
       [](double x) { return 2 / std::sqrt(pi) * std::exp(-x * x); },
       [](double x) { return -4 * x / std::sqrt(pi) * std::exp(-x * x); },
       {-2, -0.4, 0, 0.7, 1.8}},
      {"gelu",
       [](const Tensor& x) { return gelu(x); },
       [](double x) { return x * Phi(x); },
       [](double x) { return Phi(x) + x * phi(x); },
       [](double x) { return phi(x) * (2 - x * x); },
       {-3, -0.5, 0, 0.8, 2}},
      {"gelu tanh",
       [](const Tensor& x) { return gelu(x, "tanh"); },
       [](double x) { return 0.5 * x * (1 + std::tanh(gelu_u(x))); },
       [](double x) {
         const double t = std::tanh(gelu_u(x));
         return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * gelu_du(x);
       },
       [](double x) {
         const double t = std::tanh(gelu_u(x)), du = gelu_du(x);
         return (1 - t * t) * du + 0.5 * x * (1 - t * t) * (gelu_d2u(x) - 2 * t * du * du);
       },
       {-3, -0.5, 0, 0.8, 2}},
      {"elu",
       [](const Tensor& x) { return elu(x); },
       [](double x) { return x > 0 ? x : std::expm1(x); },
       [](double x) { return x > 0 ? 1 : std::exp(x); },
       [](double x) { return x > 0 ? 0 : std::exp(x); },
       {-3, -0.5, -1e-3, 0.8, 2}},
      {"elu alpha 0.5",
       [](const Tensor& x) { return elu(x, 0.5); },
       [](double x) { return x > 0 ? x : 0.5 * std::expm1(x); },
       [](double x) { return x > 0 ? 1 : 0.5 * std::exp(x); },
       [](double x) { return x > 0 ? 0 : 0.5 * std::exp(x); },
       {-3, -0.5, 0.8}},
      {"silu",
       [](const Tensor& x) { return silu(x); },
       [](double x) { return x * sig(x); },
       [](double x) { return sig(x) * (1 + x * (1 - sig(x))); },
       [](double x) { return sig(x) * (1 - sig(x)) * (2 + x * (1 - 2 * sig(x))); },
       {-4, -0.5, 0, 0.8, 3}},
      {"tan",
       [](const Tensor& x) { return tan(x); },
       [](double x) { return std::tan(x); },
       [](double x) { return 1 + std::tan(x) * std::tan(x); },
       [](double x) { return 2 * std::tan(x) * (1 + std::tan(x) * std::tan(x)); },
       {-1.2, -0.3, 0, 0.5, 1.1}},
      {"atan",
       [](const Tensor& x) { return atan(x); },
       [](double x) { return std::atan(x); },
       [](double x) { return 1 / (1 + x * x); },
       [](double x) { return -2 * x / ((1 + x * x) * (1 + x * x)); },
       {-4, -0.5, 0, 0.8, 3}},
      {"rsqrt",
       [](const Tensor& x) { return rsqrt(x); },
       [](double x) { return 1 / std::sqrt(x); },
       [](double x) { return -0.5 * std::pow(x, -1.5); },
       [](double x) { return 0.75 * std::pow(x, -2.5); },
       {0.04, 0.5, 1, 2, 9}},
      {"expm1",
       [](const Tensor& x) { return expm1(x); },
       [](double x) { return std::expm1(x); },
       [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); },
       {-2, -1e-3, 0, 0.7, 2.5}},
      {"log2",
       [](const Tensor& x) { return log2(x); },
       [](double x) { return std::log2(x); },
       [](double x) { return 1 / (x * std::log(2.0)); },
       [](double x) { return -1 / (x * x * std::log(2.0)); },
       {0.1, 0.5, 1, 2, 7}},
  };
}

}  // namespace

TEST_CASE("unary: values of every op") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(c.name);
    V want;
    for (double x : c.points) want.push_back(c.f(x));
    Tensor y = c.op(t64(c.points));
    CHECK(y.dtype() == float64);
    check_values(y, want, 1e-14);
    // float32 in, float32 out, the same values to float precision.
    Tensor y32 = c.op(tensor(c.points));
    CHECK(y32.dtype() == float32);
    check_values(y32, want, 1e-6);
    // Shapes are kept, including 0-d and empty tensors.
    CHECK(c.op(t64(c.points).reshape({-1, 1})).shape() ==
          Shape{static_cast<int64_t>(c.points.size()), 1});
    CHECK(c.op(scalar_tensor(0.5, float64)).shape() == Shape{});
    CHECK(c.op(zeros({0, 2}, float64)).shape() == Shape{0, 2});
  }
}

TEST_CASE("unary: values at the special points") {
  check_values(sign(t64({-3, -0.0, 0, 2.5})), {-1, 0, 0, 1});
  check_values(abs(t64({-0.0, -2})), {0, 2});
  check_values(relu(t64({-1, 0, 2})), {0, 0, 2});
  check_values(leaky_relu(t64({-1, 0, 2}), 0.2), {-0.2, 0, 2});
  check_values(log(t64({0, -1})), {-INFINITY, NAN});
  check_values(sqrt(t64({0, -1})), {0, NAN});
  check_values(log1p(t64({-1})), {-INFINITY});
  check_values(sigmoid(t64({0})), {0.5});
  check_values(softplus(t64({0})), {std::log(2.0)});
  check_values(exp(t64({0, 1})), {1, std::exp(1.0)});
  // log1p is accurate near 0 where log(1 + x) is not.
  CHECK(log1p(t64({1e-12})).item() == doctest::Approx(1e-12).epsilon(1e-10));
}

TEST_CASE("unary: floor, ceil and round (halves to even) are piecewise constant") {
  const V x = {-2.5, -1.5, -0.5, -0.2, 0, 0.5, 1.5, 2.5, 2.7};
  check_values(floor(t64(x)), {-3, -2, -1, -1, 0, 0, 1, 2, 2});
  check_values(ceil(t64(x)), {-2, -1, -0, -0, 0, 1, 2, 3, 3});
  check_values(round(t64(x)), {-2, -2, -0, -0, 0, 0, 2, 2, 3});
  check_values(round(tensor({0.5, 1.5, -2.5})), {0, 2, -2});  // float32 too
  check_values(round(t64({INFINITY, -INFINITY, NAN})), {INFINITY, -INFINITY, NAN});
  for (auto op :
       {+[](const Tensor& t) { return floor(t); }, +[](const Tensor& t) { return ceil(t); },
        +[](const Tensor& t) { return round(t); }}) {
    Tensor v = leaf({-1.3, 0.5, 2});
    (op(v) * v).sum().backward();  // d(op(v) v)/dv = op(v): op's own gradient is 0
    check_values(v.grad(), op(v.detach()).to_vector());
    Tensor y = op(dual(t64({0.3, 1.7}), t64({1, 1})));
    check_values(y.tangent(), {0, 0});
  }
}

TEST_CASE("unary: gelu names its approximations, and the tanh one is close to the exact") {
  CHECK_THROWS_WITH_AS(gelu(t64({1}), "erf"),
                       "gelu: approximate must be \"none\" or \"tanh\", got \"erf\"",
                       std::invalid_argument);
  Tensor x = linspace(-6, 6, 121, float64);
  // The tanh form differs from x Phi(x) by less than 5e-4 everywhere (a known bound).
  CHECK(max(abs(gelu(x) - gelu(x, "tanh"))).item() < 5e-4);
  // Far tails: 0 on the left, x on the right, no NaN from the exp/erf at +-40.
  check_values(gelu(t64({-40, 40})), {0, 40});
  check_values(gelu(t64({-40, 40}), "tanh"), {0, 40});
  check_values(silu(t64({-800, 800})), {0, 800});
  check_values(elu(t64({-800})), {-1});
}

TEST_CASE("unary: sigmoid, softplus and tanh are stable at +-1000") {
  for (Dtype dt : {float32, float64}) {
    CAPTURE(dtype_name(dt));
    Tensor x = tensor({-1000, -50, 50, 1000}, {-1}, dt).requires_grad_();
    Tensor s = sigmoid(x);
    CHECK(all_finite(s));
    check_values(s, {0, sig(-50), 1, 1}, 1e-6);
    Tensor sp = softplus(x);
    CHECK(all_finite(sp));
    check_values(sp, {0, std::exp(-50.0), 50, 1000}, 1e-6);
    Tensor th = tanh(x);
    check_values(th, {-1, -1, 1, 1});
    (s + sp + th).sum().backward();
    CHECK(all_finite(x.grad()));
    // d sigmoid + d softplus + d tanh = s(1-s) + s + (1 - t^2)
    check_values(x.grad(), {0, 2 * sig(-50), 1, 1}, 1e-6);
    CHECK(x.grad().to_vector()[1] == doctest::Approx(2 * sig(-50)).scale(0).epsilon(1e-5));
    CHECK(sp.to_vector()[1] == doctest::Approx(std::exp(-50.0)).scale(0).epsilon(1e-5));
  }
  // Second derivatives stay finite too.
  Tensor x = leaf({-1000, 1000});
  Tensor g = grad({(sigmoid(x) + softplus(x)).sum()}, {x}, {}, create_graph())[0];
  Tensor h = grad({g.sum()}, {x})[0];
  CHECK(all_finite(h));
  check_values(h, {0, 0});
}

TEST_CASE("unary: gradients at the kinks follow PyTorch") {
  Tensor x = leaf({-1, 0, 2});
  abs(x).sum().backward();
  check_values(x.grad(), {-1, 0, 1});
  x.zero_grad();
  relu(x).sum().backward();
  check_values(x.grad(), {0, 0, 1});
  x.zero_grad();
  leaky_relu(x, 0.1).sum().backward();
  check_values(x.grad(), {0.1, 0.1, 1});
  x.zero_grad();
  sign(x).sum().backward();
  check_values(x.grad(), {0, 0, 0});
  Tensor z = leaf({0});
  sqrt(z).sum().backward();
  check_values(z.grad(), {INFINITY});
  // elu at 0: first derivative alpha (the x <= 0 side), second derivative 0 (PyTorch's masks).
  Tensor e = leaf({0, 0});
  Tensor ge = grad({elu(e, 1.5).sum()}, {e}, {}, create_graph())[0];
  check_values(ge, {1.5, 1.5});
  check_values(grad({ge.sum()}, {e})[0], {0, 0});
}

TEST_CASE("unary: analytic first derivatives") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(c.name);
    Tensor x = leaf(c.points);
    c.op(x).sum().backward();
    V want;
    for (double p : c.points) want.push_back(c.df(p));
    check_values(x.grad(), want, 1e-13);
  }
}

TEST_CASE("unary: gradcheck in float64") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(c.name);
    auto op = c.op;
    const GradcheckResult r =
        gradcheck([op](const std::vector<Tensor>& t) { return op(t[0]); }, {leaf(c.points)});
    INFO(r.report());
    CHECK(r.passed);
    // Composed with a broadcasting op and a second use of the input.
    const GradcheckResult r2 =
        gradcheck([op](const std::vector<Tensor>& t) { return op(t[0]) * t[1] + t[0]; },
                  {leaf(c.points), leaf({1.5, -0.5, 2, 0.25, 3}, {5, 1})});
    INFO(r2.report());
    CHECK(r2.passed);
  }
}

TEST_CASE("unary: second derivatives with create_graph match the analytic ones") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(c.name);
    Tensor x = leaf(c.points);
    Tensor g = grad({c.op(x).sum()}, {x}, {}, create_graph())[0];
    V d1, d2;
    for (double p : c.points) {
      d1.push_back(c.df(p));
      d2.push_back(c.d2f(p));
    }
    check_values(g, d1, 1e-13);
    if (!g.requires_grad()) {
      // A piecewise-linear op: the gradient does not depend on x.
      for (double v : d2) CHECK(v == 0);
      continue;
    }
    Tensor h = grad({g.sum()}, {x})[0];
    check_values(h, d2, 1e-12);
  }
  // Chained: d^2/dx^2 sin(x^2) = 2 cos(x^2) - 4 x^2 sin(x^2)
  Tensor x = leaf({0.7});
  Tensor g = grad({sin(x * x).sum()}, {x}, {}, create_graph())[0];
  const double v = 0.7;
  check_values(grad({g.sum()}, {x})[0], {2 * std::cos(v * v) - 4 * v * v * std::sin(v * v)});
  // Third derivative of exp(2x): 8 exp(2x)
  Tensor y = leaf({0.3});
  Tensor g1 = grad({exp(y * 2.0).sum()}, {y}, {}, create_graph())[0];
  Tensor g2 = grad({g1.sum()}, {y}, {}, create_graph())[0];
  check_values(grad({g2.sum()}, {y})[0], {8 * std::exp(0.6)});
}

TEST_CASE("unary: forward-mode tangents match the analytic derivatives") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(c.name);
    V tan, want;
    for (std::size_t i = 0; i < c.points.size(); ++i) {
      tan.push_back(0.5 + static_cast<double>(i));
      want.push_back(c.df(c.points[i]) * tan.back());
    }
    Tensor y = c.op(dual(t64(c.points), t64(tan)));
    REQUIRE(y.tangent().defined());
    check_values(y.tangent(), want, 1e-13);
  }
  Tensor s = sign(dual(t64({-1, 2}), t64({1, 1})));
  check_values(s.tangent(), {0, 0});
  // Chain: d sin(x^2) = 2x cos(x^2) dx
  Tensor y = sin(square(dual(t64({0.7}), t64({2}))));
  check_values(y.tangent(), {2 * 0.7 * std::cos(0.49) * 2});
}

TEST_CASE("unary: ops record their names") {
  Tensor x = leaf({0.5});
  CHECK(std::string(exp(x).grad_fn()->name) == "exp");
  CHECK(std::string(log(x).grad_fn()->name) == "log");
  CHECK(std::string(sqrt(x).grad_fn()->name) == "sqrt");
  CHECK(std::string(tanh(x).grad_fn()->name) == "tanh");
  CHECK(std::string(sigmoid(x).grad_fn()->name) == "sigmoid");
  CHECK(std::string(relu(x).grad_fn()->name) == "relu");
  CHECK(std::string(leaky_relu(x).grad_fn()->name) == "leaky_relu");
  CHECK(std::string(softplus(x).grad_fn()->name) == "softplus");
  CHECK(std::string(abs(x).grad_fn()->name) == "abs");
  CHECK(std::string(sin(x).grad_fn()->name) == "sin");
  CHECK(std::string(cos(x).grad_fn()->name) == "cos");
  CHECK(std::string(log1p(x).grad_fn()->name) == "log1p");
  CHECK(std::string(sign(x).grad_fn()->name) == "sign");
  CHECK(std::string(gelu(x).grad_fn()->name) == "gelu");
  CHECK(std::string(gelu(x, "tanh").grad_fn()->name) == "gelu_tanh");
  CHECK(std::string(round(x).grad_fn()->name) == "round");
  CHECK(std::string(erf(x).grad_fn()->name) == "erf");
  {
    no_grad ng;
    CHECK(exp(x).grad_fn() == nullptr);
  }
}
