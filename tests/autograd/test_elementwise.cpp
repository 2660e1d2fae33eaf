#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

using V = std::vector<double>;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

using dagrad::test_util::check_values;
using dagrad::test_util::create_graph;

Tensor t64(const V& v, const Shape& s = {-1}) { return tensor(v, s, float64); }
Tensor leaf(const V& v, const Shape& s = {-1}) { return t64(v, s).requires_grad_(); }

// Random float64 leaf with values in [lo, hi), optionally with a random sign.
Tensor rnd(const Shape& s, double lo, double hi, uint64_t seed, bool random_sign = false) {
  Generator g(seed);
  Tensor t = uniform(s, lo, hi, g, float64);
  if (random_sign) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (g.uniform() < 0.5) p[i] = -p[i];
  }
  return t.requires_grad_();
}

void check_gradcheck(const Fn& f, const std::vector<Tensor>& inputs) {
  const GradcheckResult r = gradcheck(f, inputs);
  INFO(r.report());
  CHECK(r.passed);
}

// The shape pairs every binary op is checked on: plain, (2,3)x(3), (2,1,4)x(3,1), scalars.
const std::vector<std::pair<Shape, Shape>> kShapePairs = {
    {{2, 3}, {2, 3}},    {{2, 3}, {3}}, {{3}, {2, 3}}, {{2, 1, 4}, {3, 1}},
    {{3, 1}, {2, 1, 4}}, {{}, {2, 3}},  {{2, 3}, {}},  {{1}, {2, 2}},
};

// Sets a forward-mode tangent directly on the tensor (first order, detached).
Tensor dual(Tensor x, const Tensor& v) {
  x.impl().tangent = v.impl_ptr();
  return x;
}

}  // namespace

// ---------------------------------------------------------------- values

TEST_CASE("elementwise: tensor-tensor arithmetic values with broadcasting") {
  Tensor a = t64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = t64({10, 20, 40}, {3});
  check_values(a + b, {11, 22, 43, 14, 25, 46});
  check_values(a - b, {-9, -18, -37, -6, -15, -34});
  check_values(b - a, {9, 18, 37, 6, 15, 34});
  check_values(a * b, {10, 40, 120, 40, 100, 240});
  check_values(a / b, {0.1, 0.1, 0.075, 0.4, 0.25, 0.15});
  check_values(b / a, {10, 10, 40.0 / 3, 2.5, 4, 40.0 / 6});
  CHECK((a + b).shape() == Shape{2, 3});
  CHECK(add(a, b).shape() == Shape{2, 3});
  check_values(sub(a, b), (a - b).to_vector());
  check_values(mul(a, b), (a * b).to_vector());
  check_values(div(a, b), (a / b).to_vector());

  // (2,1,4) x (3,1) -> (2,3,4): c[i,j,k] = x[i,0,k] * y[j,0]
  Tensor x = arange(8.0, float64).reshape({2, 1, 4});
  Tensor y = t64({1, 10, 100}, {3, 1});
  Tensor c = x * y;
  CHECK(c.shape() == Shape{2, 3, 4});
  CHECK(c.at({0, 1, 2}) == 20);
  CHECK(c.at({1, 2, 3}) == 700);
  CHECK(c.at({1, 0, 0}) == 4);
  Tensor d = x + y;
  CHECK(d.at({1, 2, 1}) == 105);
  CHECK(d.at({0, 0, 3}) == 4);

  // 0-d tensors broadcast against anything.
  Tensor s = scalar_tensor(2, float64);
  check_values(a * s, {2, 4, 6, 8, 10, 12});
  check_values(s - a, {1, 0, -1, -2, -3, -4});
  CHECK((s * s).shape() == Shape{});
  // Empty tensors broadcast to empty results.
  CHECK((zeros({0, 3}, float64) + b).shape() == Shape{0, 3});
  // float32 stays float32.
  CHECK((tensor({1, 2}) * tensor({3, 4})).dtype() == float32);
}

