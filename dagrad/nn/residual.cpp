#include "dagrad/nn/residual.h"

#include <fmt/format.h>

namespace dagrad::nn {

ResidualBlock::ResidualBlock(int64_t in_channels, int64_t out_channels, int64_t stride,
                             Generator& gen, Dtype dtype)
    : in_(in_channels), out_(out_channels), stride_(stride) {
  const Init he{InitScheme::he, 0.0};
  // Convolutions without bias (each is followed by batch norm), He initialization.
  auto conv = [&](int64_t in, int64_t k, int64_t s, int64_t pad) {
    return std::make_shared<Conv2d>(
        in, out_, k, gen,
        Conv2dOptions{.stride = s, .padding = pad, .init = he, .dtype = dtype, .bias = false});
  };
  conv1_ = register_module("conv1", conv(in_, 3, stride, 1));
  bn1_ = register_module("bn1", std::make_shared<BatchNormReLU2d>(out_, 0.9, 1e-5, dtype));
  conv2_ = register_module("conv2", conv(out_, 3, 1, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out_, 0.9, 1e-5, dtype));
  if (stride != 1 || in_ != out_) {
    proj_ = register_module("shortcut", conv(in_, 1, stride, 0));
    proj_bn_ =
        register_module("shortcut_bn", std::make_shared<BatchNorm2d>(out_, 0.9, 1e-5, dtype));
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  Tensor h = (*bn1_)((*conv1_)(x));
  h = (*bn2_)((*conv2_)(h));
  Tensor skip = proj_ ? (*proj_bn_)((*proj_)(x)) : x;
  return relu(h + skip);
}

std::string ResidualBlock::describe() const {
  return fmt::format("ResidualBlock({} -> {}, stride {})", in_, out_, stride_);
}

}  // namespace dagrad::nn
