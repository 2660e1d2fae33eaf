#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/norm.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// Naive batch norm on (N, C, S) data: per channel, batch mean and biased variance.
std::vector<double> naive_bn(const std::vector<double>& x, int64_t N, int64_t C, int64_t S,
                             const std::vector<double>& gamma, const std::vector<double>& beta,
                             double eps, std::vector<double>* mean_out = nullptr,
                             std::vector<double>* var_out = nullptr) {
  std::vector<double> out(x.size());
  for (int64_t c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) m += x[(n * C + c) * S + s];
    m /= N * S;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) v += std::pow(x[(n * C + c) * S + s] - m, 2);
    v /= N * S;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t e = (n * C + c) * S + s;
        out[e] = gamma[c] * (x[e] - m) / std::sqrt(v + eps) + beta[c];
      }
    if (mean_out) mean_out->push_back(m);
    if (var_out) var_out->push_back(v);
  }
  return out;
}

// Per-element size of what batch norm's backward adds up, for comparing two implementations of
// it: dx_i = k (g'_i - mean(g') - xh_i mean(g' xh)) with k = gamma rstd and g' = g where the
// ReLU passed (y > 0); in eval mode dx_i = k g'_i. dx[i] bounds |k g'_i| + |k mean(g')| +
// |k xh_i mean(g' xh)|, so a result that cancels to ~0 is not held to a relative bound it
// cannot meet; dgamma[c] = sum |g' xh| and dbeta[c] = sum |g'| over the channel.
struct BnTermSizes {
  std::vector<double> dx, dgamma, dbeta;
};

BnTermSizes bn_term_sizes(const Tensor& x, const Tensor& g, const Tensor& y, const Tensor& gamma,
                          const Tensor& running_mean, const Tensor& running_var, bool training,
                          double eps) {
  const std::vector<double> xv = x.to_vector(), gv = g.to_vector(), yv = y.to_vector(),
                            gm = gamma.to_vector(), rm = running_mean.to_vector(),
                            rv = running_var.to_vector();
  const int64_t N = x.shape()[0], C = x.shape()[1], S = x.numel() / (N * C), M = N * S;
  BnTermSizes t{std::vector<double>(xv.size()), std::vector<double>(C), std::vector<double>(C)};
  auto at = [&](int64_t n, int64_t c, int64_t s) { return (n * C + c) * S + s; };
  for (int64_t c = 0; c < C; ++c) {
    double mean = rm[c], var = rv[c];
    if (training) {
      mean = var = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) mean += xv[at(n, c, s)] / M;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) var += std::pow(xv[at(n, c, s)] - mean, 2) / M;
    }
    const double rstd = 1 / std::sqrt(var + eps), k = std::abs(gm[c] * rstd);
    auto masked = [&](int64_t e) { return yv[e] > 0 ? std::abs(gv[e]) : 0.0; };
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t e = at(n, c, s);
        t.dbeta[c] += masked(e);
        t.dgamma[c] += masked(e) * std::abs(xv[e] - mean) * rstd;
      }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t e = at(n, c, s);
        t.dx[e] = k * masked(e);
        if (training) t.dx[e] += k * (t.dbeta[c] + std::abs(xv[e] - mean) * rstd * t.dgamma[c]) / M;
      }
  }
  return t;
}

// max_i |a_i - b_i| / size_i (0 where both agree exactly, including where size_i is 0).
double scaled_diff(const Tensor& a, const Tensor& b, const std::vector<double>& size) {
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  REQUIRE(av.size() == size.size());
  double worst = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    const double d = std::abs(av[i] - bv[i]);
    if (d > 0) worst = std::max(worst, size[i] > 0 ? d / size[i] : INFINITY);
  }
  return worst;
}

}  // namespace

// ---------------------------------------------------------------- batch norm

TEST_CASE("norm: batch_norm 1-d training values (hand-computed)") {
  // column 0: 1 3 5 7 -> mean 4, biased var 5; column 1: 2 2 2 6 -> mean 3, var 3
  Tensor x = tensor({1, 2, 3, 2, 5, 2, 7, 6}, {4, 2}, float64);
  Tensor gamma = tensor({2, 0.5}, {2}, float64), beta = tensor({1, -1}, {2}, float64);
  Tensor y = batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.9, 0.0);
  const double s0 = std::sqrt(5.0), s1 = std::sqrt(3.0);
  const std::vector<double> want = {2 * -3 / s0 + 1,   0.5 * -1 / s1 - 1, 2 * -1 / s0 + 1,
                                    0.5 * -1 / s1 - 1, 2 * 1 / s0 + 1,    0.5 * -1 / s1 - 1,
                                    2 * 3 / s0 + 1,    0.5 * 3 / s1 - 1};
  CHECK(max_abs_diff(y.to_vector(), want) < 1e-14);
  // eps enters as sqrt(var + eps)
  Tensor y2 = batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.9, 1.0);
  CHECK(y2.at({0, 0}) == doctest::Approx(2 * -3 / std::sqrt(6.0) + 1).epsilon(1e-14));
}

