#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "dagrad/autograd/autograd.h"

using namespace dagrad;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// sin with a deliberately wrong backward (cos x scaled by 1 + skew) and a correct jvp.
Tensor skewed_sin(const Tensor& x, double skew) {
  Tensor out = sin(x.detach());
  return record(
      "skewed_sin", out, {x},
      [x = SavedTensor(x, "skewed_sin"), skew](const Tensor& g, const Tensor&) -> GradList {
        return {g * cos(x.get()) * (1.0 + skew)};
      },
      [x](const TangentList& t, const Tensor&) { return t[0] * cos(x); });
}

// a * b whose backward is right for a and wrong (missing a factor) for b.
Tensor half_wrong_mul(const Tensor& a, const Tensor& b) {
  Tensor out = a.detach() * b.detach();
  return record(
      "half_wrong_mul", out, {a, b},
      [a = SavedTensor(a, "half_wrong_mul"), b = SavedTensor(b, "half_wrong_mul")](
          const Tensor& g, const Tensor&) -> GradList {
        return {g * b.get(), g};
      },
      no_jvp);
}

}  // namespace

TEST_CASE("gradcheck: rel_error is max |a-b| / max(1e-8, |a|+|b|)") {
  CHECK(rel_error(1.0, 1.1) == doctest::Approx(0.1 / 2.1).epsilon(1e-14));
  CHECK(rel_error(-2.0, 2.0) == doctest::Approx(1.0));
  CHECK(rel_error(0.0, 0.0) == 0.0);
  // Tiny values: the floor 1e-8 keeps the ratio finite.
  CHECK(rel_error(1e-9, 0.0) == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(rel_error(3e-9, 1e-9) == doctest::Approx(0.2).epsilon(1e-12));
  const Tensor a = tensor({1, 2, 3}, {-1}, float64), b = tensor({1, 2.2, 3}, {-1}, float64);
  CHECK(rel_error(a, b) == doctest::Approx(0.2 / 4.2).epsilon(1e-12));
  CHECK(rel_error(a, a) == 0.0);
  CHECK_THROWS_WITH_AS(rel_error(a, zeros({2, 2}, float64)), doctest::Contains("(3,) and (2, 2)"),
                       std::invalid_argument);
}

TEST_CASE("gradcheck: numerical_gradient of a scalar function matches the derivative") {
  const std::vector<double> xs = {0.5, -1.5, 2.0, 0.1};
  Tensor x = tensor(xs, {2, 2}, float64);
  // f = sum(x^3) + sum(sin x):  df/dx = 3x^2 + cos x
  const Tensor g = numerical_gradient([&x] { return sum(pow(x, 3.0)) + sum(sin(x)); }, x);
  CHECK(g.shape() == Shape{2, 2});
  const std::vector<double> gv = g.to_vector();
  for (std::size_t i = 0; i < xs.size(); ++i)
    CHECK(rel_error(gv[i], 3 * xs[i] * xs[i] + std::cos(xs[i])) < 1e-8);
  // x is restored exactly.
  CHECK(x.to_vector() == xs);
  // A non-scalar f needs dout.
  CHECK_THROWS_WITH_AS(numerical_gradient([&x] { return x * 2.0; }, x), doctest::Contains("dout"),
                       std::invalid_argument);
}

TEST_CASE("gradcheck: numerical_gradient with an upstream dout") {
  const std::vector<double> xs = {0.3, 1.2, -0.7}, ds = {1.0, -2.0, 0.5};
  Tensor x = tensor(xs, {-1}, float64);
  const Tensor dout = tensor(ds, {-1}, float64);
  // f = sin(x) * x elementwise: d sum(f * dout)/dx = dout (cos x * x + sin x)
  const Tensor g = numerical_gradient([&x] { return sin(x) * x; }, x, dout);
  const std::vector<double> gv = g.to_vector();
  for (std::size_t i = 0; i < xs.size(); ++i)
    CHECK(rel_error(gv[i], ds[i] * (std::cos(xs[i]) * xs[i] + std::sin(xs[i]))) < 1e-8);
  // A broadcasting f: y (2, 3) = x (3) + c (2, 1); the gradient sums dout over the rows.
  const Tensor c = tensor({10, 20}, {2, 1}, float64);
  const Tensor d2 = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  const Tensor g2 = numerical_gradient([&] { return x + c; }, x, d2);
  const std::vector<double> g2v = g2.to_vector();
  CHECK(rel_error(g2v[0], 5.0) < 1e-8);
  CHECK(rel_error(g2v[1], 7.0) < 1e-8);
  CHECK(rel_error(g2v[2], 9.0) < 1e-8);
  CHECK_THROWS_WITH_AS(numerical_gradient([&x] { return x * 2.0; }, x, zeros({4}, float64)),
                       doctest::Contains("dout shape (4,)"), std::invalid_argument);
}

TEST_CASE("gradcheck: a correct function passes with a per-input report") {
  Tensor a =
      tensor({0.5, -1.0, 2.0, 0.3, 1.1, -0.4}, {2, 3}, float64).requires_grad_().set_name("a");
  Tensor b = tensor({1.5, 0.2, -0.8}, {3}, float64).requires_grad_().set_name("b");
  Tensor c = tensor({2.0}, {-1}, float64);  // not checked: does not require grad
  auto f = [](const std::vector<Tensor>& in) { return in[0] * in[1] + exp(in[0]) * in[2]; };
  const GradcheckResult r = gradcheck(f, {a, b, c});
  CHECK(r.passed);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].name == "a");
  CHECK(r.inputs[0].shape == Shape{2, 3});
  CHECK(r.inputs[1].name == "b");
  CHECK(r.inputs[0].max_rel_error < 1e-7);
  CHECK(r.inputs[1].max_rel_error < 1e-7);
  const std::string rep = r.report();
  CHECK(contains(rep, "a "));
  CHECK(contains(rep, "(2, 3)"));
  CHECK(contains(rep, "ok"));
  CHECK_FALSE(contains(rep, "FAILED"));
  // The caller's leaves are untouched.
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  // Unnamed inputs are numbered; a scalar output needs no dout.
  Tensor x = tensor({0.7, 1.9}, {-1}, float64).requires_grad_();
  const GradcheckResult r2 =
      gradcheck([](const std::vector<Tensor>& in) { return sum(tanh(in[0])); }, {x});
  CHECK(r2.passed);
  CHECK(r2.inputs[0].name == "input 0");
}

