#include "dagrad/nn/linear.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/linalg.h"

namespace dagrad::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, Init init, Dtype dtype,
               bool with_bias)
    : in_(in_features), out_(out_features) {
  weight = register_parameter("weight", init_weight({in_, out_}, in_, out_, init, gen, dtype));
  if (with_bias) bias = register_parameter("bias", zeros({out_}, dtype), false);
}

Tensor Linear::forward(const Tensor& x) {
  int64_t d = 1;
  for (int i = 1; i < x.dim(); ++i) d *= x.shape()[i];
  if (x.dim() < 2 || d != in_)
    throw std::invalid_argument(
        fmt::format("Linear({} -> {}): input of shape {} does not flatten to (N, {})", in_, out_,
                    to_string(x.shape()), in_));
  Tensor x2 = x.dim() == 2 ? x : x.reshape({x.shape()[0], -1});
  return bias.defined() ? affine(x2, weight, bias) : matmul(x2, weight);
}

std::string Linear::describe() const { return fmt::format("Linear({} -> {})", in_, out_); }

}  // namespace dagrad::nn
