#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"

using namespace dagrad;

namespace {

using Vec = std::vector<double>;

void check_values(const Tensor& t, const Vec& want, double tol = 1e-12) {
  const Vec got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

Tensor rnd(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen, float64);
}

Tensor leaf(const Shape& s, uint64_t seed) { return rnd(s, seed).requires_grad_(); }

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  INFO(r.report());
  CHECK(r.passed);
}

// Throws E with a message containing every one of `parts`.
template <typename E, typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no exception thrown");
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) {
      INFO("message: " << msg << " | expected to contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
}

// Gives x a forward-mode tangent.
void set_tangent(const Tensor& x, const Tensor& v) { x.impl().tangent = v.impl_ptr(); }

Tensor idx(std::initializer_list<double> v, const Shape& s = {-1}) { return tensor(v, s); }

}  // namespace

// ---------------------------------------------------------------- views and permutations

TEST_CASE("shape_ops: reshape infers -1 and shares storage") {
  Tensor x = arange(6, float64);
  Tensor y = reshape(x, {2, -1});
  CHECK(y.shape() == Shape{2, 3});
  check_values(y, {0, 1, 2, 3, 4, 5});
  // Writing through one handle shows in the other.
  y.data<double>()[4] = 40;
  CHECK(x.at({4}) == 40);
  x.data<double>()[0] = -7;
  CHECK(y.at({0, 0}) == -7);
  CHECK(x.reshape({3, 2}).at({2, 0}) == 40);
}

TEST_CASE("shape_ops: reshape errors") {
  Tensor x = zeros({2, 3});
  expect_error<std::invalid_argument>([&] { reshape(x, {4, 2}); }, {"reshape", "(2, 3)", "(4, 2)"});
  expect_error<std::invalid_argument>([&] { reshape(x, {-1, -1}); }, {"reshape", "-1"});
  expect_error<std::invalid_argument>([&] { reshape(x, {4, -1}); }, {"reshape", "(2, 3)"});
}

TEST_CASE("shape_ops: reshape, flatten, squeeze, unsqueeze shapes and gradients") {
  Tensor x = zeros({2, 3, 4});
  CHECK(flatten(x).shape() == Shape{24});
  CHECK(flatten(x, 1).shape() == Shape{2, 12});
  CHECK(flatten(x, 0, 1).shape() == Shape{6, 4});
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3, 4});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 4, 1});
  CHECK(squeeze(zeros({2, 1, 3}), 1).shape() == Shape{2, 3});
  // As torch.squeeze: an axis of size != 1 stays, and so does a 0-d tensor's only "axis".
  CHECK(squeeze(x, 1).shape() == Shape{2, 3, 4});
  CHECK(squeeze(scalar_tensor(2.0), 0).shape() == Shape{});
  CHECK(squeeze(scalar_tensor(2.0), -1).shape() == Shape{});
  expect_error<std::out_of_range>([&] { squeeze(scalar_tensor(2.0), 1); }, {"squeeze", "axis 1"});
  expect_error<std::out_of_range>([&] { squeeze(x, 3); }, {"squeeze", "axis 3"});
  expect_error<std::invalid_argument>([&] { flatten(x, 2, 1); }, {"flatten"});

  Tensor w = rnd({12, 2}, 9);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return unsqueeze(squeeze(reshape(in[0], {4, 1, 6}), 1), 0).flatten(1) * reshape(w, {1, 24});
      },
      {leaf({2, 3, 4}, 1)});
}