TEST_CASE("norm: batch_norm running statistics after two steps, then eval") {
  Tensor rm = zeros({2}, float64), rv = ones({2}, float64);
  Tensor a = tensor({1, 2, 3, 2, 5, 2, 7, 6}, {4, 2}, float64);  // means 4, 3; vars 5, 3
  Tensor b = tensor({0, 1, 0, 1, 4, 1, 4, 5}, {4, 2}, float64);  // means 2, 2; vars 4, 3
  const uint64_t v0 = rm.version();
  batch_norm(a, Tensor(), Tensor(), rm, rv, true, 0.9);
  CHECK(rm.version() > v0);
  // running = 0.9 running + 0.1 batch (biased variance)
  CHECK(max_abs_diff(rm.to_vector(), {0.4, 0.3}) < 1e-15);
  CHECK(max_abs_diff(rv.to_vector(), {0.9 + 0.5, 0.9 + 0.3}) < 1e-15);
  batch_norm(b, Tensor(), Tensor(), rm, rv, true, 0.9);
  CHECK(max_abs_diff(rm.to_vector(), {0.36 + 0.2, 0.27 + 0.2}) < 1e-15);
  CHECK(max_abs_diff(rv.to_vector(), {1.26 + 0.4, 1.08 + 0.3}) < 1e-15);
  // Another momentum: 0.5
  Tensor rm2 = zeros({2}, float64), rv2 = ones({2}, float64);
  batch_norm(a, Tensor(), Tensor(), rm2, rv2, true, 0.5);
  CHECK(max_abs_diff(rm2.to_vector(), {2.0, 1.5}) < 1e-15);
  CHECK(max_abs_diff(rv2.to_vector(), {3.0, 2.0}) < 1e-15);

  // Eval: normalizes with the running statistics and leaves them alone.
  Tensor gamma = tensor({2, 3}, {2}, float64), beta = tensor({0.5, 0}, {2}, float64);
  const double eps = 1e-5;
  Tensor y = batch_norm(a, gamma, beta, rm, rv, false, 0.9, eps);
  CHECK(max_abs_diff(rm.to_vector(), {0.56, 0.47}) < 1e-15);
  CHECK(y.at({2, 0}) ==
        doctest::Approx(2 * (5 - 0.56) / std::sqrt(1.66 + eps) + 0.5).epsilon(1e-13));
  CHECK(y.at({3, 1}) == doctest::Approx(3 * (6 - 0.47) / std::sqrt(1.38 + eps)).epsilon(1e-13));
}

TEST_CASE("norm: batch_norm spatial values match the naive per-channel loops") {
  Generator gen(4);
  for (Dtype dt : {float64, float32}) {
    Tensor x = (randn({3, 4, 5, 6}, gen, dt) * 2.0 + 1.0).detach();
    Tensor gamma = randn({4}, gen, dt), beta = randn({4}, gen, dt);
    Tensor rm = zeros({4}, dt), rv = ones({4}, dt);
    Tensor y = batch_norm(x, gamma, beta, rm, rv, true, 0.9, 1e-5);
    std::vector<double> mean, var;
    const auto ref =
        naive_bn(x.to_vector(), 3, 4, 30, gamma.to_vector(), beta.to_vector(), 1e-5, &mean, &var);
    const double tol = dt == float64 ? 1e-12 : 1e-5;
    CHECK(max_abs_diff(y.to_vector(), ref) < tol);
    for (int c = 0; c < 4; ++c) {
      CHECK(rm.at({c}) == doctest::Approx(0.1 * mean[c]).epsilon(tol));
      CHECK(rv.at({c}) == doctest::Approx(0.9 + 0.1 * var[c]).epsilon(tol));
    }
    // (N, C, L) is handled the same way
    Tensor y3 = batch_norm(x.reshape({3, 4, 30}), gamma, beta, Tensor(), Tensor(), true, 0.9, 1e-5);
    CHECK(max_abs_diff(y3.to_vector(), ref) < tol);
  }
}