TEST_CASE("elementwise: tensor-scalar arithmetic, rsub and rdiv") {
  Tensor a = t64({1, -2, 4});
  check_values(a + 1.5, {2.5, -0.5, 5.5});
  check_values(1.5 + a, {2.5, -0.5, 5.5});
  check_values(add(a, 1.5), {2.5, -0.5, 5.5});
  check_values(a - 1.0, {0, -3, 3});
  check_values(1.0 - a, {0, 3, -3});
  check_values(rsub(1.0, a), {0, 3, -3});
  check_values(a * -2.0, {-2, 4, -8});
  check_values(-2.0 * a, {-2, 4, -8});
  check_values(mul(a, -2.0), {-2, 4, -8});
  check_values(a / 4.0, {0.25, -0.5, 1});
  check_values(4.0 / a, {4, -2, 1});
  check_values(rdiv(4.0, a), {4, -2, 1});
  check_values(-a, {-1, 2, -4});
  check_values(neg(a), {-1, 2, -4});
  // Division by a scalar is a true division: 3 / 10 is the double nearest 0.3.
  CHECK((t64({3}) / 10.0).item() == 0.3);
  CHECK((t64({1}) / 3.0).item() == 1.0 / 3.0);
  CHECK(std::string((leaf({1}) / 2.0).grad_fn()->name) == "div_scalar");
  // Division by zero follows IEEE.
  check_values(t64({1, -1, 0}) / 0.0, {INFINITY, -INFINITY, NAN});
  check_values(1.0 / t64({0}), {INFINITY});
}

TEST_CASE("elementwise: pow, square") {
  Tensor x = t64({0.5, 2, 3});
  check_values(pow(x, 2.0), {0.25, 4, 9});
  check_values(square(x), {0.25, 4, 9});
  check_values(pow(x, 3.0), {0.125, 8, 27});
  check_values(pow(x, 0.5), {std::sqrt(0.5), std::sqrt(2.0), std::sqrt(3.0)});
  check_values(pow(x, -1.0), {2, 0.5, 1.0 / 3});
  check_values(pow(x, 0.0), {1, 1, 1});
  check_values(pow(x, 1.0), {0.5, 2, 3});
  check_values(pow(t64({-2}), 3.0), {-8});
  check_values(pow(t64({-2}), 0.5), {NAN});
  // Tensor exponents broadcast.
  Tensor p = t64({2, 0.5, -1});
  check_values(pow(x, p), {0.25, std::sqrt(2.0), 1.0 / 3});
  check_values(pow(t64({2, 3}, {2, 1}), t64({1, 2, 3}, {3})), {2, 4, 8, 3, 9, 27});
  check_values(pow(scalar_tensor(2, float64), t64({0, 10})), {1, 1024});
}

TEST_CASE("elementwise: atan2 over the four quadrants, its gradient and second derivative") {
  const double pi = std::acos(-1.0);
  check_values(atan2(t64({1, 1, -1, -1, 0, 0, 0}), t64({1, -1, -1, 1, 1, -1, 0})),
               {pi / 4, 3 * pi / 4, -3 * pi / 4, -pi / 4, 0, pi, 0});
  // Broadcasting (3, 1) against (2,), and float32.
  CHECK(atan2(t64({1, 2, 3}, {3, 1}), t64({1, -1})).shape() == Shape{3, 2});
  CHECK(atan2(tensor({1}), tensor({1})).dtype() == float32);
  Tensor a = leaf({0.5, -2}), b = leaf({1.5, 0.25});
  atan2(a, b).sum().backward();
  check_values(a.grad(), {1.5 / 2.5, 0.25 / 4.0625});
  check_values(b.grad(), {-0.5 / 2.5, 2 / 4.0625});
  // d2/da2 atan2(a, b) = -2ab / (a^2 + b^2)^2
  Tensor x = leaf({0.5});
  const Tensor c = t64({1.5});
  Tensor g = grad({atan2(x, c).sum()}, {x}, {}, create_graph())[0];
  check_values(grad({g.sum()}, {x})[0], {-2 * 0.5 * 1.5 / (2.5 * 2.5)});
  CHECK(error_of([] { atan2(t64({1, 2}), t64({1, 2, 3})); }).find("atan2") != std::string::npos);
}

