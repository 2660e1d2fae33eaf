#include "dagrad/nn/init.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/ops/elementwise.h"

namespace dagrad::nn {

Tensor init_weight(const Shape& shape, int64_t fan_in, int64_t fan_out, const Init& init,
                   Generator& gen, Dtype dtype) {
  if (init.scheme == InitScheme::zeros) return zeros(shape, dtype);
  double std = init.weight_scale;
  if (init.scheme == InitScheme::xavier)
    std = std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  if (init.scheme == InitScheme::he) std = std::sqrt(2.0 / static_cast<double>(fan_in));
  if (init.scheme == InitScheme::lecun) std = std::sqrt(1.0 / static_cast<double>(fan_in));
  Tensor w = randn(shape, gen, dtype);
  w.mul_(std);
  return w;
}

InitScheme parse_init_scheme(const std::string& name) {
  if (name == "gaussian") return InitScheme::gaussian;
  if (name == "xavier") return InitScheme::xavier;
  if (name == "he") return InitScheme::he;
  if (name == "lecun") return InitScheme::lecun;
  if (name == "zeros") return InitScheme::zeros;
  throw std::invalid_argument(fmt::format(
      "unknown init scheme '{}' (expected gaussian, xavier, he, lecun or zeros)", name));
}

}  // namespace dagrad::nn
