#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"

#include "tests/op_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed) { return randn64(shape, seed).requires_grad_(); }

// The directional derivative of sum(f(x) * w) along v, by reverse mode: for checking jvps.
double reverse_directional(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                           const Tensor& v, const Tensor& w) {
  Tensor xl = x.detach().requires_grad_();
  Tensor gx = grad({sum(f(xl) * w)}, {xl})[0];
  return sum(gx * v).item();
}

}  // namespace

// ---------------------------------------------------------------- max / min

TEST_CASE("reduction: max/min values over all elements and along an axis") {
  Tensor x = tensor({1, 5, 3, 4, 2, 6}, {2, 3}, float64);
  CHECK(max(x).shape() == Shape{});
  CHECK(max(x).item() == 6);
  CHECK(min(x).item() == 1);
  check_values(max(x, 0), {4, 5, 6});
  check_values(max(x, 1), {5, 6});
  check_values(min(x, -1), {1, 2});
  check_values(min(x, 0), {1, 2, 3});
  CHECK(max(x, 1).shape() == Shape{2});
  CHECK(max(x, 1, true).shape() == Shape{2, 1});
  CHECK(min(x, 0, true).shape() == Shape{1, 3});
  // a 3-D middle axis
  Tensor y = arange(24, float64).reshape({2, 3, 4});
  check_values(max(y, 1), {8, 9, 10, 11, 20, 21, 22, 23});
  check_values(min(y, 1, true), {0, 1, 2, 3, 12, 13, 14, 15});
  CHECK(min(y, 1, true).shape() == Shape{2, 1, 4});
  // float32 and a 0-d tensor
  CHECK(max(tensor({-3, -7, -1}, {3}, float32)).item() == -1);
  CHECK(max(scalar_tensor(2.5, float64)).item() == 2.5);
}

TEST_CASE("reduction: max/min propagate NaN") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = tensor({1, nan, 3, 4}, {2, 2}, float64);
  CHECK(std::isnan(max(x).item()));
  CHECK(std::isnan(max(x, 1).to_vector()[0]));
  CHECK(max(x, 1).to_vector()[1] == 4);
  CHECK(std::isnan(min(x, 0).to_vector()[1]));
}

TEST_CASE("reduction: max/min gradient is shared equally among ties (torch.amax)") {
  Tensor x = tensor({1, 3, 3, 2, 2, 0}, {2, 3}, float64).requires_grad_();
  max(x, 1).sum().backward();
  check_values(x.grad(), {0, 0.5, 0.5, 0.5, 0.5, 0});
  x.zero_grad();
  min(x, 1).sum().backward();
  check_values(x.grad(), {1, 0, 0, 0, 0, 1});
  Tensor z = tensor({3, 1, 3}, {3}, float64).requires_grad_();
  max(z).backward();
  check_values(z.grad(), {0.5, 0, 0.5});
  // all equal: a third each, times the upstream gradient
  Tensor w = tensor({2, 2, 2}, {3}, float64).requires_grad_();
  (min(w) * 6.0).backward();
  check_values(w.grad(), {2, 2, 2});
}

TEST_CASE("reduction: max/min gradcheck over several axes and keepdim") {
  Tensor x = leaf({2, 3, 4}, 11);
  check_gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return min(in[0]); }, {x});
  for (int64_t axis : {0, 1, 2, -1}) {
    for (bool keepdim : {false, true}) {
      INFO("axis " << axis << " keepdim " << keepdim);
      check_gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], axis, keepdim); },
                      {x});
      check_gradcheck([=](const std::vector<Tensor>& in) { return min(in[0], axis, keepdim); },
                      {x});
    }
  }
}

TEST_CASE("reduction: max double backward: the gradient of the gradient flows to g") {
  // f = max(x, 1) . (a x) summed: d/dx [sum(g * onehot)] where g depends on x
  Tensor x = tensor({1, 4, 2, 7, 3, 5}, {2, 3}, float64).requires_grad_();
  Tensor m = max(x, 1);
  Tensor gx = grad({sum(m * m)}, {x}, {}, create_graph())[0];  // 2 m onehot
  check_values(gx, {0, 8, 0, 14, 0, 0});
  Tensor gg = grad({sum(gx)}, {x})[0];  // d/dx 2 max = 2 onehot
  check_values(gg, {0, 2, 0, 2, 0, 0});
}

