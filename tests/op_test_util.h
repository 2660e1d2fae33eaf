// Helpers shared by the op tests: value checks, gradcheck with its report, second
// derivatives and forward-mode duals (float64).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "dagrad/autograd/autograd.h"

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

}  // namespace dagrad::test_util
