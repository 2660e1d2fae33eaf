#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/ops/softmax.h"

#include "tests/op_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

namespace {

std::vector<double> softmax_ref(const std::vector<double>& x) {
  double z = 0;
  for (double e : x) z += std::exp(e);
  std::vector<double> p;
  for (double e : x) p.push_back(std::exp(e) / z);
  return p;
}

}  // namespace

TEST_CASE("softmax: values, rows sum to 1, large logits do not overflow") {
  Tensor x = tensor({1, 2, 3, 1000, 1001, 1002, -1000, 0, 1000}, {3, 3}, float64);
  Tensor y = softmax(x);
  check_values(y,
               {0.090030573170, 0.244728471055, 0.665240955775, 0.090030573170, 0.244728471055,
                0.665240955775, 0, 0, 1},
               1e-10);
  check_values(sum(y, 1), {1, 1, 1});
  Tensor l = log_softmax(x, 1);
  check_values(l, {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806,
                   -2.4076059644443806, -1.4076059644443806, -0.4076059644443806, -2000, -1000, 0});
  // float32, large logits
  Tensor f = softmax(tensor({1000, 1001, 1002}, {3}, float32));
  for (double e : f.to_vector()) CHECK(std::isfinite(e));
  check_values(f, {0.090030573170, 0.244728471055, 0.665240955775}, 1e-6);
  Tensor lf = log_softmax(tensor({-1000, 0, 1000}, {3}, float32));
  check_values(lf, {-2000, -1000, 0}, 1e-6);
}

TEST_CASE("softmax: any axis of a 3-D tensor") {
  Tensor x = arange(24, float64).reshape({2, 3, 4}) * 0.1;
  Tensor y = softmax(x, 1);
  CHECK(y.shape() == Shape{2, 3, 4});
  check_values(sum(y, 1), std::vector<double>(8, 1.0));
  CHECK(y.at({0, 0, 0}) == doctest::Approx(0.211982720708));
  CHECK(y.at({0, 1, 0}) == doctest::Approx(0.316241058225));
  CHECK(y.at({0, 2, 0}) == doctest::Approx(0.471776221068));
  Tensor l = log_softmax(x, 0);
  CHECK(l.at({0, 0, 1}) == doctest::Approx(-1.463282467338));
  CHECK(l.at({1, 0, 1}) == doctest::Approx(-0.263282467338));
  check_values(sum(exp(log_softmax(x, -1)), -1), std::vector<double>(6, 1.0));
  // log_softmax == log(softmax) on moderate values
  check_values(log_softmax(x, 2), log(softmax(x, 2)).to_vector(), 1e-10);
}

TEST_CASE("softmax: gradcheck for every axis") {
  Tensor x = randn64({2, 3, 4}, 3).requires_grad_();
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    INFO("axis " << axis);
    check_gradcheck([=](const std::vector<Tensor>& in) { return softmax(in[0], axis); }, {x});
    check_gradcheck([=](const std::vector<Tensor>& in) { return log_softmax(in[0], axis); }, {x});
  }
  Tensor v = randn64({5}, 4).requires_grad_();
  check_gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0]); }, {v});
  check_gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0]); }, {v});
}

TEST_CASE("softmax: backward values") {
  // d/dx sum(w * softmax(x)) = y (w - w.y)
  Tensor x = tensor({0.5, -1, 2}, {3}, float64).requires_grad_();
  Tensor w = tensor({1, 2, -3}, {3}, float64);
  const auto p = softmax_ref(x.to_vector());
  const double s = p[0] * 1 + p[1] * 2 + p[2] * -3;
  Tensor g = grad({sum(softmax(x) * w)}, {x})[0];
  check_values(g, {p[0] * (1 - s), p[1] * (2 - s), p[2] * (-3 - s)});
  // d/dx sum(w * log_softmax(x)) = w - p sum(w)
  Tensor gl = grad({sum(log_softmax(x) * w)}, {x})[0];
  check_values(gl, {1 - p[0] * 0, 2 - p[1] * 0, -3 - p[2] * 0});  // sum(w) = 0
  Tensor w2 = tensor({1, 2, 3}, {3}, float64);
  Tensor gl2 = grad({sum(log_softmax(x) * w2)}, {x})[0];
  check_values(gl2, {1 - 6 * p[0], 2 - 6 * p[1], 3 - 6 * p[2]});
}