TEST_CASE("elementwise: maximum and minimum, with NaN propagating") {
  Tensor a = t64({1, 5, -3, 2});
  Tensor b = t64({4, 5, -7, 0});
  check_values(maximum(a, b), {4, 5, -3, 2});
  check_values(minimum(a, b), {1, 5, -7, 0});
  check_values(maximum(t64({1, 2, 3, 4}, {2, 2}), t64({2.5})), {2.5, 2.5, 3, 4});
  check_values(minimum(t64({1, 2, 3, 4}, {2, 2}), t64({0, 3.5}, {2})), {0, 2, 0, 3.5});
  // NaN wins from either side (as PyTorch).
  check_values(maximum(t64({NAN, 1}), t64({1, NAN})), {NAN, NAN});
  check_values(minimum(t64({NAN, 1}), t64({1, NAN})), {NAN, NAN});
}

TEST_CASE("elementwise: clamp") {
  Tensor x = t64({-2, -1, 0, 0.5, 1, 3});
  check_values(clamp(x, -1, 1), {-1, -1, 0, 0.5, 1, 1});
  check_values(clamp(x, 0, 0), {0, 0, 0, 0, 0, 0});
  check_values(clamp(x, -INFINITY, 0.25), {-2, -1, 0, 0.25, 0.25, 0.25});
  check_values(clamp(t64({NAN}), 0, 1), {NAN});
  CHECK(contains(error_of<std::exception>([&] { clamp(x, 2, 1); }),
                 "clamp: lower bound 2 exceeds upper bound 1"));
}

TEST_CASE("elementwise: where and masked_fill") {
  Tensor cond = t64({1, 0, 0, 1});
  Tensor a = t64({1, 2, 3, 4});
  Tensor b = t64({-1, -2, -3, -4});
  check_values(where(cond, a, b), {1, -2, -3, 4});
  // Any nonzero counts as true; cond, a and b broadcast together.
  check_values(where(t64({2, 0}, {2, 1}), t64({7}), t64({1, 2, 3}, {3})), {7, 7, 7, 1, 2, 3});
  check_values(where(t64({0.5, -0.0}), scalar_tensor(1, float64), scalar_tensor(0, float64)),
               {1, 0});
  // A float32 condition selects float64 values.
  check_values(where(tensor({0, 1}), a.reshape({2, 2}), b.reshape({2, 2})), {-1, 2, -3, 4});
  // masked_fill: value where mask is set, x elsewhere.
  check_values(masked_fill(a, t64({0, 1, 1, 0}), -9), {1, -9, -9, 4});
  check_values(masked_fill(a.reshape({2, 2}), t64({1, 0}), 0.5), {0.5, 2, 0.5, 4});
  CHECK(masked_fill(tensor({1, 2}), tensor({1, 0}), 3).dtype() == float32);
  CHECK(contains(error_of<std::exception>([&] {
                   where(cond, a, tensor({1, 2, 3, 4}));
                 }),
                 "where: dtype mismatch"));
  CHECK(contains(error_of<std::exception>([&] {
                   where(t64({1, 0, 1}), a, b);
                 }),
                 "where: shapes (3,) and (4,) cannot be broadcast together"));
}

TEST_CASE("elementwise: comparisons give 0/1 tensors and no gradient") {
  Tensor a = leaf({1, 2, 3});
  Tensor b = t64({3, 2, 1});
  check_values(eq(a, b), {0, 1, 0});
  check_values(ne(a, b), {1, 0, 1});
  check_values(lt(a, b), {1, 0, 0});
  check_values(le(a, b), {1, 1, 0});
  check_values(gt(a, b), {0, 0, 1});
  check_values(ge(a, b), {0, 1, 1});
  check_values(gt(a, 2.0), {0, 0, 1});
  check_values(ge(a, 2.0), {0, 1, 1});
  check_values(lt(a, 2.0), {1, 0, 0});
  check_values(le(a, 2.0), {1, 1, 0});
  check_values(eq(a, 2.0), {0, 1, 0});
  check_values(gt(t64({1, 2, 3, 4}, {2, 2}), t64({2, 3}, {2})), {0, 0, 1, 1});
  check_values(ne(t64({NAN}), t64({NAN})), {1});
  check_values(eq(t64({NAN}), t64({NAN})), {0});
  CHECK(!gt(a, b).requires_grad());
  CHECK(gt(a, b).dtype() == float64);
  CHECK(lt(tensor({1}), tensor({2})).dtype() == float32);
}

// ---------------------------------------------------------------- errors

