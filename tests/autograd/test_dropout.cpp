#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/dropout.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;

TEST_CASE("dropout: kept values are scaled by 1/(1-p), dropped ones are 0") {
  Generator gen(1);
  Tensor x = uniform({1000}, 1.0, 2.0, gen, float64);
  Generator g2(7);
  Tensor y = dropout(x, 0.25, true, g2);
  const auto xv = x.to_vector(), yv = y.to_vector();
  int zeros_seen = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++zeros_seen;
    } else {
      CHECK(yv[i] == doctest::Approx(xv[i] / 0.75).epsilon(1e-15));
    }
  }
  CHECK(zeros_seen > 150);
  CHECK(zeros_seen < 350);
}

TEST_CASE("dropout: statistics — zero fraction about p, mean preserved") {
  Generator gen(42);
  const int64_t n = 200000;
  for (double p : {0.1, 0.5, 0.8}) {
    Tensor y = dropout(ones({n}), p, true, gen);
    const auto v = y.to_vector();
    int64_t zeros_seen = 0;
    for (double e : v) zeros_seen += e == 0.0;
    const double frac = static_cast<double>(zeros_seen) / n;
    // standard deviation of the fraction: sqrt(p (1-p) / n) <= 0.0012
    CHECK(std::abs(frac - p) < 0.006);
    // E[out] = 1; the standard deviation of the mean is sqrt(p / ((1-p) n)) <= 0.0045
    CHECK(std::abs(y.mean().item() - 1.0) < 0.02);
  }
}

TEST_CASE("dropout: identity in eval mode and for p == 0; p == 1 drops everything") {
  Generator gen(3);
  Tensor x = randn({4, 5}, gen).requires_grad_();
  Tensor e = dropout(x, 0.5, false, gen);
  CHECK(e.to_vector() == x.to_vector());
  Tensor z = dropout(x, 0.0, true, gen);
  CHECK(z.to_vector() == x.to_vector());
  // Neither consumed random numbers: the generator is where a fresh one with seed 3 would be
  // after the randn above.
  Generator fresh(3);
  (void)randn({4, 5}, fresh);
  CHECK(gen.next_u64() == fresh.next_u64());

  Tensor all = dropout(x, 1.0, true, gen);
  CHECK(all.to_vector() == std::vector<double>(20, 0.0));
  all.sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>(20, 0.0));
}

TEST_CASE("dropout: the same seed gives the same mask") {
  Tensor x = ones({3, 50}, float64);
  Generator a(123), b(123), c(124);
  const auto ya = dropout(x, 0.5, true, a).to_vector();
  CHECK(ya == dropout(x, 0.5, true, b).to_vector());
  CHECK(ya != dropout(x, 0.5, true, c).to_vector());
  // The default generator, reseeded, repeats too.
  manual_seed(9);
  const auto d1 = dropout(x, 0.3).to_vector();
  manual_seed(9);
  CHECK(dropout(x, 0.3).to_vector() == d1);
  // Successive calls on one generator draw different masks.
  CHECK(dropout(x, 0.5, true, a).to_vector() != ya);
}

TEST_CASE("dropout: gradient is the scaled mask; gradcheck with a fixed seed") {
  Generator gen(5);
  Tensor x = uniform({6, 7}, 0.5, 1.5, gen, float64).requires_grad_();
  Generator m(77);
  Tensor y = dropout(x, 0.4, true, m);
  y.backward(full({6, 7}, 2.0, float64));
  const auto xv = x.to_vector(), yv = y.to_vector(), gv = x.grad().to_vector();
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double mask = yv[i] / xv[i];  // 0 or 1/0.6
    CHECK(gv[i] == doctest::Approx(2.0 * mask).epsilon(1e-12));
  }
  // f must be deterministic: the generator is created inside f from a seed.
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator g(2024);
        return dropout(in[0], 0.3, true, g) * in[0];
      },
      {x});
  INFO(r.report());
  CHECK(r.passed);
}

TEST_CASE("dropout: twice differentiable and forward mode") {
  Generator gen(8);
  Tensor x = uniform({20}, 0.5, 1.5, gen, float64).requires_grad_();
  auto f = [](const Tensor& v) {
    Generator g(31);
    return dropout(v, 0.5, true, g);
  };
  Tensor y = f(x);
  const auto mask = (y / x).detach();  // 0 or 2
  // f2 = sum(d(x)^2) = sum(m^2 x^2): gradient 2 m^2 x, second derivative (diagonal) 2 m^2.
  auto gx = dagrad::grad({(y * y).sum()}, {x}, {}, BackwardOptions{.create_graph = true});
  CHECK(rel_error(gx[0], mask * mask * x * 2.0) < 1e-14);
  gx[0].sum().backward();
  CHECK(rel_error(x.grad(), mask * mask * 2.0) < 1e-14);
  // Forward mode: t_out = mask * t.
  Tensor t = randn({20}, gen, float64);
  auto [v, tv] = jvp(UnaryFn(f), x.detach(), t);
  CHECK(rel_error(tv, mask * t) < 1e-14);
}

TEST_CASE("dropout: errors") {
  Tensor x = zeros({2, 3});
  Generator gen(0);
  CHECK(error_of([&] { dropout(x, -0.1, true, gen); }) ==
        "dropout: drop probability p must be in [0, 1], got -0.1 (input (2, 3))");
  CHECK(error_of([&] { dropout(x, 1.5, false, gen); }) ==
        "dropout: drop probability p must be in [0, 1], got 1.5 (input (2, 3))");
  CHECK(error_of([&] { dropout(x, std::nan(""), true, gen); }).find("dropout: drop probability") ==
        0);
}
