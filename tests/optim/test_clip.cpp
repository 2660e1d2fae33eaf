#include <doctest/doctest.h>

#include <cmath>

#include "dagrad/autograd/autograd.h"
#include "dagrad/optim/clip.h"

using namespace dagrad;
using namespace dagrad::optim;

namespace {
Tensor param_with_grad(const std::vector<double>& g, Dtype dt) {
  Tensor p = zeros({static_cast<int64_t>(g.size())}, dt);
  p.requires_grad_();
  p.set_grad(tensor(g, {-1}, dt));
  return p;
}
}  // namespace

TEST_CASE("clip: global norm over all gradients scales to max_norm") {
  for (Dtype dt : {float32, float64}) {
    // grads (3, 4) and (12): norms 5 and 12, global sqrt(25 + 144) = 13
    Tensor a = param_with_grad({3.0, 4.0}, dt), b = param_with_grad({12.0}, dt);
    Tensor none = zeros({2}, dt);  // no gradient: skipped
    none.requires_grad_();
    const auto vb = b.grad().version();
    const double norm = clip_grad_norm({a, none, b}, 6.5);
    CHECK(norm == doctest::Approx(13.0).epsilon(1e-12));
    // scale = 6.5 / (13 + 1e-6)
    const double s = 6.5 / (13.0 + 1e-6);
    const double tol = dt == float32 ? 1e-6 : 1e-14;
    CHECK(a.grad().to_vector()[0] == doctest::Approx(3 * s).epsilon(tol));
    CHECK(a.grad().to_vector()[1] == doctest::Approx(4 * s).epsilon(tol));
    CHECK(b.grad().item() == doctest::Approx(12 * s).epsilon(tol));
    CHECK(b.grad().version() > vb);
    CHECK_FALSE(none.grad().defined());
    // the clipped global norm is max_norm (to within the 1e-6 of the formula)
    CHECK(grad_norm({a, b}) == doctest::Approx(6.5).epsilon(1e-6));
    CHECK(grad_norm({a, b}) < 6.5);
  }
}

TEST_CASE("clip: small gradients are left unchanged") {
  Tensor a = param_with_grad({0.3, -0.4}, float64);
  const auto v = a.grad().version();
  CHECK(clip_grad_norm({a}, 1.0) == doctest::Approx(0.5).epsilon(1e-15));
  CHECK(a.grad().to_vector() == std::vector<double>{0.3, -0.4});
  CHECK(a.grad().version() == v);
  // exactly at max_norm: the factor max/(norm+1e-6) is just below 1, so PyTorch scales
  Tensor b = param_with_grad({3.0, 4.0}, float64);
  clip_grad_norm({b}, 5.0);
  CHECK(b.grad().to_vector()[0] == doctest::Approx(3 * 5.0 / (5.0 + 1e-6)).epsilon(1e-15));
  CHECK(b.grad().to_vector()[0] < 3.0);
  // nothing with a gradient: norm 0
  Tensor c = zeros({2}, float64);
  CHECK(clip_grad_norm({c}, 1.0) == 0.0);
}

TEST_CASE("clip: other norm types") {
  Tensor a = param_with_grad({1.0, -3.0}, float64), b = param_with_grad({2.0}, float64);
  CHECK(grad_norm({a, b}, 1.0) == doctest::Approx(6.0).epsilon(1e-15));
  CHECK(grad_norm({a, b}, INFINITY) == 3.0);
  CHECK(grad_norm({a, b}, 3.0) == doctest::Approx(std::cbrt(36.0)).epsilon(1e-14));
  CHECK(clip_grad_norm({a, b}, 1.5, INFINITY) == 3.0);  // scale 1.5/(3+1e-6)
  CHECK(a.grad().to_vector()[1] == doctest::Approx(-3 * 1.5 / (3 + 1e-6)).epsilon(1e-15));
  CHECK_THROWS_WITH_AS(clip_grad_norm({a}, 1.0, 0.0), doctest::Contains("norm_type"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(clip_grad_norm({a}, -1.0), doctest::Contains("max_norm"),
                       std::invalid_argument);
}

TEST_CASE("clip: by value clamps each element") {
  for (Dtype dt : {float32, float64}) {
    Tensor a = param_with_grad({0.5, -2.0, 3.0, -0.25}, dt);
    clip_grad_value({a}, 1.0);
    CHECK(a.grad().to_vector() == std::vector<double>{0.5, -1.0, 1.0, -0.25});
  }
  Tensor a = param_with_grad({0.5}, float64);
  CHECK_THROWS_WITH_AS(clip_grad_value({a}, -1.0), doctest::Contains("clip_grad_value"),
                       std::invalid_argument);
}

TEST_CASE("clip: gradients from backward are clipped in place") {
  Tensor w = tensor({3.0, 4.0}, {-1}, float64);
  w.requires_grad_();
  Tensor loss = (w * w).sum() * 0.5;  // grad = w = (3, 4), norm 5
  loss.backward();
  CHECK(clip_grad_norm({w}, 1.0) == doctest::Approx(5.0).epsilon(1e-15));
  CHECK(w.grad().to_vector()[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(w.grad().to_vector()[1] == doctest::Approx(0.8).epsilon(1e-6));
}
