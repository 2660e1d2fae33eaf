#include "dagrad/optim/clip.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/engine.h"

namespace dagrad::optim {

double grad_norm(const std::vector<Tensor>& params, double norm_type) {
  if (!(norm_type > 0))
    throw std::invalid_argument(
        fmt::format("clip_grad_norm: norm_type must be > 0 (or infinity), got {}", norm_type));
  const bool inf = std::isinf(norm_type);
  double acc = 0;  // max |g| for inf, else sum |g|^p over every gradient
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    DAGRAD_DISPATCH(g.dtype(), {
      const T* d = g.data<T>();
      const int64_t n = g.numel();
      if (inf) {
        for (int64_t j = 0; j < n; ++j) {
          const double a = std::abs(static_cast<double>(d[j]));
          if (!(a <= acc)) acc = a;  // also carries a NaN through
        }
      } else if (norm_type == 2.0) {
        double s = 0;
        for (int64_t j = 0; j < n; ++j) s += static_cast<double>(d[j]) * d[j];
        acc += s;
      } else {
        double s = 0;
        for (int64_t j = 0; j < n; ++j)
          s += std::pow(std::abs(static_cast<double>(d[j])), norm_type);
        acc += s;
      }
    });
  }
  if (inf) return acc;
  return norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  if (!(max_norm >= 0))
    throw std::invalid_argument(
        fmt::format("clip_grad_norm: max_norm must be >= 0, got {}", max_norm));
  const double norm = grad_norm(params, norm_type);
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return norm;  // small enough: untouched (NaN falls through and spreads)
  no_grad guard;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    DAGRAD_DISPATCH(g.dtype(), {
      T* d = g.data<T>();
      const T c = static_cast<T>(coef);
      const int64_t n = g.numel();
      for (int64_t j = 0; j < n; ++j) d[j] *= c;
    });
    g.bump_version();
  }
  return norm;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip) {
  if (!(clip >= 0))
    throw std::invalid_argument(fmt::format("clip_grad_value: clip must be >= 0, got {}", clip));
  no_grad guard;
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    DAGRAD_DISPATCH(g.dtype(), {
      T* d = g.data<T>();
      const T hi = static_cast<T>(clip), lo = -hi;
      const int64_t n = g.numel();
      for (int64_t j = 0; j < n; ++j) d[j] = std::clamp(d[j], lo, hi);
    });
    g.bump_version();
  }
}

}  // namespace dagrad::optim