TEST_CASE("shape_ops: permute and transpose values") {
  Tensor x = arange(24, float64).reshape({2, 3, 4});
  Tensor p = permute(x, {2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == x.at({i, j, k}));
  Tensor t = transpose(x, 0, -1);
  REQUIRE(t.shape() == Shape{4, 3, 2});
  CHECK(t.at({3, 1, 0}) == x.at({0, 1, 3}));
  CHECK(t.at({1, 2, 1}) == x.at({1, 2, 1}));
  check_values(arange(6, float64).reshape({2, 3}).t(), {0, 3, 1, 4, 2, 5});
  expect_error<std::invalid_argument>([&] { permute(x, {0, 1}); }, {"permute", "(2, 3, 4)"});
  expect_error<std::invalid_argument>([&] { permute(x, {0, 1, 1}); }, {"permute", "repeated"});
  expect_error<std::out_of_range>([&] { transpose(x, 0, 3); }, {"transpose", "axis 3"});
}

TEST_CASE("shape_ops: a large matrix transpose (tiled) puts every element in its place") {
  // 37 x 70: partial tiles on both axes; int64 values are exact positions.
  std::vector<double> v(37 * 70);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  for (Dtype dt : {float32, float64, int64}) {
    const Tensor t = transpose(tensor(v, {37, 70}, dt), 0, 1);
    REQUIRE(t.shape() == Shape{70, 37});
    const std::vector<double> got = t.to_vector();
    bool all = true;
    for (int64_t i = 0; i < 70; ++i)
      for (int64_t j = 0; j < 37; ++j) all = all && got[i * 37 + j] == v[j * 70 + i];
    CHECK(all);
  }
}

TEST_CASE("shape_ops: permute and transpose gradcheck") {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return permute(in[0], {1, 2, 0});
      },
      {leaf({2, 3, 4}, 2)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 1, -1) * 2.0; },
                   {leaf({2, 3, 4}, 3)});
}

TEST_CASE("shape_ops: broadcast_to values, gradient and error") {
  Tensor x = tensor({1, 2, 3}, {3, 1}, float64);
  Tensor y = broadcast_to(x, {2, 3, 2});
  check_values(y, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  Tensor l = leaf({3, 1}, 4);
  sum(broadcast_to(l, {2, 3, 2})).backward();
  check_values(l.grad(), {4, 4, 4});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return broadcast_to(in[0], {2, 3, 4});
      },
      {leaf({3, 1}, 5)});
  expect_error<std::invalid_argument>(
      [&] {
        broadcast_to(x, {3, 2, 1});
      },
      {"broadcast_to", "(3, 1)"});
}

// ---------------------------------------------------------------- slice

TEST_CASE("shape_ops: slice follows Python rules") {
  Tensor x = arange(10, float64);
  check_values(slice(x, 0, 2, 8, 2), {2, 4, 6});
  check_values(slice(x, 0, 2, 9, 3), {2, 5, 8});
  check_values(slice(x, 0, -3, 10), {7, 8, 9});
  check_values(slice(x, 0, 1, -1, 4), {1, 5});
  check_values(slice(x, 0, -100, 100, 4), {0, 4, 8});
  check_values(slice(x, 0, 0, std::numeric_limits<int64_t>::max()), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(slice(x, 0, 7, 3).shape() == Shape{0});
  CHECK(slice(x, 0, 12, 20).shape() == Shape{0});

  Tensor m = arange(24, float64).reshape({2, 3, 4});
  Tensor s = slice(m, -1, 1, 4, 2);  // m[..., 1::2]
  REQUIRE(s.shape() == Shape{2, 3, 2});
  check_values(s, {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  Tensor r = slice(m, 1, -2, 3);  // m[:, 1:]
  REQUIRE(r.shape() == Shape{2, 2, 4});
  check_values(r, {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23});
}

TEST_CASE("shape_ops: slice errors") {
  Tensor x = zeros({2, 3});
  expect_error<std::invalid_argument>([&] { slice(x, 1, 0, 3, 0); }, {"slice", "step", "0"});
  expect_error<std::invalid_argument>([&] { slice(x, 1, 3, 0, -1); }, {"slice", "-1"});
  expect_error<std::out_of_range>([&] { slice(x, 2, 0, 1); }, {"slice", "axis 2"});
}

TEST_CASE("shape_ops: slice gradient scatters into zeros") {
  Tensor x = leaf({6}, 6);
  Tensor w = tensor({1, 2, 3}, {-1}, float64);
  sum(slice(x, 0, 1, 6, 2) * w).backward();
  check_values(x.grad(), {0, 1, 0, 2, 0, 3});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 1, -4, 5, 2); },
                   {leaf({2, 5, 3}, 7)});
  expect_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, 1, 3); },
                   {leaf({4, 3}, 8)});
}