TEST_CASE("norm: batch_norm gradients (dbeta = sum g, dgamma = sum g xh) and gradcheck") {
  Generator gen(5);
  Tensor x = randn({6, 3}, gen, float64).requires_grad_();
  Tensor gamma = randn({3}, gen, float64).requires_grad_();
  Tensor beta = randn({3}, gen, float64).requires_grad_();
  Tensor g = randn({6, 3}, gen, float64);
  batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.9, 1e-5).backward(g);
  const auto xn = naive_bn(x.to_vector(), 6, 3, 1, {1, 1, 1}, {0, 0, 0}, 1e-5);  // xh
  const auto gv = g.to_vector();
  for (int c = 0; c < 3; ++c) {
    double sg = 0, sgx = 0, dxs = 0;
    for (int n = 0; n < 6; ++n) sg += gv[n * 3 + c], sgx += gv[n * 3 + c] * xn[n * 3 + c];
    for (int n = 0; n < 6; ++n) dxs += x.grad().at({n, c});
    CHECK(beta.grad().at({c}) == doctest::Approx(sg).epsilon(1e-13));
    CHECK(gamma.grad().at({c}) == doctest::Approx(sgx).epsilon(1e-13));
    CHECK(std::abs(dxs) < 1e-12);  // the output does not move when x shifts by a constant
  }

  auto train = [](bool with_running) {
    return [with_running](const std::vector<Tensor>& in) {
      Tensor rm = with_running ? zeros({in[1].numel()}, float64) : Tensor();
      Tensor rv = with_running ? ones({in[1].numel()}, float64) : Tensor();
      return batch_norm(in[0], in[1], in[2], rm, rv, true, 0.9, 1e-5);
    };
  };
  auto r1 = gradcheck(train(false), {x, gamma, beta});
  INFO(r1.report());
  CHECK(r1.passed);
  // spatial
  Tensor xs = randn({3, 2, 3, 4}, gen, float64).requires_grad_();
  Tensor gs = randn({2}, gen, float64).requires_grad_(),
         bs = randn({2}, gen, float64).requires_grad_();
  // A larger finite-difference step than the default: f sums 72 outputs, and the rounding
  // noise of central differences (~1e-16 |f| / eps) would otherwise reach the tolerance on the
  // smallest gradient entries; the truncation error (~eps^2) stays far below it.
  GradcheckOptions opts;
  opts.eps = 1e-5;
  auto r2 = gradcheck(train(true), {xs, gs, bs}, opts);
  INFO(r2.report());
  CHECK(r2.passed);
  // eval mode: a per-channel affine map
  Tensor rm = tensor({0.3, -0.2}, {2}, float64), rv = tensor({1.5, 0.7}, {2}, float64);
  auto r3 = gradcheck(
      [rm, rv](const std::vector<Tensor>& in) {
        return batch_norm(in[0], in[1], in[2], rm, rv, false, 0.9, 1e-5);
      },
      {xs, gs, bs});
  INFO(r3.report());
  CHECK(r3.passed);
  // no gamma / beta
  auto r4 = gradcheck(
      [](const std::vector<Tensor>& in) {
        return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.9, 1e-5);
      },
      {xs});
  INFO(r4.report());
  CHECK(r4.passed);
}

TEST_CASE("norm: batch_norm with undefined gamma/beta is gamma = 1, beta = 0") {
  Generator gen(6);
  Tensor x = randn({5, 3, 2, 2}, gen, float64);
  Tensor a = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  Tensor b = batch_norm(x, ones({3}, float64), zeros({3}, float64), Tensor(), Tensor(), true);
  CHECK(a.to_vector() == b.to_vector());
}

TEST_CASE("norm: batch_norm forward mode against central differences") {
  Generator gen(7);
  Tensor x = randn({4, 2, 3, 3}, gen, float64), gamma = randn({2}, gen, float64),
         beta = randn({2}, gen, float64);
  Tensor tx = randn(x.shape(), gen, float64), tg = randn({2}, gen, float64),
         tb = randn({2}, gen, float64);
  Tensor rm = tensor({0.1, 0.2}, {2}, float64), rv = tensor({0.9, 1.1}, {2}, float64);
  for (bool training : {true, false}) {
    auto f = [&](const std::vector<Tensor>& in) {
      return batch_norm(in[0], in[1], in[2], training ? Tensor() : rm, training ? Tensor() : rv,
                        training, 0.9, 1e-5);
    };
    auto [y, ty] = jvp(MultiFn(f), {x, gamma, beta}, {tx, tg, tb});
    const double h = 1e-6;
    Tensor num = (f({x + tx * h, gamma + tg * h, beta + tb * h}) -
                  f({x - tx * h, gamma - tg * h, beta - tb * h})) /
                 (2 * h);
    CHECK(rel_error(ty, num) < 1e-6);
  }
}

