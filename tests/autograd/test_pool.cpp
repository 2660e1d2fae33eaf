#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/pool.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

struct PoolCfg {
  int64_t N, C, H, W;
  Size2 k, s, p;
};

// Naive pooling references: max (first maximum wins, padding never wins) and average
// (count_include_pad: divide by kh*kw). Also the argmax positions for the max-pool gradient.
std::vector<double> naive_pool(const std::vector<double>& x, const PoolCfg& c, bool is_max,
                               std::vector<int64_t>* argmax = nullptr) {
  const int64_t OH = (c.H + 2 * c.p.h - c.k.h) / c.s.h + 1;
  const int64_t OW = (c.W + 2 * c.p.w - c.k.w) / c.s.w + 1;
  std::vector<double> out;
  for (int64_t pl = 0; pl < c.N * c.C; ++pl)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        double best = -std::numeric_limits<double>::infinity(), acc = 0;
        int64_t bi = -1;
        for (int64_t a = 0; a < c.k.h; ++a)
          for (int64_t b = 0; b < c.k.w; ++b) {
            const int64_t h = i * c.s.h - c.p.h + a, w = j * c.s.w - c.p.w + b;
            if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
            const int64_t e = (pl * c.H + h) * c.W + w;
            acc += x[e];
            if (x[e] > best) best = x[e], bi = e;
          }
        out.push_back(is_max ? best : acc / static_cast<double>(c.k.h * c.k.w));
        if (argmax) argmax->push_back(bi);
      }
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Distinct values (a shuffled 0.1-spaced grid), so that no window has a tie or near-tie.
Tensor distinct_values(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  const int64_t n = s.numel();
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1 * static_cast<double>(i) - 0.05 * n;
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[gen.randint(0, i + 1)]);
  return tensor(v, s, float64);
}

const std::vector<PoolCfg> kCfgs = {
    {2, 3, 6, 8, {2, 2}, {2, 2}, {0, 0}},   // the 2x2 fast path
    {2, 3, 7, 9, {2, 2}, {2, 2}, {0, 0}},   // fast path, odd sizes (last row/column dropped)
    {2, 2, 6, 70, {2, 2}, {2, 2}, {0, 0}},  // fast path, rows of 35 outputs (16 + 16 + 3)
    {1, 2, 4, 64, {2, 2}, {2, 2}, {0, 0}},  // fast path, rows of exactly 32 outputs
    {2, 2, 7, 7, {3, 3}, {2, 2}, {1, 1}},   // overlapping windows with padding
    {1, 2, 6, 9, {2, 3}, {1, 2}, {1, 1}},   // non-square kernel and stride
    {2, 1, 5, 5, {3, 3}, {1, 1}, {0, 0}},   // stride 1: heavy overlap
    {1, 1, 4, 6, {4, 2}, {3, 3}, {2, 0}},   // padding of half the kernel
};

}  // namespace

TEST_CASE("pool: max_pool2d hand-computed values and gradient") {
  Tensor x = tensor({1, 5, 2, 0,    //
                     3, 4, 8, 7,    //
                     -1, -2, 6, 6,  //
                     -3, -4, 6, 5},
                    {1, 1, 4, 4}, float64)
                 .requires_grad_();
  Tensor y = max_pool2d(x, 2);  // stride defaults to the kernel
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<double>{5, 8, -1, 6});
  y.backward(tensor({1, 2, 3, 4}, {1, 1, 2, 2}, float64));
  // The bottom-right window has three 6s: the first in row-major order gets the gradient.
  CHECK(x.grad().to_vector() ==
        std::vector<double>{0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0});
}

