#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::test_util::error_of;

namespace {

using V = std::vector<double>;

bool contains_text(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void check_values(const Tensor& t, const V& want, double tol = 0) {
  const V got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    if (tol == 0)
      CHECK(got[i] == want[i]);
    else
      CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

}  // namespace

// ---------------------------------------------------------------- factories

TEST_CASE("tensor: zeros, ones, full and their _like forms") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == float32);
  CHECK(z.numel() == 6);
  check_values(z, V(6, 0.0));

  Tensor o = ones({4}, float64);
  CHECK(o.dtype() == float64);
  check_values(o, V(4, 1.0));

  Tensor f = full({2, 2}, -3.5, float64);
  check_values(f, V(4, -3.5));

  Tensor f32 = full({3}, 0.1);  // stored as the float nearest 0.1
  CHECK(f32.to_vector()[0] != 0.1);
  CHECK(f32.to_vector()[0] == static_cast<double>(0.1f));

  CHECK(zeros_like(f).shape() == f.shape());
  CHECK(zeros_like(f).dtype() == float64);
  check_values(ones_like(f), V(4, 1.0));
  check_values(full_like(f, 7), V(4, 7.0));
  CHECK(empty_like(f).shape() == Shape{2, 2});

  Tensor s = scalar_tensor(2.5, float64);
  CHECK(s.dim() == 0);
  CHECK(s.shape() == Shape{});
  CHECK(s.numel() == 1);
  CHECK(s.item() == 2.5);

  // Zero-size dimensions are fine; negative ones are not.
  CHECK(zeros({0, 3}).numel() == 0);
  CHECK(zeros({0, 3}).shape() == Shape{0, 3});
  CHECK(error_of<std::exception>([] {
          zeros({2, -1});
        }).find("negative dimension in shape (2, -1)") != std::string::npos);
}

TEST_CASE("tensor: arange with integer and float steps, and empty ranges") {
  check_values(arange(5), {0, 1, 2, 3, 4});
  CHECK(arange(5).dtype() == float32);
  check_values(arange(2.0, 5.0), {2, 3, 4});
  check_values(arange(1.0, 2.0, 0.25, float64), {1.0, 1.25, 1.5, 1.75});
  check_values(arange(0.0, 1.0, 0.1, float64), {0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5,
                                                0.6000000000000001, 0.7000000000000001, 0.8, 0.9});
  // ceil((stop - start) / step) elements, like NumPy and PyTorch: 0.3 / 0.1 = 2.9999999999999996.
  CHECK(arange(0.0, 0.3, 0.1, float64).numel() == 3);
  check_values(arange(5.0, 0.0, -2.0), {5, 3, 1});
  check_values(arange(0.5, -1.0, -0.5, float64), {0.5, 0.0, -0.5});
  // Empty ranges: stop before start for a positive step (and the reverse), or start == stop.
  CHECK(arange(5.0, 1.0).numel() == 0);
  CHECK(arange(5.0, 1.0).shape() == Shape{0});
  CHECK(arange(0.0, 3.0, -1.0).numel() == 0);
  CHECK(arange(2.0, 2.0).numel() == 0);
  CHECK(arange(0).numel() == 0);
  CHECK(error_of<std::exception>([] { arange(0.0, 1.0, 0.0); }).find("arange: invalid range") !=
        std::string::npos);
  CHECK_THROWS_AS(arange(0.0, INFINITY), std::invalid_argument);
}

TEST_CASE("tensor: linspace includes both ends") {
  check_values(linspace(0, 1, 5, float64), {0, 0.25, 0.5, 0.75, 1});
  check_values(linspace(-1, 1, 3), {-1, 0, 1});
  check_values(linspace(2, 3, 1), {2});
  CHECK(linspace(0, 1, 0).numel() == 0);
  // The last value is exactly `stop`, whatever rounding does to the step.
  CHECK(linspace(0, 0.7, 8, float64).to_vector().back() == 0.7);
  CHECK_THROWS_AS(linspace(0, 1, -1), std::invalid_argument);
}

