#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/autograd/ops/norm.h"
#include "dagrad/autograd/ops/pool.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/ops/softmax.h"

using namespace dagrad;

namespace {

// Checks a against b elementwise to a relative tolerance (absolute for values near 0).
void check_close(const Tensor& a, const std::vector<double>& b, double tol = 1e-12) {
  const std::vector<double> va = a.to_vector();
  REQUIRE(va.size() == b.size());
  for (std::size_t i = 0; i < va.size(); ++i) {
    INFO("element " << i << ": " << va[i] << " vs " << b[i]);
    CHECK(std::abs(va[i] - b[i]) <= tol * std::max(1.0, std::abs(b[i])));
  }
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  REQUIRE(va.size() == vb.size());
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("forward_mode: make_dual shares storage and carries the tangent") {
  Tensor x = tensor({1, 2, 3}, {-1}, float64).set_name("x");
  Tensor v = tensor({0.5, -1, 2}, {-1}, float64);
  Tensor d = make_dual(x, v);
  CHECK(d.raw_data() == x.raw_data());
  CHECK(d.name() == "x");
  CHECK(has_tangent(d));
  CHECK_FALSE(has_tangent(x));
  check_close(tangent_of(d), {0.5, -1, 2});
  check_close(primal_of(d), {1, 2, 3});
  CHECK_FALSE(has_tangent(primal_of(d)));
  // A tensor with no tangent has tangent zero.
  check_close(tangent_of(x), {0, 0, 0});
  // The tangent flows through ops: d(3x)/dt = 3v.
  check_close(tangent_of(d * 3.0), {1.5, -3, 6});
}

TEST_CASE("forward_mode: make_dual errors name the shapes and dtypes") {
  Tensor x = zeros({2, 3}, float64);
  const std::string shape_msg = message_of([&] { make_dual(x, zeros({3}, float64)); });
  CHECK(shape_msg.find("make_dual") != std::string::npos);
  CHECK(shape_msg.find("(3,)") != std::string::npos);
  CHECK(shape_msg.find("(2, 3)") != std::string::npos);
  CHECK_THROWS_AS(make_dual(x, zeros({3}, float64)), std::invalid_argument);

  const std::string dtype_msg = message_of([&] { make_dual(x, zeros({2, 3}, float32)); });
  CHECK(dtype_msg.find("make_dual") != std::string::npos);
  CHECK(dtype_msg.find("float32") != std::string::npos);
  CHECK(dtype_msg.find("float64") != std::string::npos);

  CHECK_THROWS_WITH_AS(make_dual(x, Tensor()), "make_dual: the tangent is an undefined tensor",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(jvp([](const Tensor& t) { return t; }, x, zeros({6}, float64)),
                       "jvp: the direction v has shape (6,) but the primal has shape (2, 3)",
                       std::invalid_argument);
}

TEST_CASE("forward_mode: a dual of a tensor that requires grad still reaches it in reverse") {
  Tensor x = tensor({1, 2}, {-1}, float64).requires_grad_();
  Tensor d = make_dual(x, ones_like(x));
  Tensor y = (primal_of(d) * d).sum();  // x^2 in value
  y.backward();
  check_close(x.grad(), {2, 4});
  // The tangent of x*x along ones is 2x.
  check_close(tangent_of(d * d), {2, 4});
}

TEST_CASE("forward_mode: jvp of unary ops matches the analytic derivative") {
  const std::vector<double> xs = {0.3, 0.7, 1.9, 2.4};
  const std::vector<double> vs = {1.0, -0.5, 2.0, 0.25};
  const Tensor x = tensor(xs, {-1}, float64), v = tensor(vs, {-1}, float64);
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    std::function<double(double)> df;
  };
  const std::vector<Case> cases = {
      {"exp", [](const Tensor& t) { return exp(t); }, [](double a) { return std::exp(a); }},
      {"log", [](const Tensor& t) { return log(t); }, [](double a) { return 1 / a; }},
      {"sqrt", [](const Tensor& t) { return sqrt(t); },
       [](double a) { return 0.5 / std::sqrt(a); }},
      {"sin", [](const Tensor& t) { return sin(t); }, [](double a) { return std::cos(a); }},
      {"cos", [](const Tensor& t) { return cos(t); }, [](double a) { return -std::sin(a); }},
      {"tanh", [](const Tensor& t) { return tanh(t); },
       [](double a) { return 1 - std::tanh(a) * std::tanh(a); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); },
       [](double a) {
         const double s = 1 / (1 + std::exp(-a));
         return s * (1 - s);
       }},
      {"pow3", [](const Tensor& t) { return pow(t, 3.0); }, [](double a) { return 3 * a * a; }},
      {"relu(x-1)", [](const Tensor& t) { return relu(t - 1.0); },
       [](double a) { return a > 1 ? 1.0 : 0.0; }},
      {"rdiv", [](const Tensor& t) { return 2.0 / t; }, [](double a) { return -2 / (a * a); }},
      {"neg", [](const Tensor& t) { return -t; }, [](double) { return -1.0; }},
  };
  for (const Case& c : cases) {
    INFO("op " << c.name);
    auto [y, t] = jvp(c.f, x, v);
    std::vector<double> want;
    for (std::size_t i = 0; i < xs.size(); ++i) want.push_back(c.df(xs[i]) * vs[i]);
    check_close(t, want);
    check_close(y, c.f(x).to_vector());
    CHECK_FALSE(has_tangent(t));
    CHECK_FALSE(y.requires_grad());
  }
}

TEST_CASE("forward_mode: jvp of binary ops with broadcasting") {
  const std::vector<double> av = {0.5, 1.5, -2.0, 3.0, 0.25, -1.0}, bv = {1.2, -0.7, 2.5};
  const std::vector<double> da = {1, 0, -1, 0.5, 2, -0.3}, db = {-0.4, 1.1, 0.6};
  const Tensor a = tensor(av, {2, 3}, float64), b = tensor(bv, {3}, float64);
  // f(a, b) = a*b + a/b - b, with b broadcast over the rows of a
  auto f = [](const std::vector<Tensor>& in) { return in[0] * in[1] + in[0] / in[1] - in[1]; };
  auto [y, t] = jvp(f, {a, b}, {tensor(da, {2, 3}, float64), tensor(db, {3}, float64)});
  std::vector<double> want, want_y;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      const double x = av[i * 3 + j], w = bv[j], dx = da[i * 3 + j], dw = db[j];
      want_y.push_back(x * w + x / w - w);
      want.push_back(dx * w + x * dw + dx / w - x * dw / (w * w) - dw);
    }
  CHECK(t.shape() == Shape{2, 3});
  check_close(y, want_y);
  check_close(t, want);

