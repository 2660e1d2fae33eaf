// sort, argsort and topk (ops/sorting.h), and the scattering ops (ops/shape_ops.h): values as
// torch 1.13 gives them, errors, and derivatives of every order.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

TEST_CASE("sorting: sort is stable and puts NaN above every number, as torch.sort") {
  const Tensor x = tensor({3, 1, NAN, 1, 2, 3}, {6}, float64);
  SortResult up = sort(x);
  check_values(up.values, {1, 1, 2, 3, 3, NAN});
  check_values(up.indices, {1, 3, 4, 0, 5, 2});
  SortResult down = sort(x, 0, true);
  check_values(down.values, {NAN, 3, 3, 2, 1, 1});
  check_values(down.indices, {2, 0, 5, 4, 1, 3});
  check_values(argsort(tensor({2, 0, 1, 5, 4, 3}, {2, 3}, float64), 1), {1, 2, 0, 2, 1, 0});
  check_values(sort(tensor({2, 0, 1, 5, 4, 3}, {2, 3}, float64), 0, true).values,
               {5, 4, 3, 2, 0, 1});
  CHECK(sort(scalar_tensor(2.0)).values.shape() == Shape{});
  CHECK(sort(zeros({0, 3})).values.shape() == Shape{0, 3});
  CHECK_THROWS_AS(sort(x, 1), std::out_of_range);
}

TEST_CASE("sorting: topk") {
  const Tensor x = tensor({3, 1, 7, 1, 2, 5}, {2, 3}, float64);
  SortResult t = topk(x, 2);
  check_values(t.values, {7, 3, 5, 2});
  check_values(t.indices, {2, 0, 2, 1});
  t = topk(x, 1, 0, false);
  check_values(t.values, {1, 1, 5});
  CHECK(topk(x, 0).values.shape() == Shape{2, 0});
  CHECK(topk(scalar_tensor(2.0), 1).values.shape() == Shape{});
  CHECK_THROWS_WITH_AS(topk(x, 4), doctest::Contains("topk: k = 4 is out of range"),
                       std::out_of_range);
  CHECK_THROWS_AS(topk(x, -1), std::out_of_range);
}

TEST_CASE("sorting: the gradient goes back to where each value came from, to any order") {
  const Tensor x = randn64({3, 5}, 60);
  check_all_orders([](const Tensor& v) { return square(sort(v, 1).values) * 0.5; }, x, 61);
  check_all_orders([](const Tensor& v) { return sort(v, 0, true).values * v; }, x, 62);
  check_all_orders([](const Tensor& v) { return exp(topk(v, 2, 1).values); }, x, 63);
  Tensor l = tensor({3, 1, 2}, {3}, float64).requires_grad_();
  sort(l).values.backward(tensor({10, 20, 30}, {3}, float64));
  check_values(l.grad(), {30, 10, 20});
}

TEST_CASE("scatter: scatter_add, scatter and index_add, as torch") {
  const Tensor index = tensor({0, 1, 2, 0}, {1, 4}, float64);
  check_values(scatter_add(zeros({3, 4}, float64), 0, index, ones({2, 4}, float64)),
               {1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0});
  const Tensor src = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  check_values(scatter(zeros({2, 3}, float64), 1, tensor({2, 0, 1, 0}, {2, 2}, float64), src),
               {2, 0, 1, 5, 4, 0});
  CHECK_THROWS_WITH_AS(scatter(zeros({2, 3}, float64), 1, tensor({1, 1}, {1, 2}, float64), src),
                       doctest::Contains("more than once"), std::invalid_argument);
  check_values(index_add(ones({3, 2}, float64), 0, tensor({2, 0, 2}, {3}, float64),
                         tensor({1, 2, 3, 4, 5, 6}, {3, 2}, float64), 0.5),
               {2.5, 3, 1, 1, 4, 5});
  CHECK_THROWS_WITH_AS(
      index_add(ones({3, 2}, float64), 0, tensor({0}, {1}, float64), ones({2, 2}, float64)),
      doctest::Contains("source of shape (2, 2) must have shape (1, 2)"), std::invalid_argument);
  CHECK_THROWS_AS(
      scatter_add(zeros({3}, float64), 0, tensor({3}, {1}, float64), ones({1}, float64)),
      std::out_of_range);
  CHECK_THROWS_WITH_AS(
      scatter_add(zeros({3}, float64), 0, tensor({0, 1}, {1, 2}, float64), ones({2}, float64)),
      doctest::Contains("same rank"), std::invalid_argument);
}

TEST_CASE("scatter: masked_select and embedding") {
  const Tensor x = arange(6, float64).reshape({2, 3});
  check_values(masked_select(x, tensor({1, 0, 1}, {3}, float64)), {0, 2, 3, 5});
  CHECK(masked_select(x, zeros({2, 3}, float64)).shape() == Shape{0});
  const Tensor w = arange(8, float64).reshape({4, 2});
  const Tensor e = embedding(w, tensor({3, 0, 3, 1}, {2, 2}, float64));
  CHECK(e.shape() == Shape{2, 2, 2});
  check_values(e, {6, 7, 0, 1, 6, 7, 2, 3});
  CHECK_THROWS_AS(embedding(w, tensor({4}, {1}, float64)), std::out_of_range);
  Tensor wl = w.detach().requires_grad_();
  embedding(wl, tensor({3, 0, 3}, {3}, float64)).sum().backward();
  check_values(wl.grad(), {1, 1, 0, 0, 0, 0, 2, 2});
}

TEST_CASE("scatter: derivatives of every order for both inputs") {
  const Tensor x = randn64({3, 4}, 70), s = randn64({2, 4}, 71);
  const Tensor index = tensor({2, 0, 1, 1, 0, 1, 2, 2}, {2, 4}, float64);
  const Tensor rows = tensor({2, 0}, {2}, float64);
  check_all_orders([&](const Tensor& v) { return square(scatter_add(v, 0, index, s)); }, x, 72);
  check_all_orders([&](const Tensor& v) { return square(scatter_add(x, 0, index, v)); }, s, 73);
  check_all_orders([&](const Tensor& v) { return square(scatter(x, 0, index, v)); }, s, 74);
  check_all_orders([&](const Tensor& v) { return square(scatter(v, 0, index, s)); }, x, 75);
  check_all_orders([&](const Tensor& v) { return square(index_add(x, 0, rows, v, 2.0)); }, s, 76);
  check_all_orders([&](const Tensor& v) { return exp(masked_select(v, gt(x, 0.0))); }, x, 77);
  check_all_orders([&](const Tensor& v) { return square(embedding(v, index)); }, x, 78);
}