TEST_CASE("shape_ops: slice double backward") {
  // f = sum(slice(x)^3): df/dx = 3 x^2 on the slice, 0 elsewhere; d<df/dx, v>/dx = 6 x v there.
  Tensor x = tensor({0.5, -1.0, 2.0, 1.5, -0.5}, {-1}, float64).requires_grad_();
  Tensor v = tensor({1, 2, 3, 4, 5}, {-1}, float64);
  Tensor g = grad({sum(pow(slice(x, 0, 0, 5, 2), 3.0))}, {x}, {}, {.create_graph = true})[0];
  check_values(g, {0.75, 0, 12, 0, 0.75});
  Tensor h = grad({sum(g * v)}, {x})[0];
  check_values(h, {6 * 0.5 * 1, 0, 6 * 2.0 * 3, 0, 6 * -0.5 * 5});
}

// ---------------------------------------------------------------- index_select

TEST_CASE("shape_ops: index_select values") {
  Tensor x = arange(12, float64).reshape({3, 4});
  check_values(index_select(x, 0, idx({2, 0})), {8, 9, 10, 11, 0, 1, 2, 3});
  Tensor c = index_select(x, 1, std::vector<int64_t>{3, 3, 1});
  REQUIRE(c.shape() == Shape{3, 3});
  check_values(c, {3, 3, 1, 7, 7, 5, 11, 11, 9});
  check_values(index_select(x, -1, idx({1})), {1, 5, 9});
  CHECK(index_select(x, 0, std::vector<int64_t>{}).shape() == Shape{0, 4});
  Tensor x3 = arange(24, float64).reshape({2, 3, 4});
  Tensor s = index_select(x3, 1, idx({2, 0}));
  REQUIRE(s.shape() == Shape{2, 2, 4});
  check_values(s, {8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15});
}

TEST_CASE("shape_ops: index_select repeated indices accumulate gradients") {
  Tensor x = leaf({3, 2}, 10);
  sum(index_select(x, 0, idx({0, 2, 0, 0}))).backward();
  check_values(x.grad(), {3, 3, 0, 0, 1, 1});
  Tensor y = leaf({2, 3}, 11);
  Tensor w = tensor({1, 10, 100, 2, 20, 200}, {2, 3}, float64);
  sum(index_select(y, 1, std::vector<int64_t>{1, 1, 0}) * w).backward();
  check_values(y.grad(), {100, 11, 0, 200, 22, 0});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return index_select(in[0], 1, idx({2, 0, 2, 1, 2}));
      },
      {leaf({2, 3, 2}, 12)});
}

TEST_CASE("shape_ops: index_select double backward through its backward") {
  // f = sum(index_select(x)^2) with index 0 twice: df/dx0 = 4 x0; d<df/dx, v>/dx0 = 4 v0.
  Tensor x = tensor({1.5, -2.0}, {-1}, float64).requires_grad_();
  Tensor g =
      grad({sum(square(index_select(x, 0, idx({0, 0, 1}))))}, {x}, {}, {.create_graph = true})[0];
  check_values(g, {6.0, -4.0});
  Tensor h = grad({sum(g * tensor({3, 5}, {-1}, float64))}, {x})[0];
  check_values(h, {12.0, 10.0});
}

TEST_CASE("shape_ops: index_select errors") {
  Tensor x = zeros({2, 3});
  expect_error<std::out_of_range>(
      [&] {
        index_select(x, 1, idx({0, 3}));
      },
      {"index_select", "index 3", "axis 1", "size 3"});
  expect_error<std::out_of_range>([&] { index_select(x, 0, std::vector<int64_t>{-1}); },
                                  {"index_select", "-1", "size 2"});
  expect_error<std::invalid_argument>([&] { index_select(x, 0, idx({0.5})); },
                                      {"index_select", "0.5", "integer"});
  expect_error<std::invalid_argument>(
      [&] {
        index_select(x, 0, zeros({1, 1}));
      },
      {"index_select", "(1, 1)"});
}

