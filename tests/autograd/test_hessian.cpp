// Second order by forward over reverse: hvp_forward (one backward pass through dual values)
// against hvp (reverse over reverse) across the op families with raw-kernel backwards, and
// hessian() against known Hessians and against reverse over reverse, column by column.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::error_of;
using dagrad::test_util::randn64;

namespace {

// The largest entry of |a - b| relative to 1 + max |b|.
double rel_diff(const Tensor& a, const Tensor& b) {
  return max(abs(a - b)).item() / (1 + max(abs(b)).item());
}

struct Case {
  const char* name;
  Shape shape;
  UnaryFn f;  // scalar
};

std::vector<Case> cases() {
  auto p64 = [](const Shape& s, uint64_t seed) { return randn64(s, seed); };
  const Tensor w3 = p64({4, 2, 3, 3}, 21), w_grouped = p64({4, 1, 2, 2}, 22), b4 = p64({4}, 23);
  const Tensor gamma = p64({2}, 24) + 2.0, beta = p64({2}, 25);
  const Tensor wt = p64({2, 3, 2, 2}, 26), labels = tensor({1, 0}, {-1}, int64);
  return {
      {"conv2d stride 2 padding 1",
       {2, 2, 5, 5},
       [=](const Tensor& x) { return sum(tanh(conv2d(x, w3, b4, 2, 1)) * x.sum()); }},
      {"conv2d dilation 2 groups 2",
       {1, 2, 6, 6},
       [=](const Tensor& x) {
         const Tensor y = conv2d(x, w_grouped, b4, 1, 1, 2, 2);
         return sum(y * y * sigmoid(y));
       }},
      {"conv_transpose2d",
       {1, 2, 3, 3},
       [=](const Tensor& x) { return sum(pow(conv_transpose2d(x, wt, Tensor(), 2, 1), 3.0)); }},
      {"max_pool2d",
       {1, 2, 4, 4},
       [](const Tensor& x) { return sum(pow(max_pool2d(x * x, 2), 2.0)); }},
      {"avg_pool2d ceil, padding",
       {1, 2, 5, 5},
       [](const Tensor& x) { return sum(exp(avg_pool2d(x * x, 2, 2, 1, true, false))); }},
      {"batch_norm train",
       {4, 2, 3, 3},
       [=](const Tensor& x) {
         const Tensor y = batch_norm(x, gamma, beta, zeros({2}, float64), ones({2}, float64), true);
         return sum(y * y * x);
       }},
      {"batch_norm eval",
       {4, 2},
       [=](const Tensor& x) {
         const Tensor y =
             batch_norm(x, gamma, beta, p64({2}, 30), p64({2}, 31) * p64({2}, 31), false);
         return sum(y * y * x);
       }},
      {"batch_norm_relu train",
       {4, 2, 2, 2},
       [=](const Tensor& x) {
         const Tensor y =
             batch_norm_relu(x, gamma, beta, zeros({2}, float64), ones({2}, float64), true);
         return sum(y * y * x);
       }},
      {"layer_norm",
       {3, 4},
       [](const Tensor& x) {
         const Tensor y = layer_norm(x, ones({4}, float64), zeros({4}, float64));
         return sum(y * x * x);
       }},
      {"group_norm",
       {2, 4, 3},
       [](const Tensor& x) {
         return sum(pow(group_norm(x, 2, ones({4}, float64), zeros({4}, float64)), 3.0) * x);
       }},
      {"cross_entropy of a matmul",
       {2, 3},
       [=](const Tensor& x) { return cross_entropy(matmul(x, x.t()) + x.sum(), labels); }},
      {"relu, prod with a zero",
       {2, 3},
       [](const Tensor& x) {
         return sum(relu(x) * x) + prod(x * tensor({1, 0, 1, 1, 1, 1}, {2, 3}, float64));
       }},
  };
}

}  // namespace

TEST_CASE("hvp_forward: forward over reverse equals reverse over reverse") {
  for (const Case& c : cases()) {
    CAPTURE(std::string(c.name));
    const Tensor x = randn64(c.shape, 7), v = randn64(c.shape, 8);
    const Tensor rr = hvp(c.f, x, v), fr = hvp_forward(c.f, x, v);
    CHECK(fr.shape() == x.shape());
    CHECK(max(abs(rr)).item() > 0);  // the case exercises a second derivative
    // The same second derivatives summed in another order: rounding only.
    CHECK(rel_diff(fr, rr) <= 1e-11);
  }
}