TEST_CASE("pool: max_pool2d 2x2 fast path: NaN wins, later NaN over earlier, odd sizes") {
  const double nan = std::nan("");
  for (Dtype dt : {float32, float64}) {
    // windows: [1 nan; 2 3] -> nan (index 1); [nan 5; 4 nan] -> the later nan (index 3 of the
    // window); [7 7; 7 7] -> first 7; [-1 -2; 0 -3] -> 0
    Tensor x = tensor({1, nan, nan, 5, 7, 7, -1, -2,  //
                       2, 3, 4, nan, 7, 7, 0, -3},
                      {1, 1, 2, 8}, dt)
                   .requires_grad_();
    Tensor y = max_pool2d(x, 2);
    const auto v = y.to_vector();
    REQUIRE(v.size() == 4);
    CHECK(std::isnan(v[0]));
    CHECK(std::isnan(v[1]));
    CHECK(v[2] == 7);
    CHECK(v[3] == 0);
    y.backward(tensor({10, 20, 30, 40}, {1, 1, 1, 4}, dt));
    CHECK(x.grad().to_vector() ==
          std::vector<double>{0, 10, 0, 0, 30, 0, 0, 0, 0, 0, 0, 20, 0, 0, 40, 0});
  }
  // Odd height and width: the last row and column belong to no window and get 0.
  Tensor z = arange(35, float64).reshape({1, 1, 5, 7}).requires_grad_();
  Tensor m = max_pool2d(z, 2);
  CHECK(m.to_vector() == std::vector<double>{8, 10, 12, 22, 24, 26});
  // A freed NaN block of the gradient's size: the allocator's cache likely hands it to the
  // gradient, so an entry the backward does not write would show.
  { Tensor junk = full({1, 1, 5, 7}, nan, float64); }
  m.sum().backward();
  std::vector<double> want(35, 0.0);
  for (int k : {8, 10, 12, 22, 24, 26}) want[k] = 1;
  CHECK(z.grad().to_vector() == want);
}

TEST_CASE("pool: max_pool2d ties go to the first maximum (general path, overlapping)") {
  Tensor x = ones({1, 1, 3, 3}, float64).requires_grad_();
  Tensor y = max_pool2d(x, 2, 1);  // four overlapping 2x2 windows of ones
  CHECK(y.to_vector() == std::vector<double>{1, 1, 1, 1});
  y.sum().backward();
  // each window's first element: (0,0), (0,1), (1,0), (1,1)
  CHECK(x.grad().to_vector() == std::vector<double>{1, 1, 0, 1, 1, 0, 0, 0, 0});
  // With padding, a window whose only real entries are negative still picks a real entry.
  Tensor z = full({1, 1, 2, 2}, -3.0, float64).requires_grad_();
  Tensor m = max_pool2d(z, 2, 1, 1);
  CHECK(m.shape() == Shape{1, 1, 3, 3});
  CHECK(m.to_vector() == std::vector<double>(9, -3.0));
  m.sum().backward();
  // windows (top-left corners at -1..1): the first real entry of each window
  CHECK(z.grad().to_vector() == std::vector<double>{4, 2, 2, 1});
}

TEST_CASE("pool: max_pool2d matches the naive loops, values and gradient") {
  for (const PoolCfg& c : kCfgs) {
    INFO("cfg H W = ", c.H, " ", c.W, " k ", c.k.h, " ", c.k.w, " s ", c.s.h, " ", c.s.w, " p ",
         c.p.h, " ", c.p.w);
    for (Dtype dt : {float64, float32}) {
      Tensor x = distinct_values({c.N, c.C, c.H, c.W}, 3).to(dt).detach().requires_grad_();
      Tensor y = max_pool2d(x, c.k, c.s, c.p);
      std::vector<int64_t> am;
      const auto ref = naive_pool(x.to_vector(), c, true, &am);
      CHECK(max_abs_diff(y.to_vector(), ref) == 0.0);
      Tensor dout = distinct_values(y.shape(), 4).to(dt);
      y.backward(dout);
      std::vector<double> dx(x.numel(), 0.0);
      const auto dv = dout.to_vector();
      for (std::size_t o = 0; o < am.size(); ++o) dx[am[o]] += dv[o];
      CHECK(max_abs_diff(x.grad().to_vector(), dx) < 1e-5);
    }
  }
}