// ---------------------------------------------------------------- gather

TEST_CASE("shape_ops: gather picks each row's class score") {
  Tensor scores = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  Tensor y = idx({2, 0}, {2, 1});
  Tensor picked = gather(scores, 1, y);
  REQUIRE(picked.shape() == Shape{2, 1});
  check_values(picked, {3, 4});
}

TEST_CASE("shape_ops: gather values on every axis (torch reference)") {
  Tensor x = arange(24, float64).reshape({2, 3, 4});
  // torch.gather(x, 2, i) with i of shape (2, 2, 2): smaller on the non-gather axis 1.
  Tensor i2 = idx({3, 0, 1, 1, 2, 2, 0, 3}, {2, 2, 2});
  check_values(gather(x, 2, i2), {3, 0, 5, 5, 14, 14, 16, 19});
  check_values(gather(x, -1, i2), {3, 0, 5, 5, 14, 14, 16, 19});
  // Gather axis 0 larger than x's (3 > 2), axis 1 smaller (1 < 3).
  Tensor i0 = idx({1, 0, 1, 0, 0, 1, 1, 1, 1}, {3, 1, 3});
  Tensor g0 = gather(x, 0, i0);
  REQUIRE(g0.shape() == Shape{3, 1, 3});
  check_values(g0, {12, 1, 14, 0, 1, 14, 12, 13, 14});
  // Axis 1 against a naive loop.
  Tensor i1 = idx({2, 0, 1, 1, 0, 2, 2, 2}, {2, 2, 2});
  Tensor g1 = gather(x, 1, i1);
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t c = 0; c < 2; ++c)
        CHECK(g1.at({a, b, c}) == x.at({a, static_cast<int64_t>(i1.at({a, b, c})), c}));
}

TEST_CASE("shape_ops: gather gradient scatter-adds (torch reference)") {
  Tensor x = leaf({2, 3}, 13);
  Tensor w = arange(1, 7, 1, float64).reshape({2, 3});
  sum(gather(x, 1, idx({0, 0, 2, 1, 1, 1}, {2, 3})) * w).backward();
  check_values(x.grad(), {3, 0, 3, 0, 15, 0});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return gather(in[0], 0, idx({1, 0, 1, 0, 0, 1, 1, 1, 1}, {3, 1, 3}));
      },
      {leaf({2, 3, 4}, 14)});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return gather(in[0], 2, idx({3, 0, 1, 1, 2, 2, 0, 3}, {2, 2, 2}));
      },
      {leaf({2, 3, 4}, 15)});
}

TEST_CASE("shape_ops: gather double backward") {
  // f = sum(gather(x)^2), index 1 picked twice in row 0: df/dx = 2 x * count.
  Tensor x = tensor({1.0, 2.0, -3.0, 0.5}, {2, 2}, float64).requires_grad_();
  Tensor g = grad({sum(square(gather(x, 1, idx({1, 1, 0, 1}, {2, 2}))))}, {x}, {},
                  {.create_graph = true})[0];
  check_values(g, {0, 8, -6, 1});
  Tensor h = grad({sum(g * tensor({1, 2, 3, 4}, {2, 2}, float64))}, {x})[0];
  check_values(h, {0, 8, 6, 8});
}

TEST_CASE("shape_ops: gather errors") {
  Tensor x = zeros({2, 3});
  expect_error<std::invalid_argument>(
      [&] {
        gather(x, 1, idx({0, 1}));
      },
      {"gather", "(2,)", "(2, 3)"});
  expect_error<std::out_of_range>(
      [&] {
        gather(x, 1, idx({0, 3}, {2, 1}));
      },
      {"gather", "index 3", "axis 1", "size 3"});
  expect_error<std::out_of_range>([&] { gather(x, 1, idx({-1}, {1, 1})); }, {"gather", "-1"});
  expect_error<std::invalid_argument>(
      [&] {
        gather(x, 1, zeros({3, 1}));
      },
      {"gather", "(3, 1)", "(2, 3)", "axis 0"});
}

