// einsum against the ops it generalizes, torch's implicit-output and ellipsis rules, its
// errors, and derivatives of every order.
#include <doctest/doctest.h>

#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/op_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

namespace {
void check_same(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  CHECK(max(abs(got - want)).item() <= 1e-13 * (1 + max(abs(want)).item()));
}
}  // namespace

TEST_CASE("einsum: the products it generalizes") {
  const Tensor a = randn64({3, 4}, 80), b = randn64({4, 5}, 81), v = randn64({4}, 82);
  const Tensor sq = randn64({4, 4}, 83), ba = randn64({2, 3, 4}, 84), bb = randn64({2, 4, 5}, 85);
  check_same(einsum("ij,jk->ik", {a, b}), matmul(a, b));
  check_same(einsum("ij,jk", {a, b}), matmul(a, b));  // implicit output: i, k
  check_same(einsum("ij->ji", {a}), transpose(a, 0, 1));
  check_same(einsum("ij->", {a}), sum(a));
  check_same(einsum("ij->j", {a}), sum(a, 0));
  check_same(einsum("i,i->", {v, v}), dot(v, v));
  check_same(einsum("i,j->ij", {v, v}), outer(v, v));
  check_same(einsum("bij,bjk->bik", {ba, bb}), matmul(ba, bb));
  check_same(einsum("ij,j->i", {a, v}), matmul(a, v));
  check_same(einsum("ii->i", {sq}), sum(sq * eye(4, float64), 1));
  check_same(einsum("ii", {sq}), sum(sq * eye(4, float64)));
  check_same(einsum("ij,ij->ij", {a, a}), a * a);
  check_same(einsum("ba,ab->", {transpose(a, 0, 1), a}), sum(a * a));
  // Implicit outputs are alphabetical: "ji" keeps j, i in that order, i.e. a transpose.
  check_same(einsum("ji", {a}), transpose(a, 0, 1));
  check_same(einsum(" i j , j k -> i k ", {a, b}), matmul(a, b));
}

TEST_CASE("einsum: ellipsis broadcasting, three operands, 0-d") {
  const Tensor a = randn64({2, 1, 3, 4}, 86), b = randn64({5, 4, 6}, 87);
  const Tensor want = matmul(a, b);  // batch dims (2, 1) and (5) broadcast to (2, 5)
  check_same(einsum("...ij,...jk->...ik", {a, b}), want);
  check_same(einsum("...ij,...jk", {a, b}), want);
  check_same(einsum("...ij,...jk->ik", {a, b}), sum(want, std::vector<int64_t>{0, 1}));
  const Tensor x = randn64({3, 4}, 88), y = randn64({4, 5}, 89), z = randn64({5, 2}, 90);
  check_same(einsum("ij,jk,kl->il", {x, y, z}), matmul(matmul(x, y), z));
  check_same(einsum("ij,jk,kl->", {x, y, z}), sum(matmul(matmul(x, y), z)));
  const Tensor s = scalar_tensor(2.5, float64);
  check_same(einsum(",ij->ij", {s, x}), x * 2.5);
  check_same(einsum("->", {s}), s);
}

TEST_CASE("einsum: errors name the equation and the problem") {
  const Tensor a = zeros({3, 4}, float64), b = zeros({5, 6}, float64);
  CHECK_THROWS_WITH_AS(einsum("ij,jk->ik", {a, b}),
                       "einsum: label 'j' has sizes 4 and 5 in two operands",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("ijk->i", {a}),
                       "einsum 'ijk->i': 'ijk' has 3 labels for an operand with 2 dimensions",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("ij->k", {a}),
                       "einsum 'ij->k': output label 'k' is not in any operand",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("ij->ii", {a}), "einsum 'ij->ii': output label 'i' appears twice",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("i1->i", {a}), doctest::Contains("'1' is not a letter"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("ij", {a, a}), "einsum 'ij': 1 operand specs for 2 tensors",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(einsum("ii", {a}), doctest::Contains("repeated on axes of sizes 3 and 4"),
                       std::invalid_argument);
  CHECK_THROWS_AS(einsum("ij,jk", {a, zeros({4, 2})}), std::invalid_argument);  // dtypes
  CHECK_THROWS_AS(einsum("ij", {}), std::invalid_argument);
}

TEST_CASE("einsum: derivatives of every order for each operand") {
  const Tensor a = randn64({3, 4}, 91), b = randn64({4, 5}, 92), sq = randn64({4, 4}, 93);
  check_all_orders([&](const Tensor& v) { return square(einsum("ij,jk->ik", {v, b})); }, a, 94);
  const Tensor c = randn64({3, 3}, 100);
  check_all_orders([&](const Tensor& v) { return exp(einsum("ij,jk->ik", {a, v})); }, b, 95);
  check_all_orders([&](const Tensor& v) { return einsum("ij,kj,ik->", {v, v, c}); }, a, 96);
  check_all_orders([&](const Tensor& v) { return einsum("ii->i", {v}) * einsum("ii", {v}); }, sq,
                   97);
  check_all_orders(
      [&](const Tensor& v) {
        return einsum("...j,jk", {v, b});
      },
      randn64({2, 3, 4}, 98), 99);
}
