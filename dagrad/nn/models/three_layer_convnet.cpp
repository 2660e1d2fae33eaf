#include "dagrad/nn/models/three_layer_convnet.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/pool.h"
#include "dagrad/nn/init.h"

namespace dagrad::nn {

ThreeLayerConvNet::ThreeLayerConvNet(const ThreeLayerConvNetConfig& c) : cfg_(c) {
  reg = c.reg;
  if (c.filter_size % 2 == 0)
    throw std::invalid_argument(
        fmt::format("ThreeLayerConvNet: filter_size must be odd to keep the spatial size, got {}",
                    c.filter_size));
  Generator gen(c.seed);
  const Init init{InitScheme::gaussian, c.weight_scale};
  const auto [C, H, W] = c.input_dim;
  const int64_t F = c.num_filters, k = c.filter_size;
  const int64_t pooled = F * (H / 2) * (W / 2);
  W1 =
      register_parameter("W1", init_weight({F, C, k, k}, C * k * k, F * k * k, init, gen, c.dtype));
  b1 = register_parameter("b1", zeros({F}, c.dtype), false);
  W2 = register_parameter(
      "W2", init_weight({pooled, c.hidden_dim}, pooled, c.hidden_dim, init, gen, c.dtype));
  b2 = register_parameter("b2", zeros({c.hidden_dim}, c.dtype), false);
  W3 = register_parameter("W3", init_weight({c.hidden_dim, c.num_classes}, c.hidden_dim,
                                            c.num_classes, init, gen, c.dtype));
  b3 = register_parameter("b3", zeros({c.num_classes}, c.dtype), false);
}

Tensor ThreeLayerConvNet::forward(const Tensor& X) {
  const auto [C, H, W] = cfg_.input_dim;
  if (X.dim() != 4 || X.shape()[1] != C || X.shape()[2] != H || X.shape()[3] != W)
    throw std::invalid_argument(
        fmt::format("ThreeLayerConvNet: expected input (N, {}, {}, {}), got {}", C, H, W,
                    to_string(X.shape())));
  Tensor h = max_pool2d(relu(conv2d(X, W1, b1, 1, (cfg_.filter_size - 1) / 2)), 2, 2);
  h = relu(affine(h.reshape({X.shape()[0], -1}), W2, b2));
  return affine(h, W3, b3);
}

std::string ThreeLayerConvNet::describe() const {
  const auto [C, H, W] = cfg_.input_dim;
  return fmt::format("ThreeLayerConvNet(({}, {}, {}), {} filters {}x{}, hidden {}, {} classes)", C,
                     H, W, cfg_.num_filters, cfg_.filter_size, cfg_.filter_size, cfg_.hidden_dim,
                     cfg_.num_classes);
}

}  // namespace dagrad::nn