// ---------------------------------------------------------------- concat / stack

TEST_CASE("shape_ops: concat values") {
  Tensor a = arange(6, float64).reshape({2, 3});
  Tensor b = arange(6, 8, 1, float64).reshape({1, 2}).reshape({2, 1});
  Tensor c1 = concat({a, b}, 1);
  REQUIRE(c1.shape() == Shape{2, 4});
  check_values(c1, {0, 1, 2, 6, 3, 4, 5, 7});
  Tensor c0 = concat({a, a, arange(3, float64).reshape({1, 3})}, 0);
  REQUIRE(c0.shape() == Shape{5, 3});
  check_values(c0, {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2});
  Tensor cn = concat({a, zeros({2, 0}, float64), b}, -1);
  check_values(cn, {0, 1, 2, 6, 3, 4, 5, 7});
}

TEST_CASE("shape_ops: concat gradients") {
  Tensor a = leaf({2, 3}, 16), b = leaf({2, 1}, 17), c = leaf({2, 2}, 18);
  sum(concat({a, b, c}, 1) * arange(12, float64).reshape({2, 6})).backward();
  check_values(a.grad(), {0, 1, 2, 6, 7, 8});
  check_values(b.grad(), {3, 9});
  check_values(c.grad(), {4, 5, 10, 11});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1], in[0]}, 0);
      },
      {leaf({1, 2, 3}, 19), leaf({2, 2, 3}, 20)});
  // Only some inputs require grad.
  Tensor k = rnd({2, 3}, 21);
  expect_gradcheck(
      [&](const std::vector<Tensor>& in) {
        return concat({k, in[0]}, 1);
      },
      {leaf({2, 2}, 22)});
}

TEST_CASE("shape_ops: concat double backward") {
  Tensor a = tensor({1.0, 2.0}, {-1}, float64).requires_grad_();
  Tensor b = tensor({-1.0}, {-1}, float64).requires_grad_();
  Tensor g = grad({sum(pow(concat({a, b}), 3.0))}, {a, b}, {}, {.create_graph = true})[0];
  check_values(g, {3, 12});
  Tensor h = grad({sum(g)}, {a})[0];
  check_values(h, {6, 12});
}

TEST_CASE("shape_ops: concat errors name the input that differs") {
  Tensor a = zeros({2, 3}), b = zeros({2, 4}), c = zeros({3, 3});
  expect_error<std::invalid_argument>(
      [&] {
        concat({a, b, c}, 0);
      },
      {"concat", "input 1", "(2, 4)", "(2, 3)", "axis 0"});
  expect_error<std::invalid_argument>(
      [&] {
        concat({a, c, b}, 1);
      },
      {"concat", "input 1", "(3, 3)"});
  expect_error<std::invalid_argument>(
      [&] {
        concat({a, zeros({2, 3, 1})}, 0);
      },
      {"concat", "input 1", "(2, 3, 1)"});
  expect_error<std::invalid_argument>(
      [&] {
        concat({a, zeros({2, 3}, float64)}, 0);
      },
      {"concat", "input 1", "float64", "float32"});
  expect_error<std::invalid_argument>([&] { concat({}, 0); }, {"concat", "no tensors"});
  expect_error<std::invalid_argument>([&] { concat({scalar_tensor(1)}, 0); }, {"concat", "0-d"});
}