TEST_CASE("tensor: eye") {
  Tensor e = eye(3, float64);
  CHECK(e.shape() == Shape{3, 3});
  check_values(e, {1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(eye(0).numel() == 0);
}

TEST_CASE("tensor: from values and a shape, and from a blob") {
  Tensor t = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 0}) == 4);
  CHECK(t.at({0, 2}) == 3);
  CHECK(tensor({1, 2, 3}).shape() == Shape{3});  // no shape: a vector
  CHECK(tensor(V{7.5}, {1, 1}).shape() == Shape{1, 1});

  const std::string msg = error_of<std::exception>([] { tensor({1, 2, 3, 4, 5}, {2, 3}); });
  CHECK(msg.find("tensor: 5 values do not fill shape (2, 3) (6 elements)") != std::string::npos);

  const float f[4] = {1.5f, 2.5f, 3.5f, 4.5f};
  Tensor bf = from_blob(f, {2, 2});
  CHECK(bf.dtype() == float32);
  check_values(bf, {1.5, 2.5, 3.5, 4.5});
  const double d[3] = {0.1, 0.2, 0.3};
  Tensor bd = from_blob(d, {3});
  CHECK(bd.dtype() == float64);
  check_values(bd, {0.1, 0.2, 0.3});
  // from_blob copies: the tensor owns its memory.
  CHECK(bd.data<double>() != d);
}

TEST_CASE("tensor: rand and randn are reproducible from a seed") {
  Generator g1(42), g2(42), g3(43);
  Tensor a = randn({50}, g1, float64), b = randn({50}, g2, float64), c = randn({50}, g3, float64);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());

  // The default generator: manual_seed resets it (also the spare Box-Muller value).
  manual_seed(7);
  Tensor r1 = rand({20});
  Tensor n1 = randn({5});  // odd count leaves a spare value behind
  manual_seed(7);
  Tensor r2 = rand({20});
  Tensor n2 = randn({5});
  CHECK(r1.to_vector() == r2.to_vector());
  CHECK(n1.to_vector() == n2.to_vector());
  manual_seed(8);
  CHECK(rand({20}).to_vector() != r1.to_vector());

  // float32 draws are the float64 draws rounded.
  Generator h1(3), h2(3);
  Tensor f32 = randn({10}, h1, float32), f64 = randn({10}, h2, float64);
  for (int i = 0; i < 10; ++i)
    CHECK(f32.to_vector()[i] == static_cast<double>(static_cast<float>(f64.to_vector()[i])));
}