TEST_CASE("pool: avg_pool2d hand-computed values, padding counted in the divisor") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {1, 1, 4, 4}, float64)
                 .requires_grad_();
  Tensor y = avg_pool2d(x, 2);
  CHECK(y.to_vector() == std::vector<double>{3.5, 5.5, 11.5, 13.5});
  y.backward(tensor({4, 8, 12, 16}, {1, 1, 2, 2}, float64));
  CHECK(x.grad().to_vector() ==
        std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // count_include_pad (PyTorch's default): 3x3 windows with padding 1 on a 2x2 of ones
  // cover all four real entries and divide by 9.
  Tensor z = avg_pool2d(ones({1, 1, 2, 2}, float64), 3, 1, 1);
  REQUIRE(z.shape() == Shape{1, 1, 2, 2});
  for (double v : z.to_vector()) CHECK(v == doctest::Approx(4.0 / 9.0).epsilon(1e-15));
}

TEST_CASE("pool: avg_pool2d matches the naive loops, values and gradient") {
  for (const PoolCfg& c : kCfgs) {
    INFO("cfg H W = ", c.H, " ", c.W, " k ", c.k.h, " ", c.k.w);
    Generator gen(8);
    Tensor x = randn({c.N, c.C, c.H, c.W}, gen, float64).requires_grad_();
    Tensor y = avg_pool2d(x, c.k, c.s, c.p);
    CHECK(max_abs_diff(y.to_vector(), naive_pool(x.to_vector(), c, false)) < 1e-14);
    // The gradient is the adjoint: <avg(x), d> = <x, avg^T(d)> for all x.
    Tensor d = randn(y.shape(), gen, float64);
    y.backward(d);
    Tensor x2 = randn(x.shape(), gen, float64);
    const double lhs = (avg_pool2d(x2, c.k, c.s, c.p) * d).sum().item();
    const double rhs = (x2 * x.grad()).sum().item();
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-12));
  }
}

TEST_CASE("pool: gradcheck in float64 for both pools") {
  // Both pools are linear around these inputs (values 0.1 apart: no winner changes within a
  // step), so central differences are exact for any step; a large step keeps the rounding
  // noise far below the tolerance.
  GradcheckOptions opts;
  opts.eps = 1e-3;
  for (const PoolCfg& c : kCfgs) {
    INFO("cfg H W = ", c.H, " ", c.W, " k ", c.k.h, " ", c.k.w);
    Tensor x = distinct_values({c.N, c.C, c.H, c.W}, 9).requires_grad_();
    auto rm = gradcheck(
        [c](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.k, c.s, c.p); }, {x}, opts);
    INFO(rm.report());
    CHECK(rm.passed);
    auto ra = gradcheck(
        [c](const std::vector<Tensor>& in) { return avg_pool2d(in[0], c.k, c.s, c.p); }, {x}, opts);
    INFO(ra.report());
    CHECK(ra.passed);
  }
}

TEST_CASE("pool: forward mode") {
  const PoolCfg c{1, 2, 5, 6, {3, 2}, {2, 2}, {1, 1}};
  Tensor x = distinct_values({c.N, c.C, c.H, c.W}, 10);
  Generator gen(2);
  Tensor t = randn(x.shape(), gen, float64);
  // max pool: the tangent of the winner; central differences are exact while no winner changes
  auto fm = [c](const Tensor& v) { return max_pool2d(v, c.k, c.s, c.p); };
  auto [ym, tm] = jvp(UnaryFn(fm), x, t);
  const double h = 1e-4;  // values are 0.1 apart, |t| < 5: no window changes its winner
  CHECK(rel_error(tm, (fm(x + t * h) - fm(x - t * h)) / (2 * h)) < 1e-9);
  auto fa = [c](const Tensor& v) { return avg_pool2d(v, c.k, c.s, c.p); };
  auto [ya, ta] = jvp(UnaryFn(fa), x, t);
  CHECK(rel_error(ta, fa(t)) < 1e-15);  // linear
}