TEST_CASE("shape_ops: stack values, gradient and errors") {
  Tensor a = arange(6, float64).reshape({2, 3});
  Tensor b = arange(6, 12, 1, float64).reshape({2, 3});
  Tensor s0 = stack({a, b});
  REQUIRE(s0.shape() == Shape{2, 2, 3});
  check_values(s0, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor s2 = stack({a, b}, -1);
  REQUIRE(s2.shape() == Shape{2, 3, 2});
  check_values(s2, {0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11});
  Tensor s1 = stack({a, b}, 1);
  REQUIRE(s1.shape() == Shape{2, 2, 3});
  check_values(s1, {0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11});
  check_values(stack({scalar_tensor(1, float64), scalar_tensor(2, float64)}), {1, 2});
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1], in[0]}, 1);
      },
      {leaf({2, 3}, 23), leaf({2, 3}, 24)});
  expect_error<std::invalid_argument>(
      [&] {
        stack({a, zeros({3, 2}, float64)});
      },
      {"stack", "input 1", "(3, 2)", "(2, 3)"});
  expect_error<std::out_of_range>([&] { stack({a, b}, 3); }, {"stack", "axis 3"});
}

// ---------------------------------------------------------------- pad

TEST_CASE("shape_ops: pad values (torch reference)") {
  Tensor x = arange(6, float64).reshape({2, 3});
  Tensor p = pad(x, {{1, 0}, {0, 2}}, -1.0);
  REQUIRE(p.shape() == Shape{3, 5});
  check_values(p, {-1, -1, -1, -1, -1, 0, 1, 2, -1, -1, 3, 4, 5, -1, -1});
  // One pair applies to every axis (NumPy).
  Tensor q = pad(tensor({7}, {1, 1}, float64), {{1, 1}});
  REQUIRE(q.shape() == Shape{3, 3});
  check_values(q, {0, 0, 0, 0, 7, 0, 0, 0, 0});
  Tensor z = pad(x, {{0, 0}, {0, 0}});
  check_values(z, {0, 1, 2, 3, 4, 5});
  Tensor x3 = arange(8, float64).reshape({2, 2, 2});
  Tensor p3 = pad(x3, {{0, 0}, {1, 0}, {0, 1}});
  REQUIRE(p3.shape() == Shape{2, 3, 3});
  check_values(p3, {0, 0, 0, 0, 1, 0, 2, 3, 0, 0, 0, 0, 4, 5, 0, 6, 7, 0});
}

TEST_CASE("shape_ops: pad gradient and double backward") {
  expect_gradcheck(
      [](const std::vector<Tensor>& in) {
        return pad(in[0], {{1, 2}, {0, 1}, {3, 0}}, 0.5);
      },
      {leaf({2, 2, 3}, 25)});
  Tensor x = tensor({1.0, -2.0}, {-1}, float64).requires_grad_();
  Tensor g = grad({sum(pow(pad(x, {{2, 1}}, 1.0), 3.0))}, {x}, {}, {.create_graph = true})[0];
  check_values(g, {3, 12});
  Tensor h = grad({sum(g * tensor({2, 3}, {-1}, float64))}, {x})[0];
  check_values(h, {12, -36});
}

TEST_CASE("shape_ops: pad errors") {
  Tensor x = zeros({2, 3});
  expect_error<std::invalid_argument>(
      [&] {
        pad(x, {{1, -1}, {0, 0}});
      },
      {"pad", "negative", "axis 0"});
  expect_error<std::invalid_argument>(
      [&] {
        pad(x, {{1, 1}, {0, 0}, {0, 0}});
      },
      {"pad", "3", "(2, 3)"});
}

// ---------------------------------------------------------------- forward mode

TEST_CASE("shape_ops: forward-mode tangents apply the same linear op") {
  Tensor x = arange(6, float64).reshape({2, 3});
  Tensor v = arange(10, 16, 1, float64).reshape({2, 3});
  set_tangent(x, v);
  check_values(slice(x, 1, 0, 3, 2).tangent(), {10, 12, 13, 15});
  check_values(index_select(x, 1, idx({2, 2})).tangent(), {12, 12, 15, 15});
  check_values(gather(x, 1, idx({1, 0}, {2, 1})).tangent(), {11, 13});
  check_values(pad(x, {{0, 1}, {0, 0}}, 5.0).tangent(), {10, 11, 12, 13, 14, 15, 0, 0, 0});
  Tensor y = ones({1, 3}, float64);
  check_values(concat({x, y}).tangent(), {10, 11, 12, 13, 14, 15, 0, 0, 0});
  check_values(stack({y.reshape({3}), slice(x, 0, 1, 2).reshape({3})}).tangent(),
               {0, 0, 0, 13, 14, 15});
  check_values(transpose(x, 0, 1).tangent(), {10, 13, 11, 14, 12, 15});
  check_values(reshape(x, {3, 2}).tangent(), {10, 11, 12, 13, 14, 15});
}