TEST_CASE("norm: double backward through batch_norm and batch_norm_relu, train and eval") {
  const Tensor x = test_util::randn64({4, 3, 2, 2}, 160), x2 = test_util::randn64({5, 3}, 161);
  const Tensor gamma = test_util::randn64({3}, 162), beta = test_util::randn64({3}, 163);
  const Tensor rm = test_util::randn64({3}, 164) * 0.1, rv = exp(test_util::randn64({3}, 165));
  GradcheckOptions opts;  // 48 outputs of size ~1: see check_all_orders
  opts.eps = 1e-4;
  for (bool relu : {false, true}) {
    CAPTURE(relu);
    auto bn = [relu](const Tensor& v, const Tensor& g, const Tensor& b, const Tensor& m,
                     const Tensor& s, bool training) {
      // Copies of the running statistics: training updates them in place.
      const Tensor mc = m.defined() ? m.clone() : m, sc = s.defined() ? s.clone() : s;
      return relu ? batch_norm_relu(v, g, b, mc, sc, training)
                  : batch_norm(v, g, b, mc, sc, training);
    };
    for (bool training : {true, false}) {
      CAPTURE(training);
      for (const Tensor& in : {x, x2})
        test_util::check_all_orders(
            [&](const Tensor& v) { return square(bn(v, gamma, beta, rm, rv, training)); }, in, 166,
            opts);
      test_util::check_all_orders(
          [&](const Tensor& v) { return square(bn(x, v, beta, rm, rv, training)); }, gamma, 167,
          opts);
      test_util::check_all_orders(
          [&](const Tensor& v) { return square(bn(x, gamma, v, rm, rv, training)); }, beta, 168,
          opts);
    }
  }
}

TEST_CASE("norm: batch_norm errors") {
  Tensor x = zeros({4, 3}), c3 = zeros({3});
  CHECK(error_of([&] { batch_norm(zeros({4}), c3, c3, c3, c3, true); }) ==
        "batch_norm: input must be (N, C) or (N, C, H, W), got shape (4,)");
  CHECK(error_of([&] { batch_norm(x, zeros({4}), c3, c3, c3, true); }) ==
        "batch_norm: gamma must have shape (3,) for input (4, 3), got (4,)");
  CHECK(error_of([&] {
          batch_norm(x, c3, zeros({3, 1}), c3, c3, true);
        }) == "batch_norm: beta must have shape (3,) for input (4, 3), got (3, 1)");
  CHECK(error_of([&] {
          batch_norm(zeros({2, 3, 4, 4}), c3, c3, zeros({2}), c3, true);
        }) == "batch_norm: running_mean must have shape (3,) for input (2, 3, 4, 4), got (2,)");
  CHECK(error_of([&] { batch_norm(x, c3, c3, c3, Tensor(), true); }) ==
        "batch_norm: give both running_mean and running_var, or neither");
  CHECK(error_of([&] { batch_norm(x, c3, c3, Tensor(), Tensor(), false); }) ==
        "batch_norm: eval mode needs running_mean and running_var (input (4, 3))");
  CHECK(error_of([&] {
          batch_norm(zeros({1, 3}), c3, c3, c3, c3, true);
        }) == "batch_norm: expected more than 1 value per channel when training, got input (1, 3)");
  CHECK(error_of([&] {
          batch_norm(zeros({1, 3}), c3, c3, c3, ones({3}), false);
        }) == "(no error)");  // eval with a single example is fine
  CHECK(error_of([&] {
          batch_norm(x, zeros({3}, float64), c3, c3, c3, true);
        }).find("batch_norm: dtype mismatch") == 0);
}

// ---------------------------------------------------------------- fused batch norm + ReLU