TEST_CASE("pool: double backward through max and average pooling") {
  // Distinct values: no ties, so the argmax (and every derivative) is well defined.
  const Tensor x = distinct_values({2, 2, 5, 5}, 1) * 0.25;
  for (Size2 stride : {Size2{2}, Size2{1}}) {  // disjoint and overlapping windows
    test_util::check_all_orders(
        [stride](const Tensor& v) { return square(max_pool2d(v, 3, stride, 1)); }, x, 130);
    test_util::check_all_orders(
        [stride](const Tensor& v) { return square(avg_pool2d(v, 3, stride, 1)); }, x, 131);
  }
  // y = sum(pool(x)^2): d2y/dx2 v = 2 P^T P v for the pooling map P (linear for average, and
  // for max with the argmax fixed), so the Hessian-vector product is pool's backward of
  // 2 pool(v).
  const Tensor xl = x.detach().requires_grad_(), v = test_util::randn64({2, 2, 5, 5}, 132);
  for (int which = 0; which < 2; ++which) {
    auto pool = [which](const Tensor& t) {
      return which == 0 ? max_pool2d(t, 2) : avg_pool2d(t, 2);
    };
    const Tensor gx = dagrad::grad({sum(square(pool(xl)))}, {xl}, {}, test_util::create_graph())[0];
    const Tensor hv = dagrad::grad({sum(gx * v)}, {xl})[0];
    // P v is pool's forward-mode tangent along v; P^T (2 P v) a vector-Jacobian product.
    const Tensor pv = pool(make_dual(xl.detach(), v)).tangent();
    const Tensor want = dagrad::grad({sum(pool(xl) * (pv * 2.0))}, {xl})[0];
    CHECK(max(abs(hv - want)).item() < 1e-13);
  }
  CHECK(std::string(max_pool2d(xl, 2).grad_fn()->name) == "max_pool2d");
}

TEST_CASE("pool: errors name the op and the shapes") {
  Tensor x = zeros({2, 3, 5, 5});
  CHECK(error_of([&] {
          max_pool2d(zeros({3, 5, 5}), 2);
        }) == "max_pool2d: input must be 4-D (N, C, H, W), got shape (3, 5, 5)");
  CHECK(error_of([&] {
          avg_pool2d(zeros({5, 5}), 2);
        }) == "avg_pool2d: input must be 4-D (N, C, H, W), got shape (5, 5)");
  CHECK(error_of([&] {
          max_pool2d(x, Size2{0, 2});
        }) == "max_pool2d: kernel size must be positive, got (0, 2)");
  CHECK(error_of([&] {
          avg_pool2d(x, 2, Size2{-1, 2});
        }) == "avg_pool2d: stride must be positive, got (-1, 2)");
  CHECK(error_of([&] { max_pool2d(x, 2, 2, 2); }) ==
        "max_pool2d: padding (2, 2) must be non-negative and at most half the kernel (2, 2)");
  CHECK(error_of([&] { avg_pool2d(x, 3, 1, -1); }) ==
        "avg_pool2d: padding (-1, -1) must be non-negative and at most half the kernel (3, 3)");
  CHECK(error_of([&] { max_pool2d(x, 6); }) ==
        "max_pool2d: kernel (6, 6) is larger than the padded input 5x5 (input (2, 3, 5, 5), "
        "padding (0, 0))");
  CHECK(error_of([&] { max_pool2d(x, 3, 2, 1); }) == "(no error)");
}