TEST_CASE("gradcheck: a wrong backward fails, and the report names the input") {
  Tensor x = tensor({0.4, 1.3, -0.9, 2.2}, {-1}, float64).requires_grad_().set_name("x");
  // 1e-3 off is far beyond rtol 1e-7.
  const GradcheckResult bad =
      gradcheck([](const std::vector<Tensor>& in) { return skewed_sin(in[0], 1e-3); }, {x});
  CHECK_FALSE(bad.passed);
  CHECK_FALSE(bad.inputs[0].passed);
  CHECK(bad.inputs[0].max_rel_error == doctest::Approx(1e-3 / (2 + 1e-3)).epsilon(1e-3));
  CHECK(contains(bad.report(), "FAILED"));
  // The same op with no skew passes: the check can tell them apart.
  CHECK(
      gradcheck([](const std::vector<Tensor>& in) { return skewed_sin(in[0], 0.0); }, {x}).passed);

  // One input right, the other wrong: reported separately.
  Tensor a = tensor({1.0, 2.0, 3.0}, {-1}, float64).requires_grad_().set_name("a");
  Tensor b = tensor({0.5, -1.5, 2.5}, {-1}, float64).requires_grad_().set_name("b");
  const GradcheckResult r =
      gradcheck([](const std::vector<Tensor>& in) { return half_wrong_mul(in[0], in[1]); }, {a, b});
  CHECK_FALSE(r.passed);
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].passed);
  CHECK_FALSE(r.inputs[1].passed);
  const std::string rep = r.report();
  const auto line_b = rep.substr(rep.find("  b"));
  CHECK(contains(line_b, "FAILED"));
  CHECK_FALSE(contains(rep.substr(0, rep.find("  b")), "FAILED"));
}