TEST_CASE("norm: batch_norm_relu matches relu(batch_norm) in values, running stats and grads") {
  Generator gen(21);
  // (N, D), and spatial shapes big enough for the pool's parallel paths and the vector loops
  const std::vector<Shape> shapes = {{16, 5}, {4, 3, 5, 7}, {64, 8, 14, 14}};
  for (Dtype dt : {float64, float32}) {
    for (const Shape& shape : shapes) {
      for (bool training : {true, false}) {
        CAPTURE(to_string(shape));
        CAPTURE(training);
        const int64_t C = shape[1];
        Tensor x0 = randn(shape, gen, dt), g = randn(shape, gen, dt);
        Tensor gamma0 = randn({C}, gen, dt), beta0 = randn({C}, gen, dt);
        Tensor rm0 = randn({C}, gen, dt), rv0 = rand({C}, gen, dt) + 0.5;
        auto run = [&](bool fused, Tensor& dx, Tensor& dgamma, Tensor& dbeta, Tensor& rm,
                       Tensor& rv) {
          Tensor x = x0.clone().requires_grad_(), gamma = gamma0.clone().requires_grad_(),
                 beta = beta0.clone().requires_grad_();
          rm = rm0.clone(), rv = rv0.clone();
          Tensor y = fused ? batch_norm_relu(x, gamma, beta, rm, rv, training, 0.9, 1e-5)
                           : relu(batch_norm(x, gamma, beta, rm, rv, training, 0.9, 1e-5));
          y.backward(g);
          dx = x.grad(), dgamma = gamma.grad(), dbeta = beta.grad();
          return y;
        };
        Tensor dx1, dg1, db1, rm1, rv1, dx2, dg2, db2, rm2, rv2;
        Tensor y1 = run(true, dx1, dg1, db1, rm1, rv1);
        Tensor y2 = run(false, dx2, dg2, db2, rm2, rv2);
        CHECK(y1.to_vector() == y2.to_vector());  // the same map, then the same clamp
        CHECK(rm1.to_vector() == rm2.to_vector());
        CHECK(rv1.to_vector() == rv2.to_vector());
        // Both backward passes sum the same g' (y1 == y2) in a different order or with other
        // contractions (FMA or not, vector width), so each result carries its own rounding:
        // the channel sums are taken in blocks of L = min(S, 1024) elements in the dtype, the
        // P = N ceil(S / 1024) block sums added in double: error <= (L + P) u sum|terms|
        // (recursive-summation bound, u = the dtype's unit roundoff), i.e. (L + P) u of the
        // sizes above for mean(g'), mean(g' xh), dgamma and dbeta; the per-element map
        // k g' + a (x - mean) + b and its coefficients rounded to the dtype add <= 6 u. Twice
        // that for the difference of two such results. (64, 8, 14, 14): 532 u = 5.9e-14 in
        // float64, 3.2e-5 in float32; a wrong mean or a missing mask is off by O(1) of the size.
        const int64_t S = x0.numel() / (shape[0] * C), L = std::min<int64_t>(S, 1024),
                      P = shape[0] * ((S + 1023) / 1024);
        const double u = dt == float64 ? 0x1p-53 : 0x1p-24, bound = 2.0 * double(L + P + 6) * u;
        const BnTermSizes sizes = bn_term_sizes(x0, g, y1, gamma0, rm0, rv0, training, 1e-5);
        CHECK(scaled_diff(dx1, dx2, sizes.dx) <= bound);
        CHECK(scaled_diff(dg1, dg2, sizes.dgamma) <= bound);
        CHECK(scaled_diff(db1, db2, sizes.dbeta) <= bound);
        double negatives = 0;  // the clamp did something
        for (double v : y1.to_vector()) negatives += v == 0;
        CHECK(negatives > 0);
      }
    }
  }
}

TEST_CASE("norm: batch_norm_relu gradcheck and forward mode (float64)") {
  Generator gen(22);
  Tensor x = randn({3, 2, 3, 4}, gen, float64).requires_grad_();
  Tensor gamma = randn({2}, gen, float64).requires_grad_();
  Tensor beta = randn({2}, gen, float64).requires_grad_();
  Tensor rm = tensor({0.3, -0.2}, {2}, float64), rv = tensor({1.5, 0.7}, {2}, float64);
  GradcheckOptions opts;
  opts.eps = 1e-5;  // as for batch_norm: f sums 72 outputs
  for (bool training : {true, false}) {
    CAPTURE(training);
    auto f = [&](const std::vector<Tensor>& in) {
      return batch_norm_relu(in[0], in[1], in[2], training ? Tensor() : rm,
                             training ? Tensor() : rv, training, 0.9, 1e-5);
    };
    auto r = gradcheck(f, {x, gamma, beta}, opts);
    INFO(r.report());
    CHECK(r.passed);
    Tensor tx = randn(x.shape(), gen, float64), tg = randn({2}, gen, float64),
           tb = randn({2}, gen, float64);
    auto [y, ty] = jvp(MultiFn(f), {x.detach(), gamma.detach(), beta.detach()}, {tx, tg, tb});
    const double h = 1e-6;
    Tensor xd = x.detach(), gd = gamma.detach(), bd = beta.detach();
    Tensor num =
        (f({xd + tx * h, gd + tg * h, bd + tb * h}) - f({xd - tx * h, gd - tg * h, bd - tb * h})) /
        (2 * h);
    CHECK(rel_error(ty, num) < 1e-6);
  }
}

