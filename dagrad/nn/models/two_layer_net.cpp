#include "dagrad/nn/models/two_layer_net.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/nn/init.h"

namespace dagrad::nn {

TwoLayerNet::TwoLayerNet(const TwoLayerNetConfig& c) : cfg_(c) {
  reg = c.reg;
  Generator gen(c.seed);
  const Init init{InitScheme::gaussian, c.weight_scale};
  W1 = register_parameter("W1", init_weight({c.input_dim, c.hidden_dim}, c.input_dim, c.hidden_dim,
                                            init, gen, c.dtype));
  b1 = register_parameter("b1", zeros({c.hidden_dim}, c.dtype), false);
  W2 = register_parameter("W2", init_weight({c.hidden_dim, c.num_classes}, c.hidden_dim,
                                            c.num_classes, init, gen, c.dtype));
  b2 = register_parameter("b2", zeros({c.num_classes}, c.dtype), false);
}

Tensor TwoLayerNet::forward(const Tensor& X) {
  Tensor x = X.dim() == 2 ? X : X.reshape({X.shape()[0], -1});
  if (x.shape()[1] != cfg_.input_dim)
    throw std::invalid_argument(
        fmt::format("TwoLayerNet: input of shape {} does not flatten to (N, {})",
                    to_string(X.shape()), cfg_.input_dim));
  return affine(relu(affine(x, W1, b1)), W2, b2);
}

std::string TwoLayerNet::describe() const {
  return fmt::format("TwoLayerNet({} -> {} -> {})", cfg_.input_dim, cfg_.hidden_dim,
                     cfg_.num_classes);
}

}  // namespace dagrad::nn