TEST_CASE("hvp_forward: backward() through a dual input leaves H v as the gradient's tangent") {
  const Tensor x0 = randn64({2, 3}, 3), v = randn64({2, 3}, 4);
  auto f = [](const Tensor& x) { return sum(exp(x) * sin(x)) + sum(softmax(x, 1) * x); };
  Tensor leaf = x0.detach().requires_grad_();
  f(make_dual(leaf, v)).backward();
  REQUIRE(has_tangent(leaf.grad()));
  CHECK(rel_diff(tangent_of(leaf.grad()), hvp(f, x0, v)) <= 1e-12);
  // The gradient itself is the ordinary one.
  Tensor plain = x0.detach().requires_grad_();
  f(plain).backward();
  CHECK(rel_diff(leaf.grad().detach(), plain.grad()) <= 1e-15);
}

TEST_CASE("hessian: known Hessians, and reverse over reverse column by column") {
  // f = x^T A x has Hessian A + A^T.
  const Tensor A = randn64({4, 4}, 5);
  auto quad = [&](const Tensor& x) { return sum(x * matmul(A, x)); };
  const Tensor H = hessian(quad, randn64({4}, 6));
  CHECK(H.shape() == Shape{4, 4});
  CHECK(max(abs(H - (A + A.t()))).item() <= 1e-14);
  // The homework function's second output, f2 = w1 w2 + sigmoid(w1), at (1, 2):
  // H = [[s(1-s)(1-2s), 1], [1, 0]] with s = sigmoid(1).
  auto f2 = [](const Tensor& w) {
    const Tensor w1 = slice(w, 0, 0, 1), w2 = slice(w, 0, 1, 2);
    return sum(w1 * w2 + sigmoid(w1));
  };
  const double s = 1 / (1 + std::exp(-1.0));
  test_util::check_values(hessian(f2, tensor({1, 2}, {-1}, float64)),
                          {s * (1 - s) * (1 - 2 * s), 1, 1, 0}, 1e-14);
  // A 2-D input: columns against hvp (reverse over reverse) with unit directions.
  const Tensor x = randn64({2, 3}, 9);
  auto f = [](const Tensor& t) { return logsumexp(t * t) + sum(tanh(t) * t.sum()); };
  const Tensor Hx = hessian(f, x);
  CHECK(Hx.shape() == Shape{6, 6});
  for (int64_t j = 0; j < 6; ++j) {
    Tensor e = zeros({6}, float64);
    e.data<double>()[j] = 1;
    const Tensor col = hvp(f, x, e.reshape({2, 3})).reshape({6});
    CHECK(rel_diff(slice(Hx, 1, j, j + 1).reshape({6}), col) <= 1e-12);
  }
  CHECK(max(abs(Hx - Hx.t())).item() <= 1e-12 * (1 + max(abs(Hx)).item()));  // symmetric
  // A function that does not depend on x, or is linear in it, has a zero Hessian.
  CHECK(max(abs(hessian([](const Tensor& t) { return sum(t * 3.0); }, x))).item() == 0);
  CHECK(max(abs(hessian([](const Tensor&) { return scalar_tensor(1.0, float64); }, x))).item() ==
        0);
}

TEST_CASE("hvp_forward and hessian: clear errors") {
  const Tensor x = randn64({3}, 1);
  CHECK(error_of([&] { hvp_forward([](const Tensor& t) { return t * t; }, x, x); }) ==
        "hvp_forward: f must return a scalar, got shape (3,)");
  CHECK(error_of([&] { hvp_forward([](const Tensor& t) { return sum(t); }, x, ones({2})); }) ==
        "hvp_forward: the direction v has shape (2,) but the primal has shape (3,)");
  CHECK(error_of([&] { hessian([](const Tensor& t) { return sum(t); }, ones({2}, int64)); }) ==
        "hessian: the input is int64; integer tensors have no derivatives");
  CHECK(error_of([&] { hessian([](const Tensor& t) { return t; }, x); }) ==
        "hvp_forward: f must return a scalar, got shape (3,)");
}
