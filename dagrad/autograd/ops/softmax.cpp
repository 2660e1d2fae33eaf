#include "dagrad/autograd/ops/softmax.h"

#include <cmath>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/unary.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/reduction.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules softmax_rules{
    {"softmax", "dx = y (g - sum(g y))"},
    {"log_softmax", "dx = g - softmax(x) sum(g)"},
};

namespace {

// Raw softmax (or log_softmax) along `axis`: the max is subtracted first so that exp never
// overflows; the normalizer is accumulated in double.
Tensor softmax_raw(const Tensor& x, int axis, bool log_space) {
  Tensor out = empty_like(x);
  if (x.numel() == 0) return out;
  const Shape s = x.dim() == 0 ? Shape{1} : x.shape();
  const auto sp = kernels::split_at_axis(s, axis);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t i = 0; i < sp.inner; ++i) {
        const int64_t base = o * sp.len * sp.inner + i;
        T m = px[base];
        for (int64_t l = 1; l < sp.len; ++l) {
          const T v = px[base + l * sp.inner];
          if (v > m || std::isnan(v)) m = v;
          if (std::isnan(v)) break;
        }
        double z = 0;
        for (int64_t l = 0; l < sp.len; ++l) z += std::exp(double(px[base + l * sp.inner]) - m);
        if (log_space) {
          const double lz = std::log(z);
          for (int64_t l = 0; l < sp.len; ++l) {
            const int64_t k = base + l * sp.inner;
            po[k] = static_cast<T>(double(px[k]) - m - lz);
          }
        } else {
          for (int64_t l = 0; l < sp.len; ++l) {
            const int64_t k = base + l * sp.inner;
            po[k] = static_cast<T>(std::exp(double(px[k]) - m) / z);
          }
        }
      }
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  detail::check_floating(x, "softmax");
  const int a = normalize_axis(axis, x.dim(), "softmax");
  Tensor out = softmax_raw(x, a, false);
  // dx = y * (g - sum(g * y, axis))
  return record(
      "softmax", out, {x},
      [a](const Tensor& g, const Tensor& y) -> GradList { return {y * (g - sum(g * y, a, true))}; },
      [a](const TangentList& t, const Tensor& y) { return y * (t[0] - sum(t[0] * y, a, true)); },
      KeepOutput::yes);
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  detail::check_floating(x, "log_softmax");
  const int a = normalize_axis(axis, x.dim(), "log_softmax");
  Tensor out = softmax_raw(x, a, true);
  // dx = g - softmax(x) * sum(g, axis), with softmax(x) = exp(out)
  return record(
      "log_softmax", out, {x},
      [a](const Tensor& g, const Tensor& y) -> GradList { return {g - exp(y) * sum(g, a, true)}; },
      [a](const TangentList& t, const Tensor& y) { return t[0] - sum(t[0] * exp(y), a, true); },
      KeepOutput::yes);
}

}  // namespace dagrad