TEST_CASE("shape_ops: flip and roll values, as torch.flip and torch.roll") {
  const Tensor x = arange(6, float64).reshape({2, 3});
  check_values(flip(x, {1}), {2, 1, 0, 5, 4, 3});
  check_values(flip(x, {0, -1}), {5, 4, 3, 2, 1, 0});
  check_values(flip(x, {}), {0, 1, 2, 3, 4, 5});
  check_values(roll(arange(4, float64), {1}), {3, 0, 1, 2});
  check_values(roll(x, {1, -1}, {0, 1}), {4, 5, 3, 1, 2, 0});
  check_values(roll(x, {7}), {5, 0, 1, 2, 3, 4});        // flattened, shift mod 6
  check_values(roll(x, {-4}, {1}), {1, 2, 0, 4, 5, 3});  // -4 mod 3 = 2 to the right
  CHECK(flip(scalar_tensor(2.0), {0}).shape() == Shape{});
  CHECK(roll(scalar_tensor(2.0), {1}).item() == 2.0);
  CHECK(roll(zeros({0, 2}), {3}, {0}).shape() == Shape{0, 2});
  expect_error<std::invalid_argument>([&] { flip(x, {1, -1}); }, {"flip", "repeated"});
  expect_error<std::out_of_range>([&] { flip(x, {2}); }, {"flip", "axis 2"});
  expect_error<std::invalid_argument>([&] { roll(x, {1, 2}); }, {"roll", "one shift"});
  expect_error<std::invalid_argument>(
      [&] {
        roll(x, {1}, {0, 1});
      },
      {"roll", "1 shifts for 2 axes"});
  CHECK(std::string(flip(x.detach().requires_grad_(), {0}).grad_fn()->name) == "flip");
}

TEST_CASE("shape_ops: split and chunk, as torch.split and torch.chunk") {
  const Tensor x = arange(10, float64).reshape({5, 2});
  std::vector<Tensor> p = split(x, 2);
  REQUIRE(p.size() == 3);
  CHECK(p[2].shape() == Shape{1, 2});
  check_values(p[1], {4, 5, 6, 7});
  p = split(x, std::vector<int64_t>{1, 4});
  REQUIRE(p.size() == 2);
  CHECK(p[1].shape() == Shape{4, 2});
  p = split(x, 1, -1);
  REQUIRE(p.size() == 2);
  check_values(p[1], {1, 3, 5, 7, 9});
  CHECK(chunk(arange(5, float64), 3).size() == 3);
  CHECK(chunk(arange(6, float64), 4).size() == 3);  // pieces of 2: fewer than asked
  CHECK(chunk(zeros({0, 3}), 3).size() == 3);
  CHECK(split(zeros({0, 3}), 2).size() == 1);
  expect_error<std::invalid_argument>(
      [&] {
        split(x, std::vector<int64_t>{1, 1});
      },
      {"split", "add up to 2", "size 5"});
  expect_error<std::invalid_argument>([&] { split(x, 0); }, {"split", "positive"});
  expect_error<std::invalid_argument>([&] { chunk(x, 0); }, {"chunk", "positive"});
  // Huge counts are ordinary values, not overflows.
  CHECK(chunk(x, INT64_MAX).size() == 5);
  expect_error<std::invalid_argument>(
      [&] {
        split(x, std::vector<int64_t>{INT64_MAX, 1});
      },
      {"split", "64-bit"});
  CHECK(roll(arange(3, float64), {INT64_MIN}).shape() == Shape{3});
  expect_error<std::invalid_argument>([&] { split(scalar_tensor(1.0), 1); }, {"split", "0-d"});
}