TEST_CASE("tensor: rand is uniform on [0, 1) and randn is standard normal") {
  Generator gen(123);
  const int64_t n = 100000;
  const V u = rand({n}, gen, float64).to_vector();
  double su = 0, su2 = 0, lo = 1, hi = 0;
  for (double x : u) {
    su += x;
    su2 += x * x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const double mu = su / n, vu = su2 / n - mu * mu;
  CHECK(lo >= 0.0);
  CHECK(hi < 1.0);
  CHECK(mu == doctest::Approx(0.5).epsilon(0.01));
  CHECK(vu == doctest::Approx(1.0 / 12).epsilon(0.02));

  const V z = randn({n}, gen, float64).to_vector();
  double s = 0, s2 = 0, s4 = 0;
  int64_t within1 = 0;
  for (double x : z) {
    s += x;
    s2 += x * x;
    s4 += x * x * x * x;
    within1 += std::abs(x) < 1.0;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  CHECK(std::abs(mean) < 0.015);                        // std error 0.003
  CHECK(std::abs(var - 1.0) < 0.03);                    // std error 0.0045
  CHECK(s4 / n == doctest::Approx(3.0).epsilon(0.05));  // normal kurtosis
  CHECK(static_cast<double>(within1) / n == doctest::Approx(0.6827).epsilon(0.01));

  Tensor un = uniform({1000}, -2.0, 3.0, gen, float64);
  for (double x : un.to_vector()) {
    CHECK(x >= -2.0);
    CHECK(x < 3.0);
  }
  // The range stays half-open in float32 even where the double draw rounds up to `high`:
  // here half of [1, 1 + 2^-23) rounds to the float 1 + 2^-23.
  const double hi32 = 1.0 + std::ldexp(1.0, -23);
  for (double x : uniform({1000}, 1.0, hi32, gen, float32).to_vector()) REQUIRE(x < hi32);
  Tensor ri = randint(2, 5, {1000}, gen);
  bool seen[3] = {false, false, false};
  for (double x : ri.to_vector()) {
    REQUIRE(x >= 2);
    REQUIRE(x <= 4);
    CHECK(x == std::floor(x));
    seen[static_cast<int>(x) - 2] = true;
  }
  CHECK((seen[0] && seen[1] && seen[2]));
  CHECK_THROWS_AS(randint(3, 3, {2}, gen), std::invalid_argument);
}

// ---------------------------------------------------------------- queries

TEST_CASE("tensor: shape and dtype queries") {
  Tensor t = zeros({2, 3, 4}, float64);
  CHECK(t.dim() == 3);
  CHECK(t.size(0) == 2);
  CHECK(t.size(-1) == 4);
  CHECK(t.size(-3) == 2);
  CHECK(error_of<std::exception>([&] { t.size(3); }).find("size: axis 3 is out of range") !=
        std::string::npos);
  CHECK_THROWS_AS(t.size(-4), std::out_of_range);
  CHECK(t.numel() == 24);
  CHECK(t.dtype() == float64);
  CHECK(contains_text(error_of<std::exception>([] { scalar_tensor(1).size(0); }),
                      "size: a 0-d tensor has no axis 0"));
  CHECK(!t.is_scalar());
  CHECK(scalar_tensor(1).is_scalar());
  CHECK(t.defined());
  CHECK(!Tensor().defined());
  CHECK(error_of<std::exception>([] { Tensor().shape(); }).find("undefined tensor") !=
        std::string::npos);
  CHECK(to_string(t.shape()) == "(2, 3, 4)");
  CHECK(to_string(Shape{5}) == "(5,)");
  CHECK(to_string(Shape{}) == "()");
  CHECK(error_of<std::exception>([&] {
          t.data<float>();
        }).find("data: tensor has dtype float64, expected float32") != std::string::npos);
}

TEST_CASE("tensor: item and at") {
  CHECK(tensor({3.25}).item() == 3.25);
  CHECK(scalar_tensor(-1.5, float64).item() == -1.5);
  CHECK(ones({1, 1, 1}).item() == 1.0);
  const std::string msg = error_of<std::exception>([] { zeros({2, 3}).item(); });
  CHECK(msg.find("item: only a one-element tensor") != std::string::npos);
  CHECK(msg.find("(2, 3)") != std::string::npos);

  Tensor t = arange(24.0).reshape({2, 3, 4});
  CHECK(t.at({0, 0, 0}) == 0);
  CHECK(t.at({1, 2, 3}) == 23);
  CHECK(t.at({1, 0, 2}) == 14);
  CHECK(t.at({-1, -1, -1}) == 23);  // negative indices count from the end
  CHECK(t.at({0, -3, 1}) == 1);
  CHECK(error_of<std::exception>([&] {
          t.at({0, 3, 0});
        }).find("at: index 3 is out of range for axis 1 of size 3") != std::string::npos);
  CHECK_THROWS_AS(t.at({-3, 0, 0}), std::out_of_range);
  CHECK(error_of<std::exception>([&] {
          t.at({0, 0});
        }).find("at: 2 indices for a tensor of shape (2, 3, 4)") != std::string::npos);
  CHECK(scalar_tensor(4).at({}) == 4);
}

// ---------------------------------------------------------------- views and copies

TEST_CASE("tensor: reshape and flatten share storage") {
  Tensor x = arange(6.0, float64);
  Tensor r = x.reshape({2, 3});
  Tensor f = r.flatten();
  CHECK(r.shape() == Shape{2, 3});
  CHECK(f.shape() == Shape{6});
  CHECK(r.data<double>() == x.data<double>());
  CHECK(f.data<double>() == x.data<double>());
  x.fill_(9);
  CHECK(r.at({1, 2}) == 9);
  CHECK(f.at({4}) == 9);
  CHECK(x.reshape({3, -1}).shape() == Shape{3, 2});
  CHECK(zeros({2, 3, 4}).flatten(1).shape() == Shape{2, 12});
  CHECK(zeros({2, 3, 4}).flatten(0, 1).shape() == Shape{6, 4});
  CHECK_THROWS_AS(x.reshape({4, 2}), std::invalid_argument);
  // In place on the view bumps the version the original sees (one storage, one counter).
  const uint64_t v = x.version();
  r.mul_(2);
  CHECK(x.version() == v + 1);
  CHECK(x.at({0}) == 18);
}

TEST_CASE("tensor: detach shares storage without history") {
  Tensor x = tensor({1, 2, 3}, {-1}, float64).requires_grad_();
  Tensor y = x * 2.0;
  REQUIRE(y.grad_fn() != nullptr);
  Tensor d = y.detach();
  CHECK(!d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.grad_fn() == nullptr);
  CHECK(d.data<double>() == y.data<double>());
  CHECK(!d.grad().defined());
  {
    no_grad ng;
    y.mul_(10);  // seen through the detached handle
  }
  CHECK(d.at({2}) == 60);
  // Gradients stop at a detached tensor.
  Tensor z = (d * x).sum();
  z.backward();
  check_values(x.grad(), {20, 40, 60});
}

TEST_CASE("tensor: clone and to are differentiable copies") {
  Tensor x = tensor({1, 2, 3}, {-1}, float64).requires_grad_();
  Tensor c = x.clone();
  CHECK(c.data<double>() != x.data<double>());
  CHECK(c.grad_fn() != nullptr);
  CHECK(std::string(c.grad_fn()->name) == "clone");
  (c * c).sum().backward();
  check_values(x.grad(), {2, 4, 6});

  Tensor w = tensor({0.5, 1.5}, {-1}, float64).requires_grad_();
  Tensor w32 = w.to(float32);
  CHECK(w32.dtype() == float32);
  CHECK(std::string(w32.grad_fn()->name) == "to");
  (w32 * w32 * 3.0).sum().backward();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().dtype() == float64);  // the gradient comes back in the leaf's dtype
  check_values(w.grad(), {3, 9});
  // Same dtype: the same tensor.
  CHECK(w.to(float64).impl_ptr() == w.impl_ptr());
  // Values convert with rounding.
  CHECK(tensor({0.1}, {-1}, float64).to(float32).item() == static_cast<double>(0.1f));
}

// ---------------------------------------------------------------- in-place

TEST_CASE("tensor: in-place ops change values and bump the version") {
  Tensor t = zeros({3}, float64);
  uint64_t v = t.version();
  t.fill_(2);
  CHECK(t.version() == ++v);
  check_values(t, {2, 2, 2});
  t.mul_(1.5);
  CHECK(t.version() == ++v);
  check_values(t, {3, 3, 3});
  t.add_(tensor({1, 2, 3}, {-1}, float64), -2.0);
  CHECK(t.version() == ++v);
  check_values(t, {1, -1, -3});
  t.add_(ones({3}, float64));
  CHECK(t.version() == ++v);
  check_values(t, {2, 0, -2});
  t.copy_(tensor({7, 8, 9}));  // from float32: converted
  CHECK(t.version() == ++v);
  check_values(t, {7, 8, 9});
  t.zero_();
  CHECK(t.version() == ++v);
  check_values(t, {0, 0, 0});

  CHECK(error_of<std::exception>([&] {
          t.add_(ones({4}, float64));
        }).find("add_: operand of shape (4,)") != std::string::npos);
  CHECK(error_of<std::exception>([&] { t.add_(ones({3}, float32)); }).find("float32") !=
        std::string::npos);
  CHECK(error_of<std::exception>([&] {
          t.copy_(ones({2}));
        }).find("copy_: source shape (2,) does not match (3,)") != std::string::npos);
}

TEST_CASE("tensor: in-place ops refuse tensors that require grad in grad mode") {
  Tensor w = ones({2}, float64).requires_grad_();
  const std::string msg = error_of<std::exception>([&] { w.fill_(3); });
  CHECK(msg.find("fill_: in-place change of a tensor that requires grad (a leaf)") !=
        std::string::npos);
  CHECK_THROWS_AS(w.add_(ones({2}, float64)), std::invalid_argument);
  CHECK_THROWS_AS(w.mul_(2), std::invalid_argument);
  CHECK_THROWS_AS(w.copy_(ones({2}, float64)), std::invalid_argument);
  CHECK_THROWS_AS(w.zero_(), std::invalid_argument);
  Tensor y = w * 2.0;
  CHECK(error_of<std::exception>([&] { y.mul_(2); }).find("mul_: in-place change") !=
        std::string::npos);
  check_values(w, {1, 1});  // nothing changed
  // Allowed under no_grad (an optimizer step).
  {
    no_grad ng;
    w.add_(ones({2}, float64), -0.5);
  }
  check_values(w, {0.5, 0.5});
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
}

TEST_CASE("tensor: requires_grad_, names and grads on leaves") {
  Tensor x = ones({2});
  CHECK(!x.requires_grad());
  x.requires_grad_();
  CHECK(x.requires_grad());
  x.requires_grad_(false);
  CHECK(!x.requires_grad());
  x.requires_grad_();
  Tensor y = x * 2.0;
  CHECK(!y.is_leaf());
  CHECK(error_of<std::exception>([&] {
          y.requires_grad_(false);
        }).find("produced by 'mul_scalar'") != std::string::npos);
  CHECK(x.set_name("W1").name() == "W1");
  CHECK(!x.grad().defined());
  x.set_grad(full({2}, 3.0));
  check_values(x.grad(), {3, 3});
  CHECK_THROWS_AS(x.set_grad(ones({3})), std::invalid_argument);
  CHECK_THROWS_AS(x.set_grad(ones({2}, float64)), std::invalid_argument);
  x.zero_grad();
  CHECK(!x.grad().defined());
}

// ---------------------------------------------------------------- printing

TEST_CASE("tensor: printing small tensors") {
  CHECK(tensor({1, 2, 3, 4}, {2, 2}).str() ==
        "tensor([[1.0000, 2.0000],\n"
        "        [3.0000, 4.0000]], shape=(2, 2))");
  CHECK(tensor({1.5, -2.25, 3}, {-1}, float64).str() ==
        "tensor([ 1.5000, -2.2500,  3.0000], dtype=float64)");
  CHECK(scalar_tensor(2.5).str() == "tensor(2.5000)");
  CHECK(scalar_tensor(-0.125, float64).str(2) == "tensor(-0.12, dtype=float64)");
  CHECK(tensor({42}).str() == "tensor([42.0000])");
  CHECK(zeros({0, 3}).str() == "tensor([], shape=(0, 3))");
  CHECK(zeros({0}).str() == "tensor([], shape=(0,))");
  CHECK(Tensor().str() == "tensor(undefined)");
  CHECK(tensor({10.5, -200}).str(1) == "tensor([  10.5, -200.0])");
  CHECK(arange(8.0).reshape({2, 2, 2}).str(0) ==
        "tensor([[[0, 1],\n"
        "         [2, 3]],\n"
        "\n"
        "        [[4, 5],\n"
        "         [6, 7]]], shape=(2, 2, 2))");
  // Values fixed point would hide go to scientific notation.
  CHECK(tensor({1e-8, 1e10}, {-1}, float64).str() ==
        "tensor([1.0000e-08, 1.0000e+10], dtype=float64)");
  CHECK(tensor({0.5, -3e-6}, {-1}, float64).str(2) ==
        "tensor([ 5.00e-01, -3.00e-06], dtype=float64)");
  CHECK(tensor({INFINITY, -1, NAN}).str(1) == "tensor([ inf, -1.0,  nan])");

  std::ostringstream os;
  os << tensor({1, 2});
  CHECK(os.str() == "tensor([1.0000, 2.0000])");
}

TEST_CASE("tensor: printing shows requires_grad, grad_fn and the name") {
  Tensor x = tensor({1, 2}).requires_grad_();
  CHECK(x.str() == "tensor([1.0000, 2.0000], requires_grad=true)");
  x.set_name("x");
  CHECK(x.str() == "tensor([1.0000, 2.0000], requires_grad=true, name='x')");
  Tensor y = x * 2.0;
  CHECK(y.str() == "tensor([2.0000, 4.0000], grad_fn=mul_scalar)");
  Tensor s = (x * x).sum();
  CHECK(s.str() == "tensor(5.0000, grad_fn=sum)");
  Tensor d = tensor({1, 2}, {-1}, float64).requires_grad_();
  CHECK(d.str() == "tensor([1.0000, 2.0000], dtype=float64, requires_grad=true)");
}

TEST_CASE("tensor: printing a large tensor summarizes with ...") {
  Tensor big = arange(2000.0).reshape({40, 50});
  const std::string s = big.str();
  CHECK(s.size() < 1000);
  CHECK(
      s.rfind("tensor([[   0.0000,    1.0000,    2.0000, ...,   47.0000,   48.0000,   49.0000],\n",
              0) == 0);
  CHECK(s.find("        ...,\n") != std::string::npos);
  CHECK(s.find("[1950.0000, 1951.0000, 1952.0000, ..., 1997.0000, 1998.0000, 1999.0000]], "
               "shape=(40, 50))") != std::string::npos);
  CHECK(s.find("1000.0000") == std::string::npos);  // the middle is left out
  CHECK(arange(1001.0).str() ==
        "tensor([   0.0000,    1.0000,    2.0000, ...,  998.0000,  999.0000, 1000.0000])");
  // Up to 1000 elements everything is printed.
  const std::string full = arange(1000.0).str();
  CHECK(full.find("...") == std::string::npos);
  CHECK(full.find("500.0000") != std::string::npos);
}

// ---------------------------------------------------------------- shapes

TEST_CASE("tensor: Shape, strides, broadcasting and axes") {
  Shape s{2, 3, 4};
  CHECK(s.size() == 3);
  CHECK(s.numel() == 24);
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{3, 0}.numel() == 0);
  CHECK(s.back() == 4);
  CHECK(s.vec() == std::vector<int64_t>{2, 3, 4});
  CHECK(Shape(std::vector<int64_t>{5, 6}) == Shape{5, 6});
  Shape t = s;
  t.insert(1, 7);
  CHECK(t == Shape{2, 7, 3, 4});
  t.erase(0);
  CHECK(t == Shape{7, 3, 4});
  CHECK(t != s);
  Shape big;
  for (int i = 0; i < Shape::max_dims; ++i) big.push_back(1);
  CHECK_THROWS_AS(big.push_back(1), std::invalid_argument);

  CHECK(contiguous_strides(s) == Shape{12, 4, 1});
  CHECK(contiguous_strides(Shape{5}) == Shape{1});
  CHECK(contiguous_strides(Shape{}) == Shape{});

  CHECK(broadcast_shapes({2, 3}, {3}, "op") == Shape{2, 3});
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "op") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {2, 2}, "op") == Shape{2, 2});
  CHECK(broadcast_shapes({1}, {}, "op") == Shape{1});
  CHECK(broadcast_shapes({0, 1}, {1, 5}, "op") == Shape{0, 5});
  CHECK(broadcast_shapes({4, 1}, {1}, "op") == Shape{4, 1});
  const std::string msg = error_of<std::exception>([] {
    broadcast_shapes({2, 3}, {4, 3, 2}, "myop");
  });
  CHECK(contains_text(msg, "myop: shapes (2, 3) and (4, 3, 2) cannot be broadcast together"));
  CHECK(contains_text(msg, "dimension 1 is 2 vs 3"));  // aligned from the right

  CHECK(normalize_axis(-1, 3, "op") == 2);
  CHECK(normalize_axis(0, 3, "op") == 0);
  CHECK(normalize_axis(-3, 3, "op") == 0);
  CHECK(normalize_axis(0, 0, "op") == 0);  // a 0-d tensor reduces over "axis 0" (as PyTorch)
  CHECK(normalize_axis(-1, 0, "op") == 0);
  CHECK(contains_text(
      error_of<std::exception>([] { normalize_axis(3, 3, "sum"); }),
      "sum: axis 3 is out of range for a tensor with 3 dimension(s) (expected -3 to 2)"));
  CHECK_THROWS_AS(normalize_axis(-4, 3, "op"), std::out_of_range);
}