TEST_CASE("pool: max_pool2d and avg_pool2d match PyTorch on integer data full of ties") {
  // x = round(3 sin(1.7 i)), reference values from torch.nn.functional (torch 1.13) with
  // kernel (3, 2), stride 2, padding 1 (max) and kernel 3, stride 2, padding 1 (avg), and
  // upstream gradient arange(numel).
  std::vector<double> v(50);
  for (int i = 0; i < 50; ++i) v[i] = std::round(std::sin(i * 1.7) * 3);
  Tensor x = tensor(v, {2, 1, 5, 5}, float64).requires_grad_();
  Tensor y = max_pool2d(x, {3, 2}, 2, 1);
  CHECK(y.to_vector() == std::vector<double>{2, 3, 3, 2, 3, 3, 2, 3, 3, 2, 3, 3, 2, 2, 3, 3, 2, 3});
  y.backward(arange(y.numel(), float64).reshape(y.shape()));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1,  0,  0, 0,  3,  0,  0, 7,  0, 0, 0, 4,
                                                    0, 0,  0,  7, 0,  0,  0,  6, 0,  0, 8, 0, 0,
                                                    0, 10, 0,  0, 21, 13, 0,  0, 25, 0, 0, 0, 0,
                                                    0, 0,  16, 0, 0,  0,  15, 0, 0,  0, 17});
  x.zero_grad();
  Tensor a = avg_pool2d(x, 3, 2, 1);
  const std::vector<double> a9 = {3, -2, 2, 1, 1, 1, 3, -2, 3, 2, 1, -1, 1, 0, 0, 3, 0, -1};
  REQUIRE(a.numel() == 18);
  for (int i = 0; i < 18; ++i)
    CHECK(a.to_vector()[i] == doctest::Approx(a9[i] / 9.0).epsilon(1e-14));
  a.backward(arange(18, float64).reshape(a.shape()));
  const std::vector<double> g9 = {0,  1,  1,  3,  2,  3,  8,  5,  12, 7,  3,  7,  4,
                                  9,  5,  9,  20, 11, 24, 13, 6,  13, 7,  15, 8,  9,
                                  19, 10, 21, 11, 21, 44, 23, 48, 25, 12, 25, 13, 27,
                                  14, 27, 56, 29, 60, 31, 15, 31, 16, 33, 17};
  const auto gv = x.grad().to_vector();
  for (int i = 0; i < 50; ++i) CHECK(gv[i] == doctest::Approx(g9[i] / 9.0).epsilon(1e-14));
}

TEST_CASE("pool: adaptive_avg_pool2d, with torch's bins, differentiable to any order") {
  const Tensor x = test_util::randn64({2, 3, 6, 8}, 120);
  // Divisible sizes are plain average pooling; 1 x 1 is the spatial mean.
  CHECK(max(abs(adaptive_avg_pool2d(x, Size2{3, 4}) - avg_pool2d(x, 2))).item() < 1e-15);
  CHECK(max(abs(adaptive_avg_pool2d(x, 1) - mean(x, std::vector<int64_t>{2, 3}, true))).item() <
        1e-15);
  // 5 rows into 3 bins: [0, 2), [1, 4), [3, 5), as torch.
  const Tensor col = reshape(arange(5, float64), {1, 5, 1});
  test_util::check_values(adaptive_avg_pool2d(col, Size2{3, 1}), {0.5, 2, 3.5});
  CHECK(adaptive_avg_pool2d(x, Size2{7, 10}).shape() == Shape{2, 3, 7, 10});  // larger: repeats
  CHECK(error_of([&] { adaptive_avg_pool2d(x, 0); }).find("must be positive") != std::string::npos);
  CHECK(error_of([&] {
          adaptive_avg_pool2d(ones({4, 4}, float64), 2);
        }).find("(N, C, H, W)") != std::string::npos);
  test_util::check_all_orders(
      [](const Tensor& v) {
        return square(adaptive_avg_pool2d(v, Size2{4, 3}));
      },
      x, 121);
}

