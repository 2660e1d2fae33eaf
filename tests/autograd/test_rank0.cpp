// Every op family on 0-d (rank-0) tensors, with the shapes and values torch 1.13 gives, and
// the three Jacobians (forward mode, reverse mode, central differences) agreeing; then the
// calls PyTorch refuses on 0-d tensors, which must be clean errors here too.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

struct Rank0Case {
  const char* family;
  const char* name;
  std::function<Tensor(const Tensor&)> f;  // of a 0-d float64 x = 1.5
  Shape shape;                             // torch's result shape
  std::vector<double> values;              // torch's values
  bool differentiable = true;
};

Tensor c0(double v) { return scalar_tensor(v, float64); }

std::vector<Rank0Case> rank0_cases() {
  const double x = 1.5, y = -0.5;
  return {
      {"elementwise", "x * y", [=](const Tensor& t) { return t * c0(y); }, {}, {x * y}},
      {"elementwise",
       "x + (2,)",
       [](const Tensor& t) {
         return t + tensor({1, 2}, {2}, float64);
       },
       {2},
       {x + 1, x + 2}},
      {"elementwise",
       "pow(x, y)",
       [=](const Tensor& t) { return pow(t, c0(y)); },
       {},
       {std::pow(x, y)}},
      {"elementwise", "maximum", [=](const Tensor& t) { return maximum(t, c0(y)); }, {}, {x}},
      {"elementwise", "where", [=](const Tensor& t) { return where(c0(1), t, c0(y)); }, {}, {x}},
      {"elementwise", "clamp", [](const Tensor& t) { return clamp(t, 0, 1); }, {}, {1}},
      {"unary", "exp", [](const Tensor& t) { return exp(t); }, {}, {std::exp(x)}},
      {"unary", "tanh", [](const Tensor& t) { return tanh(t); }, {}, {std::tanh(x)}},
      {"reduction", "sum()", [](const Tensor& t) { return sum(t); }, {}, {x}},
      {"reduction", "sum(x, 0)", [](const Tensor& t) { return sum(t, 0); }, {}, {x}},
      {"reduction",
       "sum(x, -1, keepdim)",
       [](const Tensor& t) { return sum(t, -1, true); },
       {},
       {x}},
      {"reduction",
       "sum(x, {0})",
       [](const Tensor& t) { return sum(t, std::vector<int64_t>{0}); },
       {},
       {x}},
      {"reduction", "mean(x, 0)", [](const Tensor& t) { return mean(t, 0); }, {}, {x}},
      {"reduction", "max(x, 0)", [](const Tensor& t) { return max(t, 0); }, {}, {x}},
      {"reduction", "min(x, -1)", [](const Tensor& t) { return min(t, -1); }, {}, {x}},
      {"reduction", "max()", [](const Tensor& t) { return max(t); }, {}, {x}},
      {"reduction", "var biased", [](const Tensor& t) { return var(t, false); }, {}, {0}},
      {"reduction",
       "var(x, 0) biased",
       [](const Tensor& t) { return var(t, 0, false, false); },
       {},
       {0}},
      {"reduction", "logsumexp(x, 0)", [](const Tensor& t) { return logsumexp(t, 0); }, {}, {x}},
      {"reduction", "argmax(x, 0)", [](const Tensor& t) { return argmax(t, 0); }, {}, {0}, false},
      {"shape", "flatten", [](const Tensor& t) { return flatten(t); }, {1}, {x}},
      {"shape", "unsqueeze(x, 0)", [](const Tensor& t) { return unsqueeze(t, 0); }, {1}, {x}},
      {"shape", "unsqueeze(x, -1)", [](const Tensor& t) { return unsqueeze(t, -1); }, {1}, {x}},
      {"shape",
       "reshape (1, 1) then ()",
       [](const Tensor& t) {
         return reshape(reshape(t, {1, 1}), {});
       },
       {},
       {x}},
      {"shape", "reshape -1", [](const Tensor& t) { return reshape(t, {-1}); }, {1}, {x}},
      {"shape", "squeeze(x, 0)", [](const Tensor& t) { return squeeze(t, 0); }, {}, {x}},
      {"shape",
       "transpose(x, 0, -1)",
       [](const Tensor& t) { return transpose(t, 0, -1); },
       {},
       {x}},
      {"shape", "permute(x, {})", [](const Tensor& t) { return permute(t, {}); }, {}, {x}},
      {"shape",
       "broadcast_to (2, 3)",
       [](const Tensor& t) {
         return broadcast_to(t, {2, 3});
       },
       {2, 3},
       {x, x, x, x, x, x}},
      {"shape",
       "stack",
       [](const Tensor& t) {
         return stack({t, t * 2.0});
       },
       {2},
       {x, 2 * x}},
      {"shape",
       "stack axis -1",
       [](const Tensor& t) {
         return stack({t, t * 2.0}, -1);
       },
       {2},
       {x, 2 * x}},
      {"shape", "gather 0-d index", [](const Tensor& t) { return gather(t, 0, c0(0)); }, {}, {x}},
      {"softmax", "softmax(x, 0)", [](const Tensor& t) { return softmax(t, 0); }, {}, {1}},
      {"softmax",
       "log_softmax(x, -1)",
       [](const Tensor& t) { return log_softmax(t, -1); },
       {},
       {0}},
      {"loss",
       "mse_loss none",
       [=](const Tensor& t) { return mse_loss(t, c0(y), Reduction::none); },
       {},
       {(x - y) * (x - y)}},
      {"loss",
       "mse_loss mean",
       [=](const Tensor& t) { return mse_loss(t, c0(y)); },
       {},
       {(x - y) * (x - y)}},
      {"loss",
       "mse_loss sum",
       [=](const Tensor& t) { return mse_loss(t, c0(y), Reduction::sum); },
       {},
       {(x - y) * (x - y)}},
      {"dropout", "eval", [](const Tensor& t) { return dropout(t, 0.5, false); }, {}, {x}},
      {"reduction", "cumsum(x, 0)", [](const Tensor& t) { return cumsum(t, 0); }, {}, {x}},
      {"reduction", "prod()", [](const Tensor& t) { return prod(t); }, {}, {x}},
      {"reduction", "prod(x, -1)", [](const Tensor& t) { return prod(t, -1); }, {}, {x}},
      {"reduction", "norm", [](const Tensor& t) { return norm(t); }, {}, {x}},
      {"reduction", "norm p = 3", [](const Tensor& t) { return norm(t, 3); }, {}, {x}},
      {"sorting", "sort", [](const Tensor& t) { return sort(t).values; }, {}, {x}},
      {"sorting", "topk 1", [](const Tensor& t) { return topk(t, 1).values; }, {}, {x}},
      {"shape", "flip", [](const Tensor& t) { return flip(t, {0}); }, {}, {x}},
      {"shape", "roll", [](const Tensor& t) { return roll(t, {3}); }, {}, {x}},
      {"shape", "expand (3,)", [](const Tensor& t) { return expand(t, {3}); }, {3}, {x, x, x}},
      {"shape", "repeat (2,)", [](const Tensor& t) { return repeat(t, {2}); }, {2}, {x, x}},
      {"linalg", "einsum ->", [](const Tensor& t) { return einsum("->", {t}); }, {}, {x}},
      {"linalg",
       "einsum ,->",
       [](const Tensor& t) {
         return einsum(",->", {t, t});
       },
       {},
       {x * x}},
      {"loss", "l1_loss", [=](const Tensor& t) { return l1_loss(t, c0(y)); }, {}, {x - y}},
      {"loss",
       "huber_loss none",
       [=](const Tensor& t) { return huber_loss(t, c0(y), Reduction::none); },
       {},
       {x - y - 0.5}},
  };
}

}  // namespace

