#include "dagrad/nn/dropout.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/dropout.h"

namespace dagrad::nn {

Dropout::Dropout(double p, uint64_t seed) : p_(p), gen_(seed) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(fmt::format("Dropout: p must be in [0, 1], got {}", p));
  register_generator("rng", gen_);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

std::string Dropout::describe() const { return fmt::format("Dropout(p={})", p_); }

}  // namespace dagrad::nn