TEST_CASE("elementwise: dtype mismatch and incompatible broadcast name the op and shapes") {
  Tensor f = ones({2});
  Tensor d = ones({2}, float64);
  std::string msg = error_of<std::exception>([&] { f + d; });
  CHECK(contains(msg, "add: dtype mismatch: float32 (2,) vs float64 (2,)"));
  CHECK_THROWS_AS(f * d, std::invalid_argument);
  CHECK(contains(error_of<std::exception>([&] { f / d; }), "div:"));
  CHECK(contains(error_of<std::exception>([&] { pow(f, d); }), "pow:"));
  CHECK(contains(error_of<std::exception>([&] { maximum(f, d); }), "maximum:"));
  msg = error_of<std::exception>([] { ones({2, 3}) + ones({4}); });
  CHECK(contains(msg, "add: shapes (2, 3) and (4,) cannot be broadcast together"));
  msg = error_of<std::exception>([] { ones({2, 1, 4}) * ones({3, 2}); });
  CHECK(contains(msg, "mul: shapes (2, 1, 4) and (3, 2) cannot be broadcast together"));
  CHECK(contains(error_of<std::exception>([] { ones({3}) - ones({2}); }),
                 "sub: shapes (3,) and (2,)"));
  CHECK(contains(error_of<std::exception>([] { minimum(ones({3}), ones({2})); }),
                 "minimum: shapes (3,) and (2,)"));
  CHECK(contains(error_of<std::exception>([] { lt(ones({3}), ones({2})); }),
                 "lt: shapes (3,) and (2,)"));
  CHECK_THROWS_AS(ones({3}) / ones({2}), std::invalid_argument);
}

// ---------------------------------------------------------------- gradients

TEST_CASE("elementwise: analytic gradients of the arithmetic ops") {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({2, 4, 8}, {3});
  (a / b).sum().backward();
  check_values(a.grad(), {0.5, 0.25, 0.125, 0.5, 0.25, 0.125});
  // d(a/b)/db = -a/b^2 summed over rows: -(1+4)/4, -(2+5)/16, -(3+6)/64
  check_values(b.grad(), {-5.0 / 4, -7.0 / 16, -9.0 / 64});
  a.zero_grad();
  b.zero_grad();
  (a - b).sum().backward();
  check_values(a.grad(), V(6, 1.0));
  check_values(b.grad(), {-2, -2, -2});

  Tensor x = leaf({2, 4});
  (3.0 / x + (5.0 - x) * 2.0 - x / 4.0).sum().backward();  // -3/x^2 - 2 - 1/4
  check_values(x.grad(), {-0.75 - 2.25, -3.0 / 16 - 2.25});
  Tensor y = leaf({1.5});
  (-y * -y).sum().backward();
  check_values(y.grad(), {3});
}

TEST_CASE("elementwise: maximum/minimum split the gradient on ties (as PyTorch)") {
  Tensor a = leaf({1, 2, 3});
  Tensor b = leaf({1, 5, 0});
  maximum(a, b).sum().backward();
  check_values(a.grad(), {0.5, 0, 1});
  check_values(b.grad(), {0.5, 1, 0});
  a.zero_grad();
  b.zero_grad();
  minimum(a, b).sum().backward();
  check_values(a.grad(), {0.5, 1, 0});
  check_values(b.grad(), {0.5, 0, 1});
  // Broadcast ties: a 0-d b ties with two elements of a.
  Tensor c = leaf({2, 1, 2, 3});
  Tensor s = scalar_tensor(2, float64).requires_grad_();
  maximum(c, s).sum().backward();
  check_values(c.grad(), {0.5, 0, 0.5, 1});
  check_values(s.grad(), {0.5 + 1 + 0.5});
}

TEST_CASE("elementwise: clamp passes the gradient at the bounds (as PyTorch)") {
  Tensor x = leaf({-2, -1, 0, 0.5, 1, 3});
  clamp(x, -1, 1).sum().backward();
  check_values(x.grad(), {0, 1, 1, 1, 1, 0});
}