TEST_CASE("norm: batch_norm_relu errors name the fused op") {
  Tensor x = zeros({4, 3}), c3 = zeros({3});
  CHECK(error_of([&] { batch_norm_relu(zeros({4}), c3, c3, c3, c3, true); }) ==
        "batch_norm_relu: input must be (N, C) or (N, C, H, W), got shape (4,)");
  CHECK(error_of([&] { batch_norm_relu(x, zeros({4}), c3, c3, c3, true); }) ==
        "batch_norm_relu: gamma must have shape (3,) for input (4, 3), got (4,)");
  CHECK(error_of([&] { batch_norm_relu(x, c3, c3, Tensor(), Tensor(), false); }) ==
        "batch_norm_relu: eval mode needs running_mean and running_var (input (4, 3))");
  CHECK(error_of([&] {
          batch_norm_relu(zeros({1, 3}), c3, c3, c3, c3, true);
        }) ==
        "batch_norm_relu: expected more than 1 value per channel when training, got input (1, 3)");
}

// ---------------------------------------------------------------- layer norm

TEST_CASE("norm: layer_norm values (hand-computed) and shapes") {
  // row 0: 1 2 3 6 -> mean 3, var (4+1+0+9)/4 = 3.5; row 1: constant -> xh = 0
  Tensor x = tensor({1, 2, 3, 6, 5, 5, 5, 5}, {2, 4}, float64);
  Tensor gamma = tensor({1, 2, 3, 4}, {4}, float64), beta = tensor({0, 0, 1, 1}, {4}, float64);
  Tensor y = layer_norm(x, gamma, beta, 0.0 + 1e-12);
  const double s = std::sqrt(3.5);
  CHECK(max_abs_diff(y.to_vector(), {-2 / s, 2 * -1 / s, 1.0, 4 * 3 / s + 1, 0, 0, 1, 1}) < 1e-10);
  // Several normalized dimensions = the flattened features of each example.
  Generator gen(9);
  Tensor x3 = randn({2, 3, 4}, gen, float64);
  Tensor g3 = randn({3, 4}, gen, float64), b3 = randn({3, 4}, gen, float64);
  Tensor a = layer_norm(x3, g3, b3);
  Tensor b = layer_norm(x3.reshape({2, 12}), g3.reshape({12}), b3.reshape({12}));
  CHECK(a.shape() == Shape{2, 3, 4});
  CHECK(max_abs_diff(a.to_vector(), b.to_vector()) < 1e-14);
  // Only the last axis: each of the 6 rows of 4 on its own.
  Tensor c = layer_norm(x3, Shape{4}, Tensor(), Tensor());
  const auto cv = c.to_vector();
  for (int r = 0; r < 6; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < 4; ++j) m += cv[r * 4 + j];
    for (int j = 0; j < 4; ++j) v += cv[r * 4 + j] * cv[r * 4 + j];
    CHECK(std::abs(m) < 1e-14);
    CHECK(v / 4 == doctest::Approx(1.0).epsilon(1e-4));  // 1 up to eps = 1e-5
  }
}

TEST_CASE("norm: layer_norm gradcheck") {
  Generator gen(10);
  Tensor x = randn({4, 5}, gen, float64).requires_grad_();
  Tensor gamma = randn({5}, gen, float64).requires_grad_(),
         beta = randn({5}, gen, float64).requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); },
                     {x, gamma, beta});
  INFO(r.report());
  CHECK(r.passed);
  Tensor x3 = randn({2, 2, 3}, gen, float64).requires_grad_();
  Tensor g3 = randn({2, 3}, gen, float64).requires_grad_(),
         b3 = randn({2, 3}, gen, float64).requires_grad_();
  auto r3 =
      gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-3); },
                {x3, g3, b3});
  INFO(r3.report());
  CHECK(r3.passed);
  auto r4 = gradcheck(
      [](const std::vector<Tensor>& in) { return layer_norm(in[0], Shape{3}, Tensor(), Tensor()); },
      {x3});
  INFO(r4.report());
  CHECK(r4.passed);
}