  // Only b moves (an undefined direction is zero): d/db only.
  auto [y2, t2] = jvp(f, {a, b}, {Tensor(), tensor(db, {3}, float64)});
  std::vector<double> want2;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      const double x = av[i * 3 + j], w = bv[j], dw = db[j];
      want2.push_back(x * dw - x * dw / (w * w) - dw);
    }
  check_close(t2, want2);
  CHECK_THROWS_WITH_AS(jvp(f, {a, b}, {Tensor()}), "jvp: 2 inputs but 1 tangent directions",
                       std::invalid_argument);
}

TEST_CASE("forward_mode: jvp of reductions") {
  const Tensor x = tensor({1, 4, 2, 3, 0.5, 6}, {2, 3}, float64);
  const Tensor v = tensor({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, {2, 3}, float64);
  // d sum(x, axis 1) = sum(v, axis 1)
  check_close(jvp([](const Tensor& t) { return sum(t, 1); }, x, v).second, {0.6, 1.5});
  check_close(jvp([](const Tensor& t) { return mean(t); }, x, v).second, {2.1 / 6});
  // max over axis 1 picks 4 (v = 0.2) and 6 (v = 0.6)
  check_close(jvp([](const Tensor& t) { return max(t, 1); }, x, v).second, {0.2, 0.6});
}

TEST_CASE("forward_mode: a function that ignores its input has tangent zero") {
  const Tensor c = tensor({5, 6}, {-1}, float64);
  auto [y, t] = jvp([&c](const Tensor&) { return c * 2.0; }, tensor({1, 2}, {-1}, float64),
                    tensor({1, 1}, {-1}, float64));
  check_close(y, {10, 12});
  check_close(t, {0, 0});
}

TEST_CASE("forward_mode: an op without a forward rule is a clear error") {
  // A test-local op recorded with no_jvp.
  auto twice = [](const Tensor& x) {
    Tensor out = x.detach().clone() * 2.0;
    return record(
        "twice_no_jvp", out, {x},
        [](const Tensor& g, const Tensor&) -> GradList { return {g * 2.0}; }, no_jvp);
  };
  const Tensor x = tensor({1, 2}, {-1}, float64);
  CHECK(twice(x).to_vector() == std::vector<double>{2, 4});  // fine without tangents
  const std::string msg = message_of([&] { jvp(twice, x, ones_like(x)); });
  CHECK(msg.find("twice_no_jvp") != std::string::npos);
  CHECK(msg.find("forward-mode") != std::string::npos);
  // Reverse mode still works for it.
  check_close(vjp(twice, x, tensor({1, 3}, {-1}, float64)), {2, 6});
}

TEST_CASE("forward_mode: vjp matches the analytic gradient") {
  const std::vector<double> xs = {0.2, -1.3, 2.2};
  const std::vector<double> us = {1.5, -0.5, 0.75};
  const Tensor g = vjp([](const Tensor& t) { return sin(t) * t; }, tensor(xs, {-1}, float64),
                       tensor(us, {-1}, float64));
  std::vector<double> want;
  for (std::size_t i = 0; i < xs.size(); ++i)
    want.push_back(us[i] * (std::cos(xs[i]) * xs[i] + std::sin(xs[i])));
  check_close(g, want);
  CHECK_FALSE(g.requires_grad());
  // f independent of x: zeros.
  check_close(vjp([](const Tensor&) { return ones({3}, float64); }, tensor(xs, {-1}, float64),
                  tensor(us, {-1}, float64)),
              {0, 0, 0});
  CHECK_THROWS_AS(
      vjp([](const Tensor& t) { return t * 2.0; }, tensor(xs, {-1}, float64), ones({2}, float64)),
      std::invalid_argument);
}

TEST_CASE("forward_mode: Jacobian layout is (output numel, input numel)") {
  // f(x)_j = sum_i x_i W_ij for W (3, 2): J[j][i] = W[i][j], a (2, 3) matrix.
  const Tensor W = tensor({1, 2, 3, 4, 5, 6}, {3, 2}, float64);
  auto f = [&W](const Tensor& x) { return sum(reshape(x, {3, 1}) * W, 0); };
  const Tensor x = tensor({0.3, -0.2, 0.9}, {-1}, float64);
  const std::vector<double> want = {1, 3, 5, 2, 4, 6};
  for (const Tensor& J : {jacobian_forward(f, x), jacobian_reverse(f, x)}) {
    CHECK(J.shape() == Shape{2, 3});
    check_close(J, want);
  }
  const Tensor Jn = jacobian_numerical(f, x);
  CHECK(Jn.shape() == Shape{2, 3});
  check_close(Jn, want, 1e-8);
  // Elementwise sin: diagonal cos(x).
  const Tensor Js = jacobian_forward([](const Tensor& t) { return sin(t); }, x);
  check_close(Js, {std::cos(0.3), 0, 0, 0, std::cos(-0.2), 0, 0, 0, std::cos(0.9)});
  // A 2-D input and a scalar output: a (1, 4) row.
  const Tensor J1 = jacobian_reverse([](const Tensor& t) { return sum(t * t); },
                                     tensor({1, 2, 3, 4}, {2, 2}, float64));
  CHECK(J1.shape() == Shape{1, 4});
  check_close(J1, {2, 4, 6, 8});
}

TEST_CASE("forward_mode: forward, reverse and numerical Jacobians agree") {
  // A function of a vector mixing elementwise, unary and reduction ops.
  auto f = [](const Tensor& x) {
    Tensor s = sum(x * x);                            // reduction
    Tensor h = tanh(x) * s + exp(x) / (x * x + 1.0);  // unary and elementwise
    return h - mean(sigmoid(x)) * log(x + 3.0) + max(x) * x;
  };
  const Tensor x = tensor({0.4, -0.8, 1.1, 0.05, -0.3}, {-1}, float64);
  const Tensor Jf = jacobian_forward(f, x);
  const Tensor Jr = jacobian_reverse(f, x);
  const Tensor Jn = jacobian_numerical(f, x);
  CHECK(Jf.shape() == Shape{5, 5});
  CHECK(Jr.shape() == Shape{5, 5});
  CHECK(Jn.shape() == Shape{5, 5});
  CHECK(max_abs_diff(Jf, Jr) < 1e-12);
  CHECK(rel_error(Jf, Jn) < 1e-7);
  CHECK(rel_error(Jr, Jn) < 1e-7);
  // x itself is untouched by the numerical Jacobian.
  check_close(x, {0.4, -0.8, 1.1, 0.05, -0.3}, 0);
  // And one entry by hand: the off-diagonal d f_0 / d x_1 only sees s, mean(sigmoid) and max.
  // d/dx1 [tanh(x0) s] = tanh(x0) 2 x1;  d/dx1 [mean(sigmoid) log(x0 + 3)] = s'(x1)/5 log(x0+3)
  const double x0 = 0.4, x1 = -0.8;
  const double sg = 1 / (1 + std::exp(-x1));
  const double want01 = std::tanh(x0) * 2 * x1 - sg * (1 - sg) / 5 * std::log(x0 + 3);
  CHECK(Jf.at({0, 1}) == doctest::Approx(want01).epsilon(1e-12));
}

TEST_CASE("forward_mode: jacobian_numerical on float32 is close") {
  const Tensor x = tensor({0.5, 1.5}, {-1}, float32);
  const Tensor J = jacobian_numerical([](const Tensor& t) { return t * t; }, x, 1e-2);
  CHECK(J.dtype() == float32);
  check_close(J, {1, 0, 0, 3}, 1e-3);
  CHECK_THROWS_AS(jacobian_numerical([](const Tensor& t) { return t; }, x, 0.0),
                  std::invalid_argument);
}

TEST_CASE("forward_mode: hvp matches the analytic Hessian") {
  // f = sum(x^3) + sum(x)^2:  H = diag(6x) + 2 * ones
  const std::vector<double> xs = {0.5, -1.0, 2.0}, vs = {1.0, 2.0, -0.5};
  auto f = [](const Tensor& x) { return sum(pow(x, 3.0)) + square(sum(x)); };
  const Tensor hv = hvp(f, tensor(xs, {-1}, float64), tensor(vs, {-1}, float64));
  const double sv = vs[0] + vs[1] + vs[2];
  std::vector<double> want;
  for (std::size_t i = 0; i < xs.size(); ++i) want.push_back(6 * xs[i] * vs[i] + 2 * sv);
  check_close(hv, want);
  // f = sum(sin(x) * x): H = diag(2 cos x - x sin x)
  const Tensor hv2 = hvp([](const Tensor& x) { return sum(sin(x) * x); }, tensor(xs, {-1}, float64),
                         tensor(vs, {-1}, float64));
  std::vector<double> want2;
  for (std::size_t i = 0; i < xs.size(); ++i)
    want2.push_back((2 * std::cos(xs[i]) - xs[i] * std::sin(xs[i])) * vs[i]);
  check_close(hv2, want2);
  // A linear f has a zero Hessian.
  check_close(hvp([](const Tensor& x) { return sum(x * 3.0); }, tensor(xs, {-1}, float64),
                  tensor(vs, {-1}, float64)),
              {0, 0, 0});
  CHECK_THROWS_WITH_AS(hvp([](const Tensor& x) { return x * x; }, tensor(xs, {-1}, float64),
                           tensor(vs, {-1}, float64)),
                       "hvp: f must return a scalar, got shape (3,)", std::invalid_argument);
}

TEST_CASE("forward_mode: every op family's forward rule agrees with its backward rule") {
  // J by forward mode (the ops' jvp rules) against J by reverse mode (their backward rules):
  // two independent derivations of the same matrix, and the numerical one as the referee.
  Generator gen(42);
  const Tensor W = randn({4, 3}, gen, float64);
  const Tensor labels = tensor({2, 0}, {-1}, float64);
  const Tensor idx = tensor({3, 0, 0, 2}, {2, 2}, float64);
  const Tensor K = randn({3, 2, 2, 2}, gen, float64);
  struct Case {
    const char* name;
    Shape in;
    std::function<Tensor(const Tensor&)> f;
  };
  const std::vector<Case> cases = {
      {"elementwise",
       {2, 3},
       [](const Tensor& x) { return maximum(x * x, x + 0.3) / (x * x + 1.0); }},
      {"unary", {5}, [](const Tensor& x) { return softplus(x) + leaky_relu(x, 0.2) * sigmoid(x); }},
      {"reduction",
       {2, 3},
       [](const Tensor& x) { return var(x, 1) + logsumexp(x, 1) + min(x, 1); }},
      {"softmax", {2, 4}, [](const Tensor& x) { return softmax(x, 1) + log_softmax(x, 0); }},
      {"loss",
       {2, 4},
       [&labels](const Tensor& x) {
         return stack({cross_entropy(x, labels), svm_loss(x, labels), mse_loss(x, x * x)});
       }},
      {"shape",
       {2, 4},
       [&idx](const Tensor& x) {
         return concat({flatten(transpose(x, 0, 1)), flatten(gather(x, 1, idx)),
                        flatten(pad(slice(x, 1, 1, 4, 2), {{1, 0}, {0, 1}}))});
       }},
      {"linalg",
       {2, 4},
       [&W](const Tensor& x) { return matmul(x, W) + sum(outer(sum(x, 0), sum(x, 1))); }},
      {"conv",
       {1, 2, 3, 3},
       [&K](const Tensor& x) { return conv2d(x, K, Tensor(), 1, 1) + conv2d(x, x, 1, 0).sum(); }},
      {"pool",
       {1, 2, 4, 4},
       [](const Tensor& x) {
         return concat({flatten(max_pool2d(x, 2)), flatten(avg_pool2d(x, 3, 1, 1))});
       }},
      {"norm",
       {3, 4},
       [](const Tensor& x) {
         return batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true) +
                layer_norm(x, {4}, Tensor(), Tensor());
       }},
  };
  for (const Case& c : cases) {
    INFO("family " << c.name);
    // Distinct values, no ties (max, pooling), away from kinks.
    std::vector<double> vals;
    for (int64_t i = 0; i < c.in.numel(); ++i)
      vals.push_back(1.5 * std::sin(1.3 * i + 0.4) + 0.01 * i);
    const Tensor x = tensor(vals, c.in, float64);
    const Tensor Jf = jacobian_forward(c.f, x), Jr = jacobian_reverse(c.f, x);
    CHECK(max_abs_diff(Jf, Jr) < 1e-10);
    CHECK(rel_error(Jf, jacobian_numerical(c.f, x, 1e-5)) < 1e-7);
  }
}