TEST_CASE("elementwise: pow gradients at the special points match PyTorch") {
  // Values from torch 1.13: x = [0, 0, 2], p = [0, -1, 0].
  Tensor x = leaf({0, 0, 2});
  Tensor p = leaf({0, -1, 0});
  pow(x, p).sum().backward();
  check_values(x.grad(), {0, -INFINITY, 0});
  check_values(p.grad(), {0, -INFINITY, std::log(2.0)});
  // x = [0, 0, 2], p = [2, 0.5, 3]
  Tensor x2 = leaf({0, 0, 2});
  Tensor p2 = leaf({2, 0.5, 3});
  pow(x2, p2).sum().backward();
  check_values(x2.grad(), {0, INFINITY, 12});
  check_values(p2.grad(), {0, 0, 8 * std::log(2.0)});
  // Scalar exponents: 0 gives a zero gradient even at x = 0; 0.5 at 0 gives inf.
  Tensor z = leaf({0});
  pow(z, 0.0).sum().backward();
  check_values(z.grad(), {0});
  z.zero_grad();
  pow(z, 0.5).sum().backward();
  check_values(z.grad(), {INFINITY});
  Tensor w = leaf({-2, 3});
  pow(w, 3.0).sum().backward();
  check_values(w.grad(), {12, 27});
  // Only the input that requires grad gets a gradient.
  Tensor base = t64({2, 3});
  Tensor e = leaf({2, 2});
  pow(base, e).sum().backward();
  check_values(e.grad(), {4 * std::log(2.0), 9 * std::log(3.0)});
}

TEST_CASE("elementwise: where and masked_fill route the gradient by the mask") {
  Tensor a = leaf({1, 2, 3, 4});
  Tensor b = leaf({5});
  Tensor cond = t64({1, 0, 0, 1});
  (where(cond, a, b) * t64({1, 2, 3, 4})).sum().backward();
  check_values(a.grad(), {1, 0, 0, 4});
  check_values(b.grad(), {5});
  Tensor x = leaf({1, 2, 3});
  (masked_fill(x, t64({0, 1, 0}), 100.0) * 2.0).sum().backward();
  check_values(x.grad(), {2, 0, 2});
  // The condition gets no gradient even if it requires grad.
  Tensor c = leaf({1, 0});
  Tensor y = where(c, t64({1, 2}), t64({3, 4}));
  CHECK(!y.requires_grad());
}

TEST_CASE("elementwise: gradcheck of every binary op over broadcasting shapes") {
  uint64_t seed = 1;
  for (const auto& [sa, sb] : kShapePairs) {
    CAPTURE(to_string(sa));
    CAPTURE(to_string(sb));
    Tensor a = rnd(sa, 0.5, 2.0, seed++, true);
    Tensor b = rnd(sb, 0.5, 2.0, seed++, true);
    check_gradcheck([](const std::vector<Tensor>& t) { return t[0] + t[1]; }, {a, b});
    check_gradcheck([](const std::vector<Tensor>& t) { return t[0] - t[1]; }, {a, b});
    check_gradcheck([](const std::vector<Tensor>& t) { return t[0] * t[1]; }, {a, b});
    check_gradcheck([](const std::vector<Tensor>& t) { return t[0] / t[1]; }, {a, b});
    check_gradcheck([](const std::vector<Tensor>& t) { return maximum(t[0], t[1]); }, {a, b});
    check_gradcheck([](const std::vector<Tensor>& t) { return minimum(t[0], t[1]); }, {a, b});
    Tensor base = rnd(sa, 0.5, 2.0, seed++);
    Tensor expo = rnd(sb, 0.2, 2.5, seed++, true);
    check_gradcheck([](const std::vector<Tensor>& t) { return pow(t[0], t[1]); }, {base, expo});
    Tensor sa2 = rnd(sa, -2.0, 2.0, seed++, true), sb2 = rnd(sb, -2.0, 2.0, seed++, true);
    check_gradcheck([](const std::vector<Tensor>& t) { return atan2(t[0], t[1]); }, {sa2, sb2});
    Tensor cond = gt(rnd(broadcast_shapes(sa, sb, "test"), 0, 1, seed++), 0.5);
    check_gradcheck([cond](const std::vector<Tensor>& t) { return where(cond, t[0], t[1]); },
                    {a, b});
  }
}