TEST_CASE("reduction: max/min forward mode") {
  Tensor x = tensor({1, 3, 3, 2, 5, 0}, {2, 3}, float64);
  Tensor v = tensor({0.5, -1, 2, 3, 0.25, 7}, {2, 3}, float64);
  Tensor y = max(dual(x, v), 1, true);
  REQUIRE(y.tangent().defined());
  check_values(y.tangent(), {0.5, 0.25});  // ties share: (-1 + 2)/2
  Tensor z = min(dual(x, v));
  check_values(z.tangent(), {7});
}

TEST_CASE("reduction: max/min errors") {
  CHECK_THROWS_WITH_AS(max(zeros({0, 3}, float64)), doctest::Contains("max: cannot reduce"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(min(zeros({2, 0}, float64), 1), doctest::Contains("min: cannot reduce"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max(zeros({2, 3}), 2), doctest::Contains("max: axis 2"), std::out_of_range);
}

// ---------------------------------------------------------------- argmax / argmin

TEST_CASE("reduction: argmax/argmin pick the first occurrence and do not record") {
  Tensor x = tensor({1, 3, 3, 2, 2, 0}, {2, 3}, float64).requires_grad_();
  Tensor a = argmax(x, 1);
  check_values(a, {1, 0});
  CHECK(a.shape() == Shape{2});
  CHECK_FALSE(a.requires_grad());
  CHECK(a.dtype() == int64);
  check_values(argmin(x, 0), {0, 1, 1});
  check_values(argmin(x, -1), {0, 2});
  CHECK(argmax(x, 0, true).shape() == Shape{1, 3});
  check_values(argmax(x, 0, true), {1, 0, 0});
  Tensor y = arange(24, float32).reshape({2, 3, 4});
  check_values(argmax(y, 1), {2, 2, 2, 2, 2, 2, 2, 2});
  check_values(argmin(y, 2), {0, 0, 0, 0, 0, 0});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_values(argmax(tensor({1, nan, 5}, {3}, float64), 0), {1});  // NaN is the max (PyTorch)
  CHECK_THROWS_WITH_AS(argmax(zeros({2, 0}), 1), doctest::Contains("argmax: cannot reduce"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(argmin(zeros({2, 3}), -3), doctest::Contains("argmin: axis -3"),
                       std::out_of_range);
}

// ---------------------------------------------------------------- var

TEST_CASE("reduction: var values (unbiased and biased, axes, keepdim)") {
  Tensor x = tensor({1, 2, 3, 4}, {4}, float64);
  CHECK(var(x).item() == doctest::Approx(5.0 / 3.0));
  CHECK(var(x, false).item() == doctest::Approx(1.25));
  Tensor m = tensor({1, 2, 3, 4, 5, 7}, {3, 2}, float64);
  check_values(var(m, 0), {4.0, 19.0 / 3.0});
  check_values(var(m, 1, false, false), {0.25, 0.25, 1.0});
  CHECK(var(m, 1, true).shape() == Shape{3, 1});
  Tensor c = tensor({1, 2, 3, 4, 5, 7, 0, -1}, {2, 2, 2}, float64);
  check_values(var(c, std::vector<int64_t>{0, 2}), {91.0 / 12.0, 17.0 / 3.0});
  CHECK(var(c, std::vector<int64_t>{0, 2}, true).shape() == Shape{1, 2, 1});
  // no catastrophic cancellation around a large offset (float32)
  Tensor big = tensor({10000.5, 10001.5, 10002.5, 10003.5}, {4}, float32);
  CHECK(var(big).item() == doctest::Approx(5.0 / 3.0).epsilon(1e-6));
  // one element, unbiased: 0/0 = NaN as PyTorch
  CHECK(std::isnan(var(tensor({1}, {1}, float64)).item()));
  CHECK(var(tensor({1}, {1}, float64), false).item() == 0);
  CHECK_THROWS_WITH_AS(var(zeros({0}, float64)), doctest::Contains("var: cannot reduce"),
                       std::invalid_argument);
}

TEST_CASE("reduction: var gradcheck, double backward and forward mode") {
  Tensor x = leaf({3, 4, 2}, 5);
  check_gradcheck([](const std::vector<Tensor>& in) { return var(in[0]); }, {x});
  check_gradcheck([](const std::vector<Tensor>& in) { return var(in[0], false); }, {x});
  for (int64_t axis : {0, 1, -1})
    for (bool keepdim : {false, true})
      for (bool unbiased : {false, true}) {
        INFO("axis " << axis << " keepdim " << keepdim << " unbiased " << unbiased);
        check_gradcheck(
            [=](const std::vector<Tensor>& in) { return var(in[0], axis, keepdim, unbiased); },
            {x});
      }
  check_gradcheck(
      [](const std::vector<Tensor>& in) {
        return var(in[0], std::vector<int64_t>{0, 2}, true);
      },
      {x});

  // Hessian of unbiased var over n elements: 2/(n-1) (I - 11^T/n), so H v = 2/(n-1) (v - mean v)
  Tensor y = leaf({5}, 6);
  Tensor v = tensor({1, -2, 0.5, 3, 0.25}, {5}, float64);
  Tensor hv = hess_vec([](const Tensor& t) { return var(t); }, y, v);
  const double vm = (1 - 2 + 0.5 + 3 + 0.25) / 5;
  std::vector<double> want;
  for (double e : v.to_vector()) want.push_back(2.0 / 4.0 * (e - vm));
  check_values(hv, want, 1e-10);

  // forward mode against reverse mode
  Tensor w = leaf({3, 2}, 8).detach();
  Tensor t = leaf({3, 4, 2}, 9).detach();
  auto f = [](const Tensor& a) { return var(a, 1, false, true); };
  Tensor out = f(dual(x.detach(), t));
  REQUIRE(out.tangent().defined());
  CHECK(sum(out.tangent() * w).item() ==
        doctest::Approx(reverse_directional(f, x, t, w)).epsilon(1e-10));
}

// ---------------------------------------------------------------- logsumexp

TEST_CASE("reduction: logsumexp values are stable") {
  CHECK(logsumexp(tensor({1, 2, 3}, {3}, float64)).item() == doctest::Approx(3.4076059644443806));
  Tensor big = tensor({1000, 1000, -1000, 1000}, {2, 2}, float64);
  check_values(logsumexp(big, 1), {1000 + std::log(2.0), 1000});
  check_values(logsumexp(big, 0, true), {1000, 1000 + std::log(2.0)});
  CHECK(logsumexp(big, 0, true).shape() == Shape{1, 2});
  Tensor f32 = tensor({1000, 1001}, {2}, float32);
  CHECK(logsumexp(f32).item() == doctest::Approx(1001 + std::log1p(std::exp(-1.0))));
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(logsumexp(tensor({-inf, -inf}, {2}, float64)).item() == -inf);
  CHECK(logsumexp(tensor({inf, 1}, {2}, float64)).item() == inf);
  Tensor y = arange(24, float64).reshape({2, 3, 4});
  Tensor l = logsumexp(y, 1);
  CHECK(l.shape() == Shape{2, 4});
  CHECK(l.to_vector()[0] == doctest::Approx(std::log(std::exp(0.) + std::exp(4.) + std::exp(8.))));
}

TEST_CASE("reduction: logsumexp gradcheck over several axes and keepdim") {
  Tensor x = leaf({2, 3, 4}, 21);
  check_gradcheck([](const std::vector<Tensor>& in) { return logsumexp(in[0]); }, {x});
  for (int64_t axis : {0, 1, 2, -2})
    for (bool keepdim : {false, true}) {
      INFO("axis " << axis << " keepdim " << keepdim);
      check_gradcheck(
          [=](const std::vector<Tensor>& in) { return logsumexp(in[0], axis, keepdim); }, {x});
    }
}

TEST_CASE("reduction: logsumexp gradient is softmax, Hessian diag(p) - p p^T") {
  Tensor x = tensor({0.5, -1, 2, 0.1}, {4}, float64).requires_grad_();
  std::vector<double> p;
  double z = 0;
  for (double e : x.to_vector()) z += std::exp(e);
  for (double e : x.to_vector()) p.push_back(std::exp(e) / z);
  Tensor g = grad({logsumexp(x)}, {x})[0];
  check_values(g, p);
  Tensor v = tensor({1, 2, -1, 0.5}, {4}, float64);
  Tensor hv = hess_vec([](const Tensor& t) { return logsumexp(t); }, x, v);
  double pv = 0;
  for (int i = 0; i < 4; ++i) pv += p[i] * v.to_vector()[i];
  std::vector<double> want;
  for (int i = 0; i < 4; ++i) want.push_back(p[i] * v.to_vector()[i] - p[i] * pv);
  check_values(hv, want, 1e-10);

  // along an axis of a 2-D tensor, with a non-trivial upstream weighting
  Tensor m = leaf({3, 4}, 4);
  Tensor w = tensor({1, -2, 0.5}, {3}, float64);
  Tensor u = leaf({3, 4}, 7).detach();
  Tensor hm = hess_vec([&](const Tensor& t) { return sum(logsumexp(t, 1) * w); }, m, u);
  const std::vector<double> mv = m.to_vector(), uv = u.to_vector(), wv = w.to_vector();
  std::vector<double> want2;
  for (int r = 0; r < 3; ++r) {
    double zr = 0, pu = 0;
    for (int c = 0; c < 4; ++c) zr += std::exp(mv[r * 4 + c]);
    for (int c = 0; c < 4; ++c) pu += std::exp(mv[r * 4 + c]) / zr * uv[r * 4 + c];
    for (int c = 0; c < 4; ++c) {
      const double pc = std::exp(mv[r * 4 + c]) / zr;
      want2.push_back(wv[r] * (pc * uv[r * 4 + c] - pc * pu));
    }
  }
  check_values(hm, want2, 1e-10);
}

TEST_CASE("reduction: logsumexp forward mode matches reverse mode") {
  Tensor x = leaf({3, 4}, 30).detach();
  Tensor t = leaf({3, 4}, 31).detach();
  Tensor w = leaf({3, 1}, 32).detach();
  auto f = [](const Tensor& a) { return logsumexp(a, 1, true); };
  Tensor out = f(dual(x, t));
  REQUIRE(out.tangent().defined());
  CHECK(sum(out.tangent() * w).item() ==
        doctest::Approx(reverse_directional(f, x, t, w)).epsilon(1e-10));
  Tensor all = logsumexp(dual(x, t));
  CHECK(all.tangent().item() ==
        doctest::Approx(reverse_directional([](const Tensor& a) { return logsumexp(a); }, x, t,
                                            scalar_tensor(1.0, float64)))
            .epsilon(1e-10));
}

// ---------------------------------------------------------------- sum / mean (existing)

TEST_CASE("reduction: sum and mean on a 0-d tensor and over axes") {
  Tensor s = scalar_tensor(3.0, float64);
  CHECK(sum(s, 0).item() == 3.0);
  CHECK(sum(s, 0).shape() == Shape{});
  Tensor x = arange(6, float64).reshape({2, 3});
  check_values(sum(x, 0), {3, 5, 7});
  check_values(mean(x, 1, true), {1, 4});
  check_gradcheck([](const std::vector<Tensor>& in) { return mean(in[0], 0); }, {leaf({2, 3}, 1)});
}

// ---------------------------------------------------------------- new reductions (issue 13)

TEST_CASE("reduction: max, min and logsumexp over several axes") {
  const Tensor x = tensor({1, 5, 3, 4, 2, 6, 0, 9, 8, 7, -1, 2}, {2, 3, 2}, float64);
  check_values(max(x, {0, 2}), {9, 8, 6});
  check_values(min(x, {-1, 0}), {0, 3, -1});
  CHECK(max(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(max(x, {0, 1, 2}).shape() == Shape{});
  check_values(logsumexp(x, {0, 2}),
               {std::log(std::exp(1) + std::exp(5) + std::exp(0) + std::exp(9)),
                std::log(std::exp(3) + std::exp(4) + std::exp(8) + std::exp(7)),
                std::log(std::exp(2) + std::exp(6) + std::exp(-1) + std::exp(2))},
               1e-14);
  // Ties over the reduced axes share the gradient (torch.amax).
  Tensor t = tensor({3, 1, 3, 3}, {2, 2}, float64).requires_grad_();
  max(t, {0, 1}).backward();
  check_values(t.grad(), {1.0 / 3, 0, 1.0 / 3, 1.0 / 3});
  CHECK_THROWS_WITH_AS(max(x, {0, 0}), doctest::Contains("repeated"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max(zeros({2, 0, 3}), {1, 2}), doctest::Contains("zero elements"),
                       std::invalid_argument);
  const Tensor r = randn64({3, 4, 5}, 21);
  check_all_orders([](const Tensor& v) { return max(v, {0, 2}); }, r, 22);
  check_all_orders([](const Tensor& v) { return logsumexp(v, {2, 0}, true); }, r, 23);
}

TEST_CASE("reduction: std is the square root of var") {
  const Tensor x = tensor({1, 2, 3, 4, 6, 8}, {2, 3}, float64);
  CHECK(dagrad::std(x).item() == doctest::Approx(std::sqrt(var(x).item())));
  check_values(dagrad::std(x, 1), {1, 2});
  check_values(dagrad::std(x, 1, false, false), {std::sqrt(2.0 / 3), std::sqrt(8.0 / 3)});
  check_values(dagrad::std(x, std::vector<int64_t>{0, 1}, true), {std::sqrt(var(x).item())});
  CHECK(std::isnan(dagrad::std(scalar_tensor(1.0, float64)).item()));  // n - 1 = 0, as torch
  check_all_orders([](const Tensor& v) { return dagrad::std(v, 1); }, randn64({3, 4}, 24), 25);
}

TEST_CASE("reduction: norm for every p, with torch's gradient 0 at the zero vector") {
  const Tensor x = tensor({3, -4, 0, 1, 2, -2}, {2, 3}, float64);
  CHECK(norm(x).item() == doctest::Approx(std::sqrt(34.0)));
  check_values(norm(x, 2, {1}), {5, 3});
  check_values(norm(x, 1, {1}), {7, 5});
  check_values(norm(x, INFINITY, {1}), {4, 2});
  check_values(norm(x, -INFINITY, {1}), {0, 1});
  check_values(norm(x, 0, {1}), {2, 3});
  check_values(norm(x, 3, {1}), {std::cbrt(91.0), std::cbrt(17.0)});
  check_values(norm(x, 0.5, {1}),
               {std::pow(std::sqrt(3.0) + 2, 2), std::pow(1 + 2 * std::sqrt(2.0), 2)});
  CHECK(norm(x, 2, {0, 1}, true).shape() == Shape{1, 1});
  CHECK_THROWS_WITH_AS(norm(x, NAN), "norm: p is NaN", std::invalid_argument);
  for (double p : {2.0, 3.0, 1.5}) {
    CAPTURE(p);
    Tensor z = zeros({3}, float64).requires_grad_();
    norm(z, p).backward();
    check_values(z.grad(), {0, 0, 0});
    check_all_orders([p](const Tensor& v) { return norm(v, p, {1}); }, randn64({3, 4}, 26), 27);
  }
  check_all_orders([](const Tensor& v) { return norm(v, 1); }, randn64({5}, 28), 29);
  check_all_orders([](const Tensor& v) { return norm(v, INFINITY, {0}); }, randn64({4, 2}, 30), 31);
}

TEST_CASE("reduction: cumsum, as torch.cumsum") {
  const Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  check_values(cumsum(x, 1), {1, 3, 6, 4, 9, 15});
  check_values(cumsum(x, 0), {1, 2, 3, 5, 7, 9});
  CHECK(cumsum(scalar_tensor(2.0), 0).shape() == Shape{});
  CHECK(cumsum(zeros({0, 3}), 0).shape() == Shape{0, 3});
  // float32 accumulates in double, as torch's CPU kernel: 1e8 + 1 + ... stays exact in float.
  CHECK(cumsum(tensor({1e8, 1, 1, 1, 1}), 0).to_vector().back() == static_cast<float>(1e8 + 4));
  Tensor l = tensor({1, 2, 3}, {3}, float64).requires_grad_();
  cumsum(l, 0).backward(tensor({1, 10, 100}, {3}, float64));
  check_values(l.grad(), {111, 110, 100});
  CHECK_THROWS_AS(cumsum(x, 2), std::out_of_range);
  check_all_orders([](const Tensor& v) { return square(cumsum(v, -1)); }, randn64({3, 4}, 32), 33);
}

TEST_CASE("reduction: prod with and without zeros, differentiable to second order") {
  const Tensor x = tensor({1, 2, 3, 4, 0, 6}, {2, 3}, float64);
  check_values(prod(x, 1), {6, 0});
  check_values(prod(x, 0), {4, 0, 18});
  CHECK(prod(x).item() == 0);
  CHECK(prod(zeros({2, 0}), 1).to_vector() == std::vector<double>{1, 1});
  CHECK(prod(scalar_tensor(3.0)).item() == 3);
  // One zero in a row: its gradient is the product of the others; two zeros: all 0.
  Tensor a = tensor({2, 0, 3, 0, 0, 5}, {2, 3}, float64).requires_grad_();
  prod(a, 1).sum().backward();
  check_values(a.grad(), {0, 6, 0, 0, 0, 0});
  Tensor b = tensor({2, 0, 3}, {3}, float64).requires_grad_();
  Tensor gb = grad({prod(b)}, {b}, {}, create_graph())[0];
  check_values(gb, {0, 6, 0});
  // d2 prod / db_i db_j = prod of the rest without i and j: row of b_1 = (3, 0, 2).
  check_values(grad({slice(gb, 0, 1, 2).sum()}, {b})[0], {3, 0, 2});
  check_all_orders([](const Tensor& v) { return prod(v, 1); }, randn64({3, 4}, 34), 35);
  check_all_orders([](const Tensor& v) { return prod(v, 0, true); },
                   tensor({0.5, 0, 2, 0, 1.5, 3}, {3, 2}, float64), 36);
}
