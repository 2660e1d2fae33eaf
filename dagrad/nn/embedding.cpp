#include "dagrad/nn/embedding.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dagrad::nn {

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, Dtype dtype) {
  if (num <= 0 || dim <= 0)
    throw std::invalid_argument(
        fmt::format("Embedding: num ({}) and dim ({}) must be positive", num, dim));
  weight = register_parameter("weight", randn({num, dim}, gen, dtype));
}

std::string Embedding::describe() const {
  return fmt::format("Embedding({}, {})", weight.shape()[0], weight.shape()[1]);
}

}  // namespace dagrad::nn