TEST_CASE("rank 0: every op family gives torch's shape and value on 0-d inputs") {
  for (const Rank0Case& c : rank0_cases()) {
    CAPTURE(c.family);
    CAPTURE(c.name);
    const Tensor y = c.f(scalar_tensor(1.5, float64));
    CHECK(y.shape() == c.shape);
    const std::vector<double> got = y.to_vector();
    REQUIRE(got.size() == c.values.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.values[i]));
  }
}

TEST_CASE("rank 0: forward mode, reverse mode and central differences agree on 0-d inputs") {
  for (const Rank0Case& c : rank0_cases()) {
    if (!c.differentiable) continue;
    CAPTURE(c.family);
    CAPTURE(c.name);
    const Tensor x = scalar_tensor(1.5, float64);
    const Tensor jf = jacobian_forward(c.f, x), jr = jacobian_reverse(c.f, x);
    const Tensor jn = jacobian_numerical(c.f, x);
    const int64_t n = c.shape.numel();
    CHECK(jf.shape() == Shape{n, 1});
    CHECK(jr.shape() == Shape{n, 1});
    const std::vector<double> f = jf.to_vector(), r = jr.to_vector(), num = jn.to_vector();
    for (int64_t i = 0; i < n; ++i) {
      CHECK(f[i] == doctest::Approx(r[i]).epsilon(1e-14));
      // Central differences with step 1e-6 on O(1) values: error ~1e-10 (truncation and rounding).
      CHECK(r[i] == doctest::Approx(num[i]).epsilon(1e-7));
    }
  }
}

TEST_CASE("rank 0: the calls torch refuses on 0-d tensors are clean errors") {
  const Tensor x = scalar_tensor(1.5, float64);
  CHECK(error_of<std::out_of_range>([&] { sum(x, 1); }).find("axis 1 is out of range") !=
        std::string::npos);
  CHECK(error_of<std::out_of_range>([&] { unsqueeze(x, 2); }).find("unsqueeze") !=
        std::string::npos);
  CHECK(error_of([&] { concat({x, x}); }).find("0-d") != std::string::npos);
  CHECK(error_of([&] { slice(x, 0, 0, 1); }).find("0-d") != std::string::npos);
  CHECK(error_of([&] { matmul(x, x); }).find("0-d") != std::string::npos);
  CHECK(error_of([&] { dot(x, x); }).find("dot") != std::string::npos);
  CHECK(error_of([&] { outer(x, x); }).find("outer") != std::string::npos);
  CHECK(error_of([&] {
          tensor({1, 2}, {});
        }) == "tensor: 2 values do not fill shape () (1 elements)");
}

TEST_CASE("tensor(values, shape): the shape is read as reshape reads it") {
  CHECK(tensor({2.5}, {}).shape() == Shape{});
  CHECK(tensor({2.5}, {}).item() == 2.5);
  CHECK(tensor({1, 2, 3}).shape() == Shape{3});
  CHECK(tensor({1, 2, 3, 4, 5, 6}, {2, -1}).shape() == Shape{2, 3});
  CHECK(tensor(std::vector<double>{}).shape() == Shape{0});
  CHECK(error_of([] {
          tensor({1, 2, 3}, {2, -1});
        }).find("tensor: cannot reshape") != std::string::npos);
  CHECK(error_of([] {
          tensor({1, 2}, {-1, -1});
        }) == "tensor: only one dimension can be -1, got (-1, -1)");
  CHECK(error_of([] { tensor({1, 2}, {2, -3}); }) == "tensor: invalid dimension in (2, -3)");
}
