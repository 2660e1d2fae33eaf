// Helpers shared by the op tests: value checks, gradcheck with its report, second
// derivatives and forward-mode duals (float64).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"

namespace dagrad::test_util {

// Element-wise comparison; NaN must match NaN and infinities must match exactly.
inline void check_values(const Tensor& t, const std::vector<double>& want, double eps = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(want[i]))
      CHECK(std::isnan(got[i]));
    else if (std::isinf(want[i]))
      CHECK(got[i] == want[i]);
    else
      CHECK(got[i] == doctest::Approx(want[i]).epsilon(eps));
  }
}

inline void check_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                            const std::vector<Tensor>& inputs) {
  GradcheckResult r = gradcheck(f, inputs);
  INFO(r.report());
  CHECK(r.passed);
}

inline Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen, float64);
}

inline BackwardOptions create_graph() {
  BackwardOptions o;
  o.create_graph = true;
  return o;
}

inline Tensor hess_vec(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                       const Tensor& v) {
  Tensor gx = grad({f(x)}, {x}, {}, create_graph())[0];
  REQUIRE(gx.requires_grad());
  return grad({sum(gx * v)}, {x})[0];
}

inline Tensor dual(const Tensor& x, const Tensor& v) { return make_dual(x.detach(), v); }

// The ways to differentiate f agree: gradcheck (reverse vs central differences), the
// forward-mode Jacobian equals the reverse one, and double backward: the Hessian-vector product
// of sum(f(x) * w) (reverse over reverse) against central differences of the gradient, and
// against forward over reverse (hvp_forward). With
// O(1) values and h = 1e-5 the differences are good to ~h^2 + eps/h ~ 1e-10.
// `opts` tunes the gradcheck: e.g. a larger step for functions with many outputs, where the
// rounding of sum(f * dout), ~1e-16 |sum| / step, would otherwise reach atol.
inline void check_all_orders(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0,
                             uint64_t seed, const GradcheckOptions& opts = {}) {
  const Tensor x = x0.detach().requires_grad_();
  const GradcheckResult r =
      gradcheck([f](const std::vector<Tensor>& in) { return f(in[0]); }, {x}, opts);
  INFO(r.report());
  CHECK(r.passed);
  const Tensor jf = jacobian_forward(f, x.detach()), jr = jacobian_reverse(f, x.detach());
  CHECK(max(abs(jf - jr)).item() <= 1e-13 * (1 + max(abs(jr)).item()));
  const Tensor w = randn64(f(x.detach()).shape(), seed), v = randn64(x.shape(), seed + 1);
  const Tensor gx = grad({sum(f(x) * w)}, {x}, {}, create_graph())[0];
  const Tensor hv = gx.requires_grad() ? grad({sum(gx * v)}, {x})[0] : zeros_like(x);
  auto grad_at = [&](const Tensor& p) {
    const Tensor xl = p.detach().requires_grad_();
    return grad({sum(f(xl) * w)}, {xl})[0];
  };
  const double h = 1e-5;
  const Tensor num = (grad_at(x.detach() + v * h) - grad_at(x.detach() - v * h)) / (2 * h);
  CHECK(max(abs(hv - num)).item() <= 1e-7 * (1 + max(abs(num)).item()));
  // Forward over reverse gives the same product: the same second derivatives summed in
  // another order, so they agree to rounding (1e-12 of the largest entry, with room for the
  // sums of many terms).
  const Tensor hv_fwd = hvp_forward([&](const Tensor& t) { return sum(f(t) * w); }, x.detach(), v);
  CHECK(max(abs(hv_fwd - hv)).item() <= 1e-11 * (1 + max(abs(hv)).item()));
}

}  // namespace dagrad::test_util