TEST_CASE("softmax: double backward against the analytic Hessian") {
  Tensor x = tensor({0.5, -1, 2, 0.3}, {4}, float64).requires_grad_();
  const std::vector<double> wv = {1, 2, -3, 0.5}, vv = {0.2, -1, 0.7, 2};
  Tensor w = tensor(wv, {4}, float64), v = tensor(vv, {4}, float64);
  const auto y = softmax_ref(x.to_vector());
  double s = 0, yv = 0, yws = 0;
  for (int i = 0; i < 4; ++i) s += wv[i] * y[i];
  for (int i = 0; i < 4; ++i) yv += y[i] * vv[i];
  for (int i = 0; i < 4; ++i) yws += y[i] * (wv[i] - s) * vv[i];
  // softmax: H v_i = y_i v_i (w_i - s) - y_i (y.v)(w_i - s) - y_i sum_k y_k (w_k - s) v_k
  std::vector<double> want;
  for (int i = 0; i < 4; ++i)
    want.push_back(y[i] * vv[i] * (wv[i] - s) - y[i] * yv * (wv[i] - s) - y[i] * yws);
  check_values(hess_vec([&](const Tensor& t) { return sum(softmax(t) * w); }, x, v), want, 1e-10);
  // log_softmax: H = -sum(w) (diag(y) - y y^T)
  double sw = 0;
  for (double e : wv) sw += e;
  std::vector<double> want_l;
  for (int i = 0; i < 4; ++i) want_l.push_back(-sw * (y[i] * vv[i] - y[i] * yv));
  check_values(hess_vec([&](const Tensor& t) { return sum(log_softmax(t) * w); }, x, v), want_l,
               1e-10);
}

TEST_CASE("softmax: second derivatives along an inner axis match central differences") {
  // the create_graph gradient is itself differentiable: gradcheck it
  Tensor x = randn64({3, 4, 2}, 9).requires_grad_();
  Tensor w = randn64({3, 4, 2}, 10);
  for (int64_t axis : {0, 1}) {
    INFO("axis " << axis);
    check_gradcheck(
        [=](const std::vector<Tensor>& in) {
          enable_grad on;  // gradcheck evaluates f under no_grad for the differences
          return grad({sum(softmax(in[0], axis) * w)}, {in[0]}, {}, create_graph())[0];
        },
        {x});
    check_gradcheck(
        [=](const std::vector<Tensor>& in) {
          enable_grad on;  // gradcheck evaluates f under no_grad for the differences
          return grad({sum(square(log_softmax(in[0], axis)) * w)}, {in[0]}, {}, create_graph())[0];
        },
        {x});
  }
}

TEST_CASE("softmax: forward mode matches reverse mode") {
  Tensor x = randn64({3, 4}, 12);
  Tensor t = randn64({3, 4}, 13);
  Tensor w = randn64({3, 4}, 14);
  for (int64_t axis : {0, 1}) {
    for (bool log_space : {false, true}) {
      INFO("axis " << axis << " log " << log_space);
      auto f = [=](const Tensor& a) { return log_space ? log_softmax(a, axis) : softmax(a, axis); };
      Tensor out = f(dual(x, t));
      REQUIRE(out.tangent().defined());
      Tensor xl = x.detach().requires_grad_();
      Tensor gx = grad({sum(f(xl) * w)}, {xl})[0];
      CHECK(sum(out.tangent() * w).item() == doctest::Approx(sum(gx * t).item()).epsilon(1e-10));
    }
  }
}

TEST_CASE("softmax: errors name the op") {
  CHECK_THROWS_WITH_AS(softmax(zeros({2, 3}), 2), doctest::Contains("softmax: axis 2"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(log_softmax(zeros({2, 3}), -3), doctest::Contains("log_softmax: axis -3"),
                       std::out_of_range);
}

TEST_CASE("softmax: changing the saved output in place before backward is an error") {
  Tensor x = randn64({2, 3}, 15).requires_grad_();
  Tensor y = softmax(x, 1);
  Tensor l = sum(y * y);  // mul saves y too; the softmax node saves its output
  {
    no_grad off;
    y.mul_(2.0);
  }
  CHECK_THROWS_WITH_AS(l.backward(), doctest::Contains("modified in place"), std::runtime_error);
  Tensor z = log_softmax(x, 0);
  Tensor lz = sum(z);  // sum saves nothing: only log_softmax's saved output can complain
  {
    no_grad off;
    z.fill_(0.0);
  }
  CHECK_THROWS_WITH_AS(lz.backward(), doctest::Contains("log_softmax"), std::runtime_error);
}