TEST_CASE("elementwise: gradcheck of the scalar forms, pow, clamp and masked_fill") {
  Tensor a = rnd({2, 3}, 0.5, 2.0, 11, true);
  Tensor p = rnd({2, 3}, 0.5, 2.0, 12);
  const std::vector<Fn> fns = {
      [](const std::vector<Tensor>& t) { return t[0] + 2.5; },
      [](const std::vector<Tensor>& t) { return t[0] - 2.5; },
      [](const std::vector<Tensor>& t) { return 2.5 - t[0]; },
      [](const std::vector<Tensor>& t) { return t[0] * -1.5; },
      [](const std::vector<Tensor>& t) { return t[0] / 3.0; },
      [](const std::vector<Tensor>& t) { return 3.0 / t[0]; },
      [](const std::vector<Tensor>& t) { return -t[0]; },
      [](const std::vector<Tensor>& t) { return square(t[0]); },
      [](const std::vector<Tensor>& t) { return pow(t[0], 3.0); },
      [](const std::vector<Tensor>& t) { return pow(t[0], -2.0); },
      [](const std::vector<Tensor>& t) { return clamp(t[0], -1.0, 1.0); },
      [](const std::vector<Tensor>& t) { return masked_fill(t[0], gt(t[0], 0.0), 7.0); },
  };
  for (std::size_t i = 0; i < fns.size(); ++i) {
    CAPTURE(i);
    check_gradcheck(fns[i], {a});
  }
  // Non-integer powers on positive inputs.
  check_gradcheck([](const std::vector<Tensor>& t) { return pow(t[0], 1.5); }, {p});
  check_gradcheck([](const std::vector<Tensor>& t) { return pow(t[0], -0.5); }, {p});
  // A scalar (0-d) output.
  check_gradcheck([](const std::vector<Tensor>& t) { return (t[0] * t[1]).sum(); }, {a, p});
}

// ---------------------------------------------------------------- create_graph

TEST_CASE("elementwise: second derivatives of mul, div and pow") {
  // f = a / b: f_bb = 2a / b^3, f_ab = -1 / b^2, f_aa = 0
  Tensor a = leaf({3});
  Tensor b = leaf({2});
  auto g = grad({(a / b).sum()}, {a, b}, {}, create_graph());
  check_values(g[1], {-0.75});
  auto gb = grad({g[1].sum()}, {a, b});
  check_values(gb[0], {-0.25});
  check_values(gb[1], {0.75});
  auto ga = grad({g[0].sum()}, {a, b});
  check_values(ga[0], {0});
  check_values(ga[1], {-0.25});

  // f = x^p with a tensor exponent:
  //   f_xx = p (p-1) x^(p-2), f_pp = x^p log(x)^2, f_xp = x^(p-1) (1 + p log x)
  const double xv = 1.7, pv = 2.3;
  Tensor x = leaf({xv});
  Tensor p = leaf({pv});
  auto gp = grad({pow(x, p).sum()}, {x, p}, {}, create_graph());
  check_values(gp[0], {pv * std::pow(xv, pv - 1)});
  check_values(gp[1], {std::pow(xv, pv) * std::log(xv)});
  auto hx = grad({gp[0].sum()}, {x, p});
  check_values(hx[0], {pv * (pv - 1) * std::pow(xv, pv - 2)});
  check_values(hx[1], {std::pow(xv, pv - 1) * (1 + pv * std::log(xv))});
  auto hp = grad({gp[1].sum()}, {x, p});
  check_values(hp[0], {std::pow(xv, pv - 1) * (1 + pv * std::log(xv))});
  check_values(hp[1], {std::pow(xv, pv) * std::log(xv) * std::log(xv)});

  // Scalar exponent: d^2/dx^2 x^3.5 = 3.5 * 2.5 x^1.5
  Tensor y = leaf({1.3});
  Tensor gy = grad({pow(y, 3.5).sum()}, {y}, {}, create_graph())[0];
  check_values(grad({gy.sum()}, {y})[0], {3.5 * 2.5 * std::pow(1.3, 1.5)});
  // 1 / x: second derivative 2 / x^3
  Tensor r = leaf({0.8});
  Tensor gr = grad({(2.0 / r).sum()}, {r}, {}, create_graph())[0];
  check_values(grad({gr.sum()}, {r})[0], {4.0 / (0.8 * 0.8 * 0.8)});
}

