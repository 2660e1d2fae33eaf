#include "dagrad/autograd/ops/dropout.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules dropout_rules{
    {"dropout", "dx = g mask / (1 - p)"},
};

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  detail::check_floating(x, "dropout");
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(
        fmt::format("dropout: drop probability p must be in [0, 1], got {} (input {})", p,
                    to_string(x.shape())));
  if (!training || p == 0.0) return x;
  // The mask already holds the scale: 1/(1-p) where kept, 0 where dropped.
  const double keep = 1.0 - p;
  Tensor mask = empty_like(x);
  Tensor out = empty_like(x);
  DAGRAD_DISPATCH(x.dtype(), {
    const T scale = p == 1.0 ? T(0) : static_cast<T>(1.0 / keep);
    const T* px = x.data<T>();
    T* pm = mask.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      const T m = gen.uniform() < keep ? scale : T(0);
      pm[i] = m;
      po[i] = px[i] * m;
    }
  });
  // d out / d x = mask / (1 - p)
  return record(
      "dropout", out, {x},
      [mask](const Tensor& g, const Tensor&) -> GradList { return {g * mask}; },
      [mask](const TangentList& t, const Tensor&) { return t[0] * mask; });
}

Tensor dropout(const Tensor& x, double p, bool training) {
  return dropout(x, p, training, default_generator());
}

}  // namespace dagrad