TEST_CASE("norm: layer_norm forward mode and double backward") {
  Generator gen(11);
  Tensor x = randn({3, 2, 4}, gen, float64), gamma = randn({2, 4}, gen, float64),
         beta = randn({2, 4}, gen, float64);
  Tensor tx = randn(x.shape(), gen, float64), tg = randn(gamma.shape(), gen, float64),
         tb = randn(beta.shape(), gen, float64);
  auto f = [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); };
  auto [y, ty] = jvp(MultiFn(f), {x, gamma, beta}, {tx, tg, tb});
  const double h = 1e-6;
  Tensor num = (f({x + tx * h, gamma + tg * h, beta + tb * h}) -
                f({x - tx * h, gamma - tg * h, beta - tb * h})) /
               (2 * h);
  CHECK(rel_error(ty, num) < 1e-6);

  GradcheckOptions opts;  // 24 outputs: see check_all_orders
  opts.eps = 1e-4;
  test_util::check_all_orders([&](const Tensor& v) { return square(layer_norm(v, gamma, beta)); },
                              x, 169, opts);
  test_util::check_all_orders([&](const Tensor& v) { return square(layer_norm(x, v, beta)); },
                              gamma, 170, opts);
  test_util::check_all_orders([&](const Tensor& v) { return square(layer_norm(x, gamma, v)); },
                              beta, 171, opts);
}

TEST_CASE("norm: layer_norm errors") {
  Tensor x = zeros({2, 3, 4});
  CHECK(error_of([&] { layer_norm(x, zeros({3}), zeros({3})); }) ==
        "layer_norm: normalized shape (3,) must be non-empty and match the last dimensions of "
        "input (2, 3, 4)");
  CHECK(error_of([&] { layer_norm(x, Shape{4}, zeros({3}), Tensor()); }) ==
        "layer_norm: gamma must have shape (4,) for input (2, 3, 4), got (3,)");
  CHECK(error_of([&] {
          layer_norm(x, zeros({3, 4}), zeros({4}));
        }) == "layer_norm: beta must have shape (3, 4) for input (2, 3, 4), got (4,)");
  CHECK(error_of([&] { layer_norm(x, Shape{}, Tensor(), Tensor()); }).find("layer_norm:") == 0);
  CHECK(error_of([&] {
          layer_norm(x, Shape{1, 2, 3, 4}, Tensor(), Tensor());
        }).find("layer_norm: normalized shape (1, 2, 3, 4)") == 0);
  CHECK(error_of([&] { layer_norm(x, Tensor(), Tensor()); }) ==
        "layer_norm: without gamma, pass the normalized shape explicitly");
}

TEST_CASE("norm: group_norm and instance_norm, composed and differentiable to any order") {
  const Tensor x = test_util::randn64({3, 4, 2, 5}, 110);
  const Tensor gamma = test_util::randn64({4}, 111), beta = test_util::randn64({4}, 112);
  // One group over (N, D) is layer norm over the features.
  const Tensor flat = test_util::randn64({3, 6}, 113);
  CHECK(max(abs(group_norm(flat, 1, Tensor(), Tensor()) -
                layer_norm(flat, Shape{6}, Tensor(), Tensor())))
            .item() < 1e-14);
  // Each (sample, group) is normalized: mean 0 and biased variance 1 (up to eps).
  const Tensor g = reshape(group_norm(x, 2, Tensor(), Tensor(), 0.0), {3, 2, -1});
  CHECK(max(abs(mean(g, 2))).item() < 1e-14);
  CHECK(max(abs(var(g, 2, false, false) - 1.0)).item() < 1e-13);
  // gamma and beta act per channel.
  const Tensor plain = group_norm(x, 2, Tensor(), Tensor());
  CHECK(max(abs(group_norm(x, 2, gamma, beta) -
                (plain * reshape(gamma, {4, 1, 1}) + reshape(beta, {4, 1, 1}))))
            .item() < 1e-14);
  CHECK(max(abs(instance_norm(x, gamma, beta) - group_norm(x, 4, gamma, beta))).item() == 0);
  CHECK(error_of([&] { group_norm(x, 3, gamma, beta); }) ==
        "group_norm: 4 channels (shape (3, 4, 2, 5)) cannot be split into 3 groups");
  CHECK(error_of([&] { group_norm(x, 2, ones({3}, float64), beta); }).find("shape (4)") !=
        std::string::npos);
  CHECK(error_of([&] {
          instance_norm(ones({4}, float64), Tensor(), Tensor());
        }).find("(N, C, *)") != std::string::npos);
  // 120 outputs of size ~1: sum(f * dout) rounds at ~1e-14, so the default step 1e-6 leaves
  // ~1e-8 of noise in the differences, above atol for the near-zero gradient entries a
  // normalization has; step 1e-4 cuts it to ~1e-10 for a truncation error of
  // ~step^2 f''' / 6 ~ 1e-9 on these O(1) inputs.
  GradcheckOptions opts;
  opts.eps = 1e-4;
  test_util::check_all_orders([&](const Tensor& v) { return group_norm(v, 2, gamma, beta); }, x,
                              114, opts);
  test_util::check_all_orders([&](const Tensor& v) { return group_norm(x, 2, v, beta) * x; }, gamma,
                              115, opts);
  test_util::check_all_orders([&](const Tensor& v) { return instance_norm(v, Tensor(), beta); }, x,
                              116, opts);
}