TEST_CASE("elementwise: second derivatives through broadcasting, max, clamp and where") {
  // f = sum((a * b)^2) with a (2,3), b (3): f_b = sum_i 2 a_i^2 b, f_bb = diag(2 sum_i a_i^2)
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({0.5, -1, 2}, {3});
  Tensor gb = grad({square(a * b).sum()}, {b}, {}, create_graph())[0];
  check_values(gb, {2 * 17 * 0.5, 2 * 29 * -1, 2 * 45 * 2.0});
  check_values(grad({gb.sum()}, {b})[0], {34, 58, 90});
  // Piecewise-linear ops have zero second derivative but pass the first one through.
  Tensor x = leaf({-2, 0.5, 3});
  Tensor y = square(maximum(x, t64({0}))) + square(clamp(x, -1, 1)) +
             square(where(gt(x, 0.0), x, x * 0.0));
  Tensor gx = grad({y.sum()}, {x}, {}, create_graph())[0];
  check_values(gx, {0, 1 + 1 + 1, 6 + 0 + 6});
  check_values(grad({gx.sum()}, {x})[0], {0, 6, 4});
}

// ---------------------------------------------------------------- forward mode

TEST_CASE("elementwise: forward-mode tangents match the analytic derivatives") {
  const V av = {1.5, -2, 0.5}, bv = {2, 4, -1};
  const V ta = {1, 0.5, -2}, tb = {0.25, -1, 3};
  auto A = [&] { return dual(t64(av), t64(ta)); };
  auto B = [&] { return dual(t64(bv), t64(tb)); };
  V want(3);
  auto expect = [&](const Tensor& y, auto f) {
    for (int i = 0; i < 3; ++i) want[i] = f(av[i], bv[i], ta[i], tb[i]);
    REQUIRE(y.tangent().defined());
    check_values(y.tangent(), want);
  };
  expect(A() + B(), [](double, double, double da, double db) { return da + db; });
  expect(A() - B(), [](double, double, double da, double db) { return da - db; });
  expect(A() * B(), [](double a, double b, double da, double db) { return da * b + a * db; });
  expect(A() / B(),
         [](double a, double b, double da, double db) { return (da * b - a * db) / (b * b); });
  expect(A() * 3.0 + 1.0, [](double, double, double da, double) { return 3 * da; });
  expect(2.0 - A(), [](double, double, double da, double) { return -da; });
  expect(2.0 / A(), [](double a, double, double da, double) { return -2 * da / (a * a); });
  expect(A() / 4.0, [](double, double, double da, double) { return da / 4; });
  expect(-A(), [](double, double, double da, double) { return -da; });
  expect(pow(A(), 3.0), [](double a, double, double da, double) { return 3 * a * a * da; });
  expect(maximum(A(), B()),
         [](double a, double b, double da, double db) { return a > b ? da : db; });
  expect(minimum(A(), B()),
         [](double a, double b, double da, double db) { return a < b ? da : db; });
  expect(clamp(A(), -1, 1),
         [](double a, double, double da, double) { return std::abs(a) <= 1 ? da : 0; });
  expect(atan2(A(), B()), [](double a, double b, double da, double db) {
    return (b * da - a * db) / (a * a + b * b);
  });
  expect(where(t64({1, 0, 1}), A(), B()),
         [&](double a, double, double da, double db) { return a == av[1] ? db : da; });
  // Only one side dual: the other counts as constant.
  Tensor y = A() * t64(bv);
  for (int i = 0; i < 3; ++i) want[i] = ta[i] * bv[i];
  check_values(y.tangent(), want);
  // pow with a tensor exponent: d(x^p) = p x^(p-1) dx + x^p log(x) dp
  Tensor x = dual(t64({1.5, 2}), t64({1, -1}));
  Tensor p = dual(t64({2, 0.5}), t64({0.5, 2}));
  Tensor z = pow(x, p);
  check_values(z.tangent(), {2 * 1.5 * 1 + 2.25 * std::log(1.5) * 0.5,
                             0.5 / std::sqrt(2.0) * -1 + std::sqrt(2.0) * std::log(2.0) * 2});
  // Broadcasting: the tangent has the output's shape.
  Tensor m = dual(t64({1, 2}, {2, 1}), t64({1, 1}, {2, 1})) * t64({1, 2, 3}, {3});
  CHECK(m.tangent().shape() == Shape{2, 3});
  check_values(m.tangent(), {1, 2, 3, 1, 2, 3});
  // Comparisons carry no tangent.
  CHECK(!gt(A(), B()).tangent().defined());
}
