#include "dagrad/nn/norm.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/norm.h"

namespace dagrad::nn {

BatchNorm::BatchNorm(int64_t features, bool spatial, double momentum, double eps, Dtype dtype,
                     bool relu)
    : features_(features), spatial_(spatial), relu_(relu), momentum_(momentum), eps_(eps) {
  gamma = register_parameter("gamma", ones({features}, dtype), false);
  beta = register_parameter("beta", zeros({features}, dtype), false);
  running_mean = register_buffer("running_mean", zeros({features}, dtype));
  running_var = register_buffer("running_var", ones({features}, dtype));
}

Tensor BatchNorm::forward(const Tensor& x) {
  const int want = spatial_ ? 4 : 2;
  if (x.dim() != want || x.shape()[1] != features_)
    throw std::invalid_argument(
        fmt::format("{}({}): expected input of shape {}, got {}", type_name(), features_,
                    spatial_ ? "(N, C, H, W)" : "(N, D)", to_string(x.shape())));
  if (is_training()) ++num_batches_tracked;
  return (relu_ ? batch_norm_relu : batch_norm)(x, gamma, beta, running_mean, running_var,
                                                is_training(), momentum_, eps_);
}

std::string BatchNorm::type_name() const {
  return fmt::format("BatchNorm{}{}", relu_ ? "ReLU" : "", spatial_ ? "2d" : "1d");
}

std::string BatchNorm::describe() const { return fmt::format("{}({})", type_name(), features_); }

LayerNorm::LayerNorm(int64_t features, double eps, Dtype dtype) : features_(features), eps_(eps) {
  gamma = register_parameter("gamma", ones({features}, dtype), false);
  beta = register_parameter("beta", zeros({features}, dtype), false);
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, gamma, beta, eps_); }

std::string LayerNorm::describe() const { return fmt::format("LayerNorm({})", features_); }

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, Dtype dtype)
    : groups_(groups), channels_(channels), eps_(eps) {
  if (groups <= 0 || channels <= 0 || channels % groups != 0)
    throw std::invalid_argument(
        fmt::format("GroupNorm: {} channels cannot be split into {} groups", channels, groups));
  gamma = register_parameter("gamma", ones({channels}, dtype), false);
  beta = register_parameter("beta", zeros({channels}, dtype), false);
}

Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, groups_, gamma, beta, eps_); }

std::string GroupNorm::describe() const {
  return fmt::format("GroupNorm({}, {})", groups_, channels_);
}

LocalResponseNorm::LocalResponseNorm(int64_t size, double alpha, double beta, double k)
    : size_(size), alpha_(alpha), beta_(beta), k_(k) {
  if (size <= 0)
    throw std::invalid_argument(
        fmt::format("LocalResponseNorm: size must be positive, got {}", size));
}

Tensor LocalResponseNorm::forward(const Tensor& x) {
  return local_response_norm(x, size_, alpha_, beta_, k_);
}

std::string LocalResponseNorm::describe() const {
  return fmt::format("LocalResponseNorm({}, alpha={}, beta={}, k={})", size_, alpha_, beta_, k_);
}

}  // namespace dagrad::nn
