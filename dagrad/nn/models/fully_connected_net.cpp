#include "dagrad/nn/models/fully_connected_net.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/dropout.h"
#include "dagrad/autograd/ops/linalg.h"
#include "dagrad/autograd/ops/norm.h"
#include "dagrad/nn/init.h"

namespace dagrad::nn {

FullyConnectedNet::FullyConnectedNet(const FullyConnectedNetConfig& c)
    : cfg_(c), dropout_gen_(c.seed + 1) {
  register_generator("dropout_rng", dropout_gen_);
  reg = c.reg;
  if (c.normalization != "" && c.normalization != "batchnorm" && c.normalization != "layernorm")
    throw std::invalid_argument(fmt::format(
        "FullyConnectedNet: unknown normalization '{}' (expected batchnorm, layernorm or none)",
        c.normalization));
  if (!(c.dropout_keep_ratio > 0.0 && c.dropout_keep_ratio <= 1.0))
    throw std::invalid_argument(fmt::format(
        "FullyConnectedNet: dropout_keep_ratio must be in (0, 1], got {}", c.dropout_keep_ratio));
  Generator gen(c.seed);
  const Init init{InitScheme::gaussian, c.weight_scale};
  std::vector<int64_t> dims = {c.input_dim};
  dims.insert(dims.end(), c.hidden_dims.begin(), c.hidden_dims.end());
  dims.push_back(c.num_classes);
  const std::size_t L = dims.size() - 1;
  for (std::size_t i = 0; i < L; ++i) {
    const std::string k = std::to_string(i + 1);
    W_.push_back(register_parameter(
        "W" + k, init_weight({dims[i], dims[i + 1]}, dims[i], dims[i + 1], init, gen, c.dtype)));
    b_.push_back(register_parameter("b" + k, zeros({dims[i + 1]}, c.dtype), false));
    if (i + 1 < L && !c.normalization.empty()) {
      gamma_.push_back(register_parameter("gamma" + k, ones({dims[i + 1]}, c.dtype), false));
      beta_.push_back(register_parameter("beta" + k, zeros({dims[i + 1]}, c.dtype), false));
      if (c.normalization == "batchnorm") {
        running_mean_.push_back(register_buffer("running_mean" + k, zeros({dims[i + 1]}, c.dtype)));
        running_var_.push_back(register_buffer("running_var" + k, ones({dims[i + 1]}, c.dtype)));
      }
    }
  }
}

Tensor FullyConnectedNet::forward(const Tensor& X) {
  Tensor h = X.dim() == 2 ? X : X.reshape({X.shape()[0], -1});
  if (h.shape()[1] != cfg_.input_dim)
    throw std::invalid_argument(
        fmt::format("FullyConnectedNet: input of shape {} does not flatten to (N, {})",
                    to_string(X.shape()), cfg_.input_dim));
  const std::size_t L = W_.size();
  if (cfg_.normalization == "batchnorm" && is_training()) ++num_batches_tracked;
  for (std::size_t i = 0; i + 1 < L; ++i) {
    h = affine(h, W_[i], b_[i]);
    if (cfg_.normalization == "batchnorm")
      h = batch_norm(h, gamma_[i], beta_[i], running_mean_[i], running_var_[i], is_training(), 0.9,
                     1e-5);
    else if (cfg_.normalization == "layernorm")
      h = layer_norm(h, gamma_[i], beta_[i], 1e-5);
    h = relu(h);
    if (cfg_.dropout_keep_ratio < 1.0)
      h = dropout(h, 1.0 - cfg_.dropout_keep_ratio, is_training(), dropout_gen_);
  }
  return affine(h, W_[L - 1], b_[L - 1]);
}

std::string FullyConnectedNet::describe() const {
  std::string dims = std::to_string(cfg_.input_dim);
  for (int64_t d : cfg_.hidden_dims) dims += fmt::format(" -> {}", d);
  dims += fmt::format(" -> {}", cfg_.num_classes);
  return fmt::format(
      "FullyConnectedNet({}{}{})", dims,
      cfg_.normalization.empty() ? "" : ", " + cfg_.normalization,
      cfg_.dropout_keep_ratio < 1.0 ? fmt::format(", keep {}", cfg_.dropout_keep_ratio) : "");
}

}  // namespace dagrad::nn