TEST_CASE("pool: adaptive_max_pool2d, torch 1.13's windows and first-maximum gradients") {
  // 4 x 5 into 3 x 2: rows [0,2) [1,3) [2,4), columns [0,3) [2,5); ties (4, 4), (3, 3) and
  // overlapping windows, which share one maximum at (2, 3).
  Tensor x =
      tensor({1, 5, 2, 0, 3, 4, 4, 0, 1, 2, 0, 0, 0, 3, 3, 2, 6, 1, 1, 0}, {1, 1, 4, 5}, float64)
          .requires_grad_();
  const Tensor y = adaptive_max_pool2d(x, Size2{3, 2});
  CHECK(y.shape() == Shape{1, 1, 3, 2});
  test_util::check_values(y, {5, 3, 4, 3, 6, 3});
  sum(y * reshape(arange(1.0, 7.0, 1.0, float64), {1, 1, 3, 2})).backward();
  test_util::check_values(x.grad(), {0, 1, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 5, 0, 0, 0});
  // Divisible sizes are max pooling; (C, H, W) works too.
  const Tensor z = test_util::randn64({2, 3, 6, 8}, 130);
  CHECK(max(abs(adaptive_max_pool2d(z, Size2{3, 4}) - max_pool2d(z, 2))).item() == 0);
  CHECK(adaptive_max_pool2d(reshape(z, {6, 6, 8}), 1).shape() == Shape{6, 1, 1});
  CHECK(error_of([&] {
          adaptive_max_pool2d(z, Size2{0, 2});
        }).starts_with("adaptive_max_pool2d: output size (0, 2) must be positive"));
  test_util::check_all_orders(
      [](const Tensor& v) {
        return square(adaptive_max_pool2d(v, Size2{4, 3}));
      },
      z, 131);
}

TEST_CASE("pool: ceil_mode and count_include_pad = false, as torch 1.13") {
  const Tensor x = reshape(arange(1.0, 36.0, 1.0, float64), {1, 1, 5, 7});
  test_util::check_values(
      avg_pool2d(x, 3, 2, 1, true, true),
      {2.2222222222222223, 4.333333333333333, 5.666666666666667, 4.444444444444445,
       10.333333333333334, 17.0, 19.0, 13.666666666666666, 11.555555555555555, 18.333333333333332,
       19.666666666666668, 13.777777777777779},
      1e-14);
  const std::vector<double> exclude = {5, 6.5, 8.5, 10, 15.5, 17, 19, 20.5, 26, 27.5, 29.5, 31};
  test_util::check_values(avg_pool2d(x, 3, 2, 1, true, false), exclude, 1e-14);
  test_util::check_values(avg_pool2d(x, 3, 2, 1, false, false), exclude, 1e-14);
  test_util::check_values(avg_pool2d(x, 2, 2, 0, true),
                          {5, 7, 9, 10.5, 19, 21, 23, 24.5, 29.5, 31.5, 33.5, 35}, 1e-14);
  test_util::check_values(max_pool2d(x, 2, 2, 0, true),
                          {9, 11, 13, 14, 23, 25, 27, 28, 30, 32, 34, 35});
  CHECK(max_pool2d(x, 3, 2, 1, true).shape() == Shape{1, 1, 3, 4});
  test_util::check_values(
      avg_pool2d(x, 3, 3, 1, true),
      {2.2222222222222223, 5.0, 4.444444444444445, 15.0, 25.0, 18.333333333333332}, 1e-14);
  // The defaults are the floor-mode kernels themselves.
  CHECK(max(abs(avg_pool2d(x, 2, 2, 0, false, true) - avg_pool2d(x, 2))).item() == 0);
  const Tensor r = test_util::randn64({2, 2, 5, 7}, 200);
  test_util::check_all_orders(
      [](const Tensor& v) { return square(avg_pool2d(v, 3, 2, 1, true, false)); }, r, 201);
  test_util::check_all_orders([](const Tensor& v) { return square(max_pool2d(v, 2, 2, 0, true)); },
                              distinct_values({2, 2, 5, 7}, 3) * 0.25, 202);
}
