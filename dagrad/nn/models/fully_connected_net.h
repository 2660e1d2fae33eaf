// FullyConnectedNet (cs231n): {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) -
// affine - softmax. Parameters W1..WL, b1..bL, and gamma_i/beta_i with normalization; batch
// norm keeps running_mean_i/running_var_i buffers.
#pragma once
#include <string>
#include <vector>

#include "dagrad/autograd/random.h"
#include "dagrad/nn/module.h"

namespace dagrad::nn {

struct FullyConnectedNetConfig {
  std::vector<int64_t> hidden_dims = {100, 100};
  int64_t input_dim = 3 * 32 * 32;
  int64_t num_classes = 10;
  double dropout_keep_ratio = 1.0;  // 1 = no dropout (cs231n's convention: KEEP probability)
  std::string normalization;        // "", "batchnorm" or "layernorm"
  double reg = 0.0;
  double weight_scale = 1e-2;
  Dtype dtype = float32;
  uint64_t seed = 0;  // initialization and dropout masks
};

class FullyConnectedNet : public Classifier {
 public:
  explicit FullyConnectedNet(const FullyConnectedNetConfig& config = {});
  Tensor forward(const Tensor& X) override;
  std::string type_name() const override { return "FullyConnectedNet"; }
  std::string describe() const override;
  int num_layers() const { return static_cast<int>(W_.size()); }
  const FullyConnectedNetConfig& config() const { return cfg_; }
  // With batch norm: training-mode forward passes, as in nn::BatchNorm.
  int64_t num_batches_tracked = 0;

 private:
  FullyConnectedNetConfig cfg_;
  std::vector<Tensor> W_, b_, gamma_, beta_, running_mean_, running_var_;
  Generator dropout_gen_;
};

}  // namespace dagrad::nn