TEST_CASE("gradcheck: tolerances and errors") {
  Tensor x = tensor({0.4, 1.3}, {-1}, float64).requires_grad_();
  auto f = [](const std::vector<Tensor>& in) { return skewed_sin(in[0], 1e-3); };
  GradcheckOptions loose;
  loose.rtol = 1e-2;
  CHECK(gradcheck(f, {x}, loose).passed);
  CHECK_THROWS_WITH_AS(gradcheck(f, {tensor({1.0}, {-1}, float64)}),
                       doctest::Contains("no input requires grad"), std::invalid_argument);
  CHECK_THROWS_AS(gradcheck([](const std::vector<Tensor>&) { return ones({2}, float64); }, {x}),
                  std::invalid_argument);
}

TEST_CASE("gradcheck: grad_check_sparse samples coordinates of a big gradient") {
  Generator gen(7);
  Tensor W = randn({20, 30}, gen, float64).requires_grad_();
  // f = sum(tanh(W) * 0.5 + W^2 / 3): gradient (1 - tanh^2) / 2 + 2W / 3
  auto f = [&] { return sum(tanh(W) * 0.5 + square(W) / 3.0); };
  f().backward();
  const Tensor analytic = W.grad();
  const double err = grad_check_sparse(f, W, analytic, 25, 1e-6, 1, false);
  CHECK(err < 1e-7);
  // Same seed, same coordinates, same answer.
  CHECK(grad_check_sparse(f, W, analytic, 25, 1e-6, 1, false) == err);
  // A gradient off by a factor 2 gives relative errors of 1/3.
  const double bad = grad_check_sparse(f, W, analytic * 2.0, 10, 1e-6, 1, false);
  CHECK(bad == doctest::Approx(1.0 / 3.0).epsilon(1e-6));
  CHECK_THROWS_WITH_AS(grad_check_sparse(f, W, zeros({3}, float64), 5, 1e-6, 0, false),
                       doctest::Contains("(3,)"), std::invalid_argument);
}

TEST_CASE("gradcheck: difference_quotient, central and forward, restores x exactly") {
  Tensor x = tensor({0.5, 2.0}, {2}, float64);
  const auto cube = [&] { return std::pow(x.to_vector()[1], 3); };  // d/dx1 = 3 x1^2 = 12
  const double h = 1e-3;
  // central: 3 x^2 + h^2 exactly for a cubic; forward: 3 x^2 + 3 x h + h^2
  CHECK(difference_quotient(cube, x, 1, h) == doctest::Approx(12 + h * h).epsilon(1e-12));
  CHECK(difference_quotient(cube, x, 1, h, Difference::forward) ==
        doctest::Approx(12 + 6 * h + h * h).epsilon(1e-10));
  CHECK(difference_quotient(cube, x, 0, h) == 0);
  CHECK(x.to_vector() == std::vector<double>{0.5, 2.0});
  // The vector form: one quotient per output value.
  const auto both = [&] {
    const auto v = x.to_vector();
    return std::vector<double>{v[0] * v[1], v[0] + v[1]};
  };
  const std::vector<double> q = difference_quotient(both, x, 0, h);
  CHECK(q[0] == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(q[1] == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("gradcheck: difference_quotient errors name the problem and leave x untouched") {
  Tensor x = tensor({100.0, 1.0}, {2}, float32);
  auto f = [&] { return static_cast<double>(x.to_vector()[0]); };
  // float32's spacing at 100 is 7.6e-6: a step of 1e-6 rounds away.
  CHECK_THROWS_WITH(difference_quotient(f, x, 0, 1e-6),
                    doctest::Contains("below the spacing of float32 at x = 100"));
  CHECK_THROWS_WITH(difference_quotient(f, x, 2, 1e-3), doctest::Contains("element 2"));
  CHECK_THROWS_WITH(difference_quotient(f, x, 0, 0.0), doctest::Contains("h must be > 0"));
  int calls = 0;
  auto throws_second = [&]() -> double {
    if (++calls == 2) throw std::runtime_error("boom");
    return 0;
  };
  CHECK_THROWS_WITH(difference_quotient(throws_second, x, 0, 1e-2), "boom");
  CHECK(x.to_vector() == std::vector<double>{100.0, 1.0});
  std::vector<double> sizes = {1};
  CHECK_THROWS_WITH(difference_quotient(
                        [&] {
                          sizes.push_back(0);
                          return sizes;
                        },
                        x, 0, 1e-2),
                    doctest::Contains("returned 2 values at x + h and 3"));
}
