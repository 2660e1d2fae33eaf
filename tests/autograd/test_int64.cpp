// int64 tensors: factories, conversion, printing, the ops that move, compare or index with
// them, exact wrapping arithmetic, promotion against float tensors, and the clear errors for
// everything that computes in floating point or would differentiate into an integer tensor.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "tests/error_of.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using dagrad::test_util::check_values;
using dagrad::test_util::error_of;

namespace {
Tensor ints(std::vector<double> v, const Shape& shape = {-1}) {
  return tensor(std::move(v), shape, int64);
}
std::vector<int64_t> values_of(const Tensor& t) {
  REQUIRE(t.dtype() == int64);
  return {t.data<int64_t>(), t.data<int64_t>() + t.numel()};
}
}  // namespace

TEST_CASE("int64: factories, item, printing") {
  CHECK(dtype_name(int64) == "int64");
  CHECK(dtype_size(int64) == 8);
  CHECK(values_of(zeros({2}, int64)) == std::vector<int64_t>{0, 0});
  CHECK(values_of(ones({3}, int64)) == std::vector<int64_t>{1, 1, 1});
  CHECK(values_of(full({2}, -7, int64)) == std::vector<int64_t>{-7, -7});
  CHECK(values_of(arange(4, int64)) == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(values_of(arange(5, -1, -2, int64)) == std::vector<int64_t>{5, 3, 1});
  CHECK(values_of(eye(2, int64)) == std::vector<int64_t>{1, 0, 0, 1});
  CHECK(values_of(ints({3, 1, 4}, {3})) == std::vector<int64_t>{3, 1, 4});
  CHECK(values_of(zeros_like(ints({1, 2}))) == std::vector<int64_t>{0, 0});
  const int64_t raw[] = {INT64_MIN, INT64_MAX};
  const Tensor extremes = from_blob(raw, Shape{2});
  CHECK(values_of(extremes) == std::vector<int64_t>{INT64_MIN, INT64_MAX});
  CHECK(scalar_tensor(5, int64).item() == 5);
  Generator gen(1);
  const Tensor labels = randint(0, 10, {1000}, gen, int64);
  CHECK(labels.dtype() == int64);
  CHECK(values_of(labels) == values_of(randint(0, 10, {1000}, gen = Generator(1), int64)));
  const auto lv = values_of(labels);
  CHECK(*std::min_element(lv.begin(), lv.end()) == 0);
  CHECK(*std::max_element(lv.begin(), lv.end()) == 9);
  CHECK(error_of([&] { randn({2}, gen, int64); }).starts_with("randn: int64 tensors are not"));
  CHECK(ints({1, 2, 3, 4}, {2, 2}).at({1, 0}) == 3);

  // As PyTorch prints int64 tensors: no decimals, right-aligned.
  CHECK(ints({1, -20, 3}).str() == "tensor([  1, -20,   3])");
  CHECK(ints({1, 2, 3, 4}, {2, 2}).str() == "tensor([[1, 2],\n        [3, 4]], shape=(2, 2))");
  CHECK(scalar_tensor(42, int64).str() == "tensor(42)");
  CHECK(extremes.str() == "tensor([-9223372036854775808,  9223372036854775807])");

  // Values that are not finite or do not fit are errors naming the factory.
  CHECK(error_of([] { full({1}, NAN, int64); }).starts_with("full: nan cannot be converted"));
  CHECK(error_of([] { tensor({1e19}, {-1}, int64); }).starts_with("tensor: 1e+19 cannot be"));
  CHECK(error_of([] { linspace(0, 1, 3, int64); }).starts_with("linspace: int64 tensors are not"));
}

TEST_CASE("int64: conversion truncates toward zero, and is not differentiable") {
  Tensor x = tensor({2.7, -2.7, 0.5, -0.0, 1e15}, {-1}, float64).requires_grad_();
  const Tensor i = x.to(int64);
  CHECK(values_of(i) == std::vector<int64_t>{2, -2, 0, 0, 1000000000000000});
  CHECK_FALSE(i.requires_grad());
  CHECK(i.grad_fn() == nullptr);
  check_values(i.to(float64), {2, -2, 0, 0, 1e15});
  CHECK(i.to(float32).dtype() == float32);
  CHECK(i.to(float64).dtype() == float64);
  CHECK(error_of([] {
          tensor({1, INFINITY}).to(int64);
        }).starts_with("to: inf cannot be converted to int64"));
  CHECK(error_of([] { tensor({NAN}).to(int64); }).starts_with("to: nan cannot be converted"));
  // copy_ converts as well.
  Tensor dst = zeros({2}, int64);
  dst.copy_(tensor({3.9, -1.2}));
  CHECK(values_of(dst) == std::vector<int64_t>{3, -1});
}

TEST_CASE("int64: no gradients or tangents for integer tensors") {
  Tensor i = ints({1, 2});
  CHECK(error_of([&] { i.requires_grad_(); }) ==
        "requires_grad_: only floating-point tensors can require gradients, this one is int64 "
        "of shape (2,)");
  CHECK(error_of([&] {
          i.backward(ones({2}, int64));
        }).find("it is int64, and integer tensors have no gradient") != std::string::npos);
  Tensor x = ones({2}, float64).requires_grad_();
  const Tensor y = sum(x * 2.0);
  CHECK(error_of([&] { grad({y}, {i}); }) ==
        "grad: input 0 (shape (2,)) is int64: integer tensors have no gradient");
  CHECK(error_of([&] { make_dual(i, ones({2}, int64)); }) ==
        "make_dual: the primal is int64; integer tensors have no tangent");
  // An op with an integer result records nothing, even from an input that requires grad.
  const Tensor a = argmax(x.reshape({1, 2}), 1);
  CHECK_FALSE(a.requires_grad());
}

TEST_CASE("int64: arithmetic that stays exact, wrapping like PyTorch") {
  const Tensor a = ints({5, -3, 7}), b = ints({2, 4, -1});
  CHECK(values_of(a + b) == std::vector<int64_t>{7, 1, 6});
  CHECK(values_of(a - b) == std::vector<int64_t>{3, -7, 8});
  CHECK(values_of(a * b) == std::vector<int64_t>{10, -12, -7});
  CHECK(values_of(-a) == std::vector<int64_t>{-5, 3, -7});
  CHECK(values_of(maximum(a, b)) == std::vector<int64_t>{5, 4, 7});
  CHECK(values_of(minimum(a, b)) == std::vector<int64_t>{2, -3, -1});
  // Broadcasting works as for floats.
  CHECK(values_of(ints({1, 2}, {2, 1}) + ints({10, 20, 30})) ==
        std::vector<int64_t>{11, 21, 31, 12, 22, 32});
  // Overflow wraps around (two's complement), as torch's int64 does.
  const int64_t raw[] = {INT64_MAX, INT64_MIN};
  const Tensor edge = from_blob(raw, Shape{2});
  CHECK(values_of(edge + ones({2}, int64)) == std::vector<int64_t>{INT64_MIN, INT64_MIN + 1});
  CHECK(values_of(-edge) == std::vector<int64_t>{INT64_MIN + 1, INT64_MIN});
  CHECK(values_of(edge * ints({2, 2})) == std::vector<int64_t>{-2, 0});
  // Comparisons: 1/0 in the operands' dtype, exact beyond 2^53.
  const int64_t big[] = {(int64_t{1} << 53) + 1, 3};
  const int64_t big2[] = {int64_t{1} << 53, 3};
  CHECK(values_of(eq(from_blob(big, Shape{2}), from_blob(big2, Shape{2}))) ==
        std::vector<int64_t>{0, 1});
  CHECK(values_of(lt(a, b)) == std::vector<int64_t>{0, 1, 0});
  CHECK(values_of(ge(a, b)) == std::vector<int64_t>{1, 0, 1});
  CHECK(values_of(eq(a, 7.0)) == std::vector<int64_t>{0, 0, 1});
  CHECK(values_of(gt(a, 0.0)) == std::vector<int64_t>{1, 0, 1});
  CHECK(values_of(where(ints({1, 0, 1}), a, b)) == std::vector<int64_t>{5, 4, 7});
}

TEST_CASE("int64: an int64 operand meets a float one as that float dtype (PyTorch's rule)") {
  const Tensor i = ints({1, 2, 3});
  Tensor x = tensor({0.5, 1.5, -2}, {-1}, float64).requires_grad_();
  const Tensor y = x * i + i;
  CHECK(y.dtype() == float64);
  check_values(y, {1.5, 5, -3});
  y.backward(ones({3}, float64));
  check_values(x.grad(), {1, 2, 3});  // d(x*i)/dx = i
  CHECK((tensor({1.5}) + ints({2})).dtype() == float32);
  check_values(eq(ints({1, 2}), tensor({1, 2.5})), {1, 0});
  // float32 with float64 stays an error.
  CHECK(error_of([] { tensor({1}) + tensor({1}, {-1}, float64); }).starts_with("add: dtype"));
  // Gradient checks through a mixed op, both orders and forward mode.
  test_util::check_all_orders([&](const Tensor& t) { return t * i - i * t * t; },
                              tensor({0.3, -0.7, 1.1}, {-1}, float64), 3);
}

TEST_CASE("int64: sums are int64 and exact") {
  const Tensor m = ints({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor total = sum(m);
  CHECK(total.dim() == 0);
  CHECK(values_of(total) == std::vector<int64_t>{21});
  CHECK(values_of(sum(m, 0)) == std::vector<int64_t>{5, 7, 9});
  CHECK(values_of(sum(m, {1}, true)) == std::vector<int64_t>{6, 15});
  CHECK(sum(m, {1}, true).shape() == Shape{2, 1});
  const int64_t big[] = {int64_t{1} << 60, int64_t{1} << 60, 1};  // beyond float64's integers
  CHECK(values_of(sum(from_blob(big, Shape{3}))) == std::vector<int64_t>{(int64_t{1} << 61) + 1});
  CHECK(values_of(sum(zeros({0}, int64))) == std::vector<int64_t>{0});
}

TEST_CASE("int64: ops that move values keep int64") {
  const Tensor m = ints({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(values_of(m.reshape({3, 2})) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(values_of(m.t()) == std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  CHECK(values_of(permute(m, {1, 0})) == std::vector<int64_t>{1, 4, 2, 5, 3, 6});
  CHECK(values_of(slice(m, 1, 1, 3)) == std::vector<int64_t>{2, 3, 5, 6});
  CHECK(values_of(m.clone()) == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(values_of(concat({m, m}, 0)).size() == 12);
  CHECK(values_of(stack({ints({1}), ints({2})}, 0)) == std::vector<int64_t>{1, 2});
  CHECK(values_of(flip(m, {1})) == std::vector<int64_t>{3, 2, 1, 6, 5, 4});
  CHECK(values_of(roll(m, {1}, {1})) == std::vector<int64_t>{3, 1, 2, 6, 4, 5});
  CHECK(values_of(expand(ints({7}), {3})) == std::vector<int64_t>{7, 7, 7});
  CHECK(values_of(repeat(ints({1, 2}), {2})) == std::vector<int64_t>{1, 2, 1, 2});
  CHECK(values_of(squeeze(unsqueeze(ints({9}), 0), 0)) == std::vector<int64_t>{9});
  CHECK(values_of(pad(ints({1, 2}), {{1, 1}}, -1)) == std::vector<int64_t>{-1, 1, 2, -1});
  CHECK(values_of(index_select(m, 1, ints({2, 0}))) == std::vector<int64_t>{3, 1, 6, 4});
  CHECK(values_of(gather(m, 1, ints({0, 0, 2, 1}, {2, 2}))) == std::vector<int64_t>{1, 1, 6, 5});
  CHECK(values_of(masked_select(m, gt(m, 3.0))) == std::vector<int64_t>{4, 5, 6});
  CHECK(split(m, 1, 0).at(1).dtype() == int64);
  // Sorting integers, with int64 indices.
  const SortResult s = sort(ints({3, -1, 2}));
  CHECK(values_of(s.values) == std::vector<int64_t>{-1, 2, 3});
  CHECK(values_of(s.indices) == std::vector<int64_t>{1, 2, 0});
}

TEST_CASE("int64: indices and labels as int64 give what float indices give") {
  const Tensor x0 = test_util::randn64({3, 4}, 11);
  const std::vector<double> idx = {2, 0, 2};
  auto both = [&](const std::function<Tensor(const Tensor&, const Tensor&)>& f,
                  const Shape& shape) {
    Tensor a = x0.detach().requires_grad_(), b = x0.detach().requires_grad_();
    const Tensor ya = f(a, tensor(idx, shape, float64));
    const Tensor yb = f(b, tensor(idx, shape, int64));
    CHECK(ya.to_vector() == yb.to_vector());
    sum(ya * ya).backward();
    sum(yb * yb).backward();
    CHECK(a.grad().to_vector() == b.grad().to_vector());
  };
  both([](const Tensor& x, const Tensor& i) { return index_select(x, 0, i); }, {3});
  both([](const Tensor& x, const Tensor& i) { return gather(x, 1, i); }, {3, 1});
  both([](const Tensor& x, const Tensor& i) { return embedding(x, i); }, {3});
  both([](const Tensor& x, const Tensor& i) { return cross_entropy(x, i); }, {3});
  both([](const Tensor& x, const Tensor& i) { return nll_loss(log_softmax(x, 1), i); }, {3});
  both([](const Tensor& x, const Tensor& i) { return svm_loss(x, i); }, {3});
  both(
      [](const Tensor& x, const Tensor& i) {
        return scatter_add(x, 1, i, ones({3, 1}, float64));
      },
      {3, 1});
  both(
      [](const Tensor& x, const Tensor& i) {
        return index_add(x, 0, i, ones({3, 4}, float64));
      },
      {3});
  // Index checks are the same for int64.
  CHECK(error_of<std::out_of_range>([&] {
          index_select(x0, 0, ints({3}));
        }).find("index 3 is out of range for axis 0 of size 3") != std::string::npos);
  CHECK(error_of<std::out_of_range>([&] {
          cross_entropy(x0, ints({0, 4, 1}));
        }).find("label 4 at index 1 is out of range for 4 classes") != std::string::npos);
  CHECK(error_of<std::out_of_range>([&] {
          gather(x0, 1, ints({-1, 0, 0}, {3, 1}));
        }).find("index -1 is out of range") != std::string::npos);
}

TEST_CASE("int64: argmax, argmin, argsort, sort and topk give int64 indices") {
  const Tensor x = tensor({0.5, 3, -1, 3, 2, 7}, {2, 3}, float64);
  CHECK(values_of(argmax(x, 1)) == std::vector<int64_t>{1, 2});
  CHECK(values_of(argmin(x, 0)) == std::vector<int64_t>{0, 1, 0});
  CHECK(values_of(argsort(x, 1)) == std::vector<int64_t>{2, 0, 1, 1, 0, 2});
  CHECK(values_of(sort(x, 1, true).indices) == std::vector<int64_t>{1, 0, 2, 2, 0, 1});
  CHECK(values_of(topk(x, 1, 1).indices) == std::vector<int64_t>{1, 2});
  CHECK(sort(scalar_tensor(1.0)).indices.dtype() == int64);
  // The indices feed gather directly, as in PyTorch.
  check_values(gather(x, 1, argsort(x, 1)), {-1, 0.5, 3, 2, 3, 7});
  // Accuracy the PyTorch way: argmax compared with int64 labels.
  CHECK(sum(eq(argmax(x, 1), ints({1, 0}))).item() == 1);
}

TEST_CASE("int64: ops that compute in floating point refuse int64, naming themselves") {
  const Tensor i = ints({1, 2, 3, 4}, {2, 2});
  const std::vector<std::pair<const char*, std::function<void()>>> ops = {
      {"exp", [&] { exp(i); }},
      {"log", [&] { log(i); }},
      {"relu", [&] { relu(i); }},
      {"sigmoid", [&] { sigmoid(i); }},
      {"tanh", [&] { dagrad::tanh(i); }},
      {"sqrt", [&] { dagrad::sqrt(i); }},
      {"abs", [&] { abs(i); }},
      {"gelu", [&] { gelu(i); }},
      {"floor", [&] { floor(i); }},
      {"div", [&] { div(i, i); }},
      {"pow", [&] { pow(i, 2.0); }},
      {"add_scalar", [&] { i + 1.0; }},
      {"mul_scalar", [&] { i * 2.0; }},
      {"clamp", [&] { clamp(i, 0, 1); }},
      {"mean", [&] { mean(i); }},
      {"max", [&] { dagrad::max(i); }},
      {"argmax", [&] { argmax(i, 0); }},
      {"cumsum", [&] { cumsum(i, 0); }},
      {"prod", [&] { prod(i); }},
      {"matmul", [&] { matmul(i, i); }},
      {"softmax", [&] { softmax(i, 1); }},
      {"log_softmax", [&] { log_softmax(i, 1); }},
      {"cross_entropy",
       [&] {
         cross_entropy(i, ints({0, 1}));
       }},
      {"mse_loss", [&] { mse_loss(i, i); }},
      {"layer_norm", [&] { layer_norm(i, ones({2}), zeros({2})); }},
      {"batch_norm", [&] { batch_norm(i, ones({2}), zeros({2}), zeros({2}), ones({2}), false); }},
      {"conv2d",
       [&] {
         conv2d(i.reshape({1, 1, 2, 2}), ones({1, 1, 1, 1}), Tensor());
       }},
      {"max_pool2d",
       [&] {
         max_pool2d(i.reshape({1, 1, 2, 2}), 2);
       }},
      {"nll_loss",
       [&] {
         nll_loss(i, ints({0, 1}));
       }},
      {"embedding", [&] { embedding(i, ints({0})); }},
      {"dropout", [&] { dropout(i, 0.5, true); }},
      {"norm", [&] { norm(i); }},
      {"var", [&] { var(i); }},
      {"logsumexp", [&] { logsumexp(i); }},
      {"add_", [&] { Tensor(i).add_(i); }},
      {"scatter_add",
       [&] {
         scatter_add(i, 1, ints({0, 1}, {2, 1}), ints({1, 1}, {2, 1}));
       }},
  };
  for (const auto& [op, f] : ops) {
    const std::string e = error_of(f), name = op;
    CAPTURE(name);
    CAPTURE(e);
    CHECK(e.starts_with(name + ": int64 tensors are not supported here"));
  }
}