TEST_CASE("shape_ops: expand and repeat, as torch.Tensor.expand and repeat") {
  const Tensor x = tensor({1, 2, 3}, {3, 1}, float64);
  CHECK(expand(x, {2, -1, 4}).shape() == Shape{2, 3, 4});
  check_values(expand(x, {3, 2}), {1, 1, 2, 2, 3, 3});
  expect_error<std::invalid_argument>([&] { expand(x, {-1, 3, 1}); }, {"expand", "-1"});
  expect_error<std::invalid_argument>([&] { expand(x, {4}); }, {"expand", "fewer dimensions"});
  check_values(repeat(tensor({1, 2}, {2}, float64), {2}), {1, 2, 1, 2});
  const Tensor r = repeat(tensor({1, 2, 3, 4}, {2, 2}, float64), {2, 1, 2});
  CHECK(r.shape() == Shape{2, 2, 4});
  check_values(r, {1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(repeat(scalar_tensor(2.0), {}).shape() == Shape{});
  CHECK(repeat(scalar_tensor(2.0), {2, 3}).shape() == Shape{2, 3});
  CHECK(repeat(x, {0, 1}).shape() == Shape{0, 1});
  expect_error<std::invalid_argument>([&] { repeat(x, {2}); }, {"repeat", "at least one"});
  expect_error<std::invalid_argument>([&] { repeat(x, {-1, 1}); }, {"repeat", "negative"});
  expect_error<std::invalid_argument>([&] { repeat(x, {1LL << 62, 4}); }, {"64-bit"});
}

TEST_CASE(
    "shape_ops: flip, roll, split, expand and repeat: gradcheck, double backward, forward mode") {
  Generator gen(11);
  const Tensor x = randn({3, 4}, gen, float64).requires_grad_();
  const Tensor w = randn({3, 4}, gen, float64);
  const std::vector<std::function<Tensor(const Tensor&)>> ops = {
      [](const Tensor& t) {
        return flip(t, {0, 1});
      },
      [](const Tensor& t) {
        return roll(t, {2, -1}, {1, 0});
      },
      [](const Tensor& t) { return roll(t, {5}); },
      [](const Tensor& t) { return split(t, 3, 1)[1] * 2.0 + split(t, 3, 1)[0].sum(); },
      [](const Tensor& t) { return chunk(t, 2, 0)[0]; },
      [](const Tensor& t) {
        return expand(reshape(t, {3, 1, 4}), {2, 3, -1, 4});
      },
      [](const Tensor& t) {
        return repeat(t, {2, 1, 3});
      },
  };
  for (std::size_t i = 0; i < ops.size(); ++i) {
    CAPTURE(i);
    auto f = ops[i];
    // The ops are linear: a square makes the second derivative non-zero.
    auto g = [f](const std::vector<Tensor>& in) { return square(f(in[0])); };
    expect_gradcheck(g, {x});
    const Tensor jf = jacobian_forward([f](const Tensor& t) { return f(t); }, x.detach());
    const Tensor jr = jacobian_reverse([f](const Tensor& t) { return f(t); }, x.detach());
    CHECK(max(abs(jf - jr)).item() == 0);
    // d/dx sum(f(x)^2 * 0.5) = J^T f(x); its derivative along w is J^T J w.
    BackwardOptions cg;
    cg.create_graph = true;
    Tensor gx = grad({sum(square(f(x))) * 0.5}, {x}, {}, cg)[0];
    Tensor hv = grad({sum(gx * w)}, {x})[0];
    const Tensor want = matmul(transpose(jr, 0, 1), matmul(jr, reshape(w, {12, 1})));
    CHECK(max(abs(reshape(hv, {12, 1}) - want)).item() < 1e-12);
  }
}