TEST_CASE("norm: local_response_norm matches PyTorch, differentiable to any order") {
  // Values from torch 1.13 (F.local_response_norm, float64) on the same inputs.
  std::vector<double> v3, v4;
  for (int i = 0; i < 12; ++i) v3.push_back(0.3 * i - 1.1);
  for (int i = 0; i < 16; ++i) v4.push_back(0.25 * i - 2);
  const Tensor x3 = tensor(v3, {1, 4, 3}, float64), x4 = tensor(v4, {1, 4, 2, 2}, float64);
  const std::vector<std::pair<Tensor, std::vector<double>>> cases = {
      {local_response_norm(x3, 3, 0.5, 0.75, 2.0),
       {-0.6072174088568769, -0.45723085577210854, -0.28990426591082463, -0.10743687903779363,
        0.05398386181853843, 0.21074588074372202, 0.35050526661926423, 0.4657363906815676,
        0.5544339477243626, 0.8027513516580431, 0.8852986753617182, 0.9443425405168716}},
      // An even size: one channel before, none after.
      {local_response_norm(x4, 2, 1.0, 0.5, 1.0),
       {-1.1547005383792517, -1.0999438818457405, -1.028991510855053, -0.936585811581694,
        -0.5345224838248488, -0.4472135954999579, -0.3333333333333333, -0.18569533817705186, 0.0,
        0.2182178902359924, 0.4472135954999579, 0.6546536707079772, 0.8164965809277261,
        0.9284766908852594, 1.0, 1.0434983894999017}},
      // AlexNet's defaults (alpha 1e-4, beta 0.75, k 1) with a window wider than the channels.
      {local_response_norm(x4, 5),
       {-1.999850013123797, -1.749903209371001, -1.4999381279775845, -1.2499589859450666,
        -0.9999100094489608, -0.7499409429258449, -0.49996250328094927, -0.24998031430861498, 0.0,
        0.24998031430861498, 0.49996250328094927, 0.7499409429258449, 0.9999700010499614,
        1.2499589859450666, 1.4999381279775845, 1.749903209371001}},
  };
  for (const auto& [got, want] : cases) {
    const std::vector<double> g = got.to_vector();
    REQUIRE(g.size() == want.size());
    // A sum of at most 5 squares, a pow and a division: a few ulps each.
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(std::abs(g[i] - want[i]) <= 1e-15);
  }
  CHECK(local_response_norm(x4.to(float32), 3).dtype() == float32);
  CHECK(error_of([&] {
          local_response_norm(ones({4, 3}, float64), 3);
        }) ==
        "local_response_norm: input must be (N, C, *) with at least 3 axes, got shape (4, 3)");
  CHECK(error_of([&] { local_response_norm(x3, 0); }) ==
        "local_response_norm: size must be positive, got 0");
  CHECK(error_of([&] { local_response_norm(x3.to(int64), 3); }).find("int64") != std::string::npos);
  // Large alpha so that the normalizer's gradient matters.
  const Tensor x = test_util::randn64({2, 5, 2, 3}, 120);
  test_util::check_all_orders([](const Tensor& v) { return local_response_norm(v, 3, 0.8, 0.75); },
                              x, 121);
  test_util::check_all_orders(
      [](const Tensor& v) { return local_response_norm(v, 4, 2.0, 1.5, 0.5); }, x, 122);
}
